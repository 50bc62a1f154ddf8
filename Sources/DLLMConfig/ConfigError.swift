/// A configuration mistake, located so the user can fix it: file, line, key.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int?
    public let key: String?
    public let message: String

    public init(file: String, line: Int? = nil, key: String? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        if let key { return "\(location): key \"\(key)\": \(message)" }
        return "\(location): \(message)"
    }
}
