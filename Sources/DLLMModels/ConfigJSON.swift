import DLLMJSON
import Foundation

/// `config.json` and `generation_config.json` through DLLMJSON: read once into a
/// ``JSONValue`` (decoded into the architecture's configuration from that tree), written as
/// `transformers`' `PretrainedConfig.to_json_string` writes them
/// (`json.dumps(indent=2, sort_keys=True) + "\n"`).
public enum ConfigJSON {
    /// `config.json` is read as `json.load` reads it: the last of duplicate keys wins.
    public static let options = JSONParser.Options(duplicateKeys: .keepLast, loneSurrogates: .reject, maximumDepth: 128)

    /// Parses a configuration file's bytes; errors name `path`, the line and the column.
    public static func parse(_ data: Data, path: String) throws -> JSONValue {
        var options = options
        options.file = path
        do {
            return try JSONParser.parse(data, options: options)
        } catch let error as JSONError {
            throw ModelError.unreadableConfig(path: path, reason: "not valid JSON (\(error.detail))")
        }
    }

    /// The text `transformers` writes for a configuration.
    public static func text(_ value: JSONValue) -> Data {
        Data(JSONWriter.bytes(value, style: .indented(2), sortedKeys: true) + [0x0A])
    }

    /// The same for a dictionary of JSON-compatible values (see ``JSONValue/init(foundationObject:)``);
    /// `path` names the file in the error when a value is not one.
    public static func text(_ dictionary: [String: Any], path: String) throws -> Data {
        guard let value = JSONValue(foundationObject: dictionary) else {
            throw ModelError.unreadableConfig(path: path, reason: "the configuration holds a value JSON cannot represent")
        }
        return text(value)
    }
}

extension JSONValue {
    /// The value as Foundation-style objects (`[String: Any]`, `[Any]`, `String`, `Int`,
    /// `Double`, `Bool`, `NSNull`), for code that still passes configurations around as dictionaries.
    public var foundationObject: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return b
        case .integer(let n): return Int(exactly: n) ?? Double(n)
        case .bigInteger: return doubleValue ?? Double.nan
        case .double(let d): return d
        case .string(let s): return s
        case .array(let items): return items.map(\.foundationObject)
        case .object(let members):
            var dictionary: [String: Any] = [:]
            for member in members { dictionary[member.key] = member.value.foundationObject }
            return dictionary
        }
    }

    /// A value from Foundation-style objects (the inverse of ``foundationObject``); nil for
    /// anything JSON cannot hold.
    public init?(foundationObject object: Any) {
        switch object {
        case is NSNull: self = .null
        case let number as NSNumber where type(of: object) is NSNumber.Type:
            // A number that came through Foundation (e.g. `JSONSerialization`) carries its kind in its type code.
            switch String(cString: number.objCType) {
            case "c", "B": self = .bool(number.boolValue)
            case "f", "d": self = .double(number.doubleValue)
            default: self = .integer(number.int64Value)
            }
        case let b as Bool: self = .bool(b)
        case let n as any BinaryInteger:
            guard let exact = Int64(exactly: n) else { return nil }
            self = .integer(exact)
        case let d as Double: self = .double(d)
        case let f as any BinaryFloatingPoint: self = .double(Double(f))
        case let s as String: self = .string(s)
        case let items as [Any]:
            var values: [JSONValue] = []
            for item in items {
                guard let value = JSONValue(foundationObject: item) else { return nil }
                values.append(value)
            }
            self = .array(values)
        case let dictionary as [String: Any]:
            var members: [(key: String, value: JSONValue)] = []
            for key in dictionary.keys.sorted() {
                guard let value = JSONValue(foundationObject: dictionary[key]!) else { return nil }
                members.append((key, value))
            }
            self = .object(members)
        default: return nil
        }
    }
}
