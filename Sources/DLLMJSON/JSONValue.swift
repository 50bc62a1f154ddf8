/// A parsed JSON value.
///
/// - Objects keep their members in file order as `(key, value)` pairs. Keys compare by
///   their UTF-8 bytes, never by Swift's canonical string equivalence.
/// - Numbers written without fraction or exponent are integers: ``integer(_:)`` when they
///   fit in `Int64`, else ``bigInteger(_:)`` holding the exact decimal text (sign and
///   digits as written). Every other number is a ``double(_:)``, rounded as `strtod` does.
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    /// An integer outside `Int64`'s range, as its decimal text (e.g. `"-18446744073709551617"`).
    case bigInteger(String)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    /// Member lookup for objects: the first member whose key has the same UTF-8 bytes.
    /// Setting replaces that member's value in place, appends a new member, or (with `nil`)
    /// removes every member with the key; setting on anything but an object does nothing.
    public subscript(key: String) -> JSONValue? {
        get {
            guard case .object(let members) = self else { return nil }
            for member in members where member.key.utf8.elementsEqual(key.utf8) { return member.value }
            return nil
        }
        set {
            guard case .object(var members) = self else { return }
            let index = members.firstIndex { $0.key.utf8.elementsEqual(key.utf8) }
            if let newValue {
                if let index { members[index].value = newValue } else { members.append((key, newValue)) }
            } else {
                members.removeAll { $0.key.utf8.elementsEqual(key.utf8) }
            }
            self = .object(members)
        }
    }

    public var isNull: Bool { if case .null = self { return true } else { return false } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var objectMembers: [(key: String, value: JSONValue)]? {
        if case .object(let members) = self { return members } else { return nil }
    }

    /// The value as an `Int64` when it is an integer that fits.
    public var int64Value: Int64? { if case .integer(let n) = self { return n } else { return nil } }

    /// The value as an `Int` when it is an integer that fits.
    public var intValue: Int? { int64Value.flatMap { Int(exactly: $0) } }

    /// Any number as a `Double` (integers converted, big integers rounded to nearest).
    public var doubleValue: Double? {
        switch self {
        case .double(let d): return d
        case .integer(let n): return Double(n)
        case .bigInteger(let text): return Double(text)
        default: return nil
        }
    }

    /// Whether the value is any kind of number.
    public var isNumber: Bool {
        switch self {
        case .integer, .bigInteger, .double: return true
        default: return false
        }
    }

    /// Short name of the JSON type, for error messages ("object", "number 1.5", ...).
    public var typeName: String {
        switch self {
        case .object: return "object"
        case .array: return "array"
        case .string: return "string"
        case .integer(let n): return "number \(n)"
        case .bigInteger(let text): return "number \(text)"
        case .double(let d): return "number \(d)"
        case .bool(let b): return "boolean \(b)"
        case .null: return "null"
        }
    }
}

extension JSONValue: Equatable {
    /// Structural equality: members compared in order, keys by UTF-8 bytes, and an
    /// integer never equals a double (`1` and `1.0` are different values here).
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.integer(a), .integer(b)): return a == b
        case let (.bigInteger(a), .bigInteger(b)): return a == b
        case let (.double(a), .double(b)): return a.bitPattern == b.bitPattern || a == b
        case let (.string(a), .string(b)): return a.utf8.elementsEqual(b.utf8)
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key.utf8.elementsEqual($1.key.utf8) && $0.value == $1.value }
        default: return false
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .null }
}
