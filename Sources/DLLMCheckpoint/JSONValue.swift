/// A minimal JSON value for safetensors headers and shard indexes.
///
/// Own parser instead of `JSONSerialization` so that object key order is kept, duplicate keys
/// are detected, integers are never confused with booleans or floats, and nesting depth is
/// bounded (a hostile header cannot overflow the stack).
indirect enum JSONValue: Equatable {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    /// The number's literal text, interpreted on demand (see ``integer``).
    case number(String)
    case bool(Bool)
    case null

    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case let (.array(a), .array(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.number(a), .number(b)): return a == b
        case let (.bool(a), .bool(b)): return a == b
        case (.null, .null): return true
        default: return false
        }
    }

    /// The value as an `Int` if it is an integer literal (no fraction or exponent) that fits.
    var integer: Int? {
        guard case let .number(text) = self, !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else {
            return nil
        }
        return Int(text)
    }

    /// Short name of the JSON type, for error messages.
    var typeName: String {
        switch self {
        case .object: return "object"
        case .array: return "array"
        case .string: return "string"
        case let .number(text): return "number \(text)"
        case let .bool(value): return "boolean \(value)"
        case .null: return "null"
        }
    }

    /// Member lookup for objects (first match; the parser rejects duplicates).
    subscript(key: String) -> JSONValue? {
        guard case let .object(members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }
}

/// Why a JSON text could not be parsed.
enum JSONParseError: Error, Equatable {
    /// Malformed text; `offset` is the byte position.
    case syntax(String, offset: Int)
    /// An object has the same key twice; `depth` 1 is the top-level object.
    case duplicateKey(String, depth: Int)

    var detail: String {
        switch self {
        case let .syntax(message, offset): return "\(message) at byte \(offset)"
        case let .duplicateKey(key, _): return "duplicate key \"\(key)\""
        }
    }
}
