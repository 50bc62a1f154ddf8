/// One cell of a dataset row, covering what JSON, CSV, text and Arrow columns can hold.
///
/// Mirrors the Python values a Hugging Face `datasets` row yields (`str`, `int`, `float`,
/// `bool`, `None`, `list`, `dict`); integers keep 64 bits, floats are `Double`.
public enum DataValue: Equatable, Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case list([DataValue])
    case object([String: DataValue])

    /// The JSON-ish name of the value's kind, used in error messages.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "bool"
        case .int: return "integer"
        case .double: return "float"
        case .string: return "string"
        case .list: return "list"
        case .object: return "object"
        }
    }

    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    public var intValue: Int64? {
        switch self {
        case let .int(v): return v
        case let .double(d) where d.rounded() == d && abs(d) < 9.0e18: return Int64(d)
        default: return nil
        }
    }

    public var listValue: [DataValue]? {
        if case let .list(l) = self { return l }
        return nil
    }

    public var objectValue: [String: DataValue]? {
        if case let .object(o) = self { return o }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .int(v): return String(v)
        case let .double(d): return String(d)
        case let .string(s): return "\"\(s)\""
        case let .list(l): return "[" + l.map(\.description).joined(separator: ", ") + "]"
        case let .object(o):
            return "{" + o.keys.sorted().map { "\"\($0)\": \(o[$0]!.description)" }.joined(separator: ", ") + "}"
        }
    }
}
