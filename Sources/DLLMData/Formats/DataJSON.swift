import DLLMJSON

/// JSON as the `json` builder of Hugging Face `datasets` reads it (through Python's `json`):
/// duplicate keys keep the last value, a lone UTF-16 surrogate in a `\u` escape becomes
/// U+FFFD (Python accepts it; a Swift string cannot hold it), integers that do not fit
/// in 64 bits become doubles.
enum DataJSON {
    static let options = JSONParser.Options(duplicateKeys: .keepLast, loneSurrogates: .replace, maximumDepth: 128)

    /// Parses one value and converts it.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> DataValue {
        DataValue(try JSONParser.parse(bytes, options: options))
    }

    /// Parses one document; for a top-level array, also the byte offset at which each element starts.
    static func parseDocument(_ bytes: UnsafeRawBufferPointer) throws -> (value: DataValue, elementOffsets: [Int]?) {
        let (value, offsets) = try JSONParser.parseDocument(bytes, options: options)
        return (DataValue(value), offsets)
    }
}

extension DataValue {
    /// The dataset value of a parsed JSON value (see ``DataJSON`` for the conversions).
    init(_ json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .integer(let n): self = .int(n)
        case .bigInteger: self = .double(json.doubleValue ?? .nan)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let items): self = .list(items.map(DataValue.init))
        case .object(let members):
            var fields: [String: DataValue] = [:]
            fields.reserveCapacity(members.count)
            for member in members { fields[member.key] = DataValue(member.value) }
            self = .object(fields)
        }
    }
}
