import DLLMJSON
import Foundation

/// A value a template sees: the JSON-like data `transformers` passes to jinja2
/// (`None`, bools, ints, floats, strings, lists, dicts with string keys), plus
/// jinja2's `Undefined`, namespaces, macros and built-in callables.
public indirect enum JinjaValue: Sendable {
    /// jinja2's default `Undefined`: empty when printed, falsy, iterates as empty;
    /// `hint` says what was looked up, for the error raised when it is used further.
    case undefined(hint: String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([JinjaValue])
    /// A Python tuple (printed with parentheses; otherwise a list).
    case tuple([JinjaValue])
    case dict(JinjaDict)
    /// `namespace(...)`: the one mutable object (`{% set ns.x = … %}`).
    case namespace(JinjaNamespace)
    case callable(JinjaCallable)

    public static func undefined(_ name: String) -> JinjaValue { .undefined(hint: "'\(name)' is undefined") }

    /// Parses JSON text as Python's `json.loads` does, through DLLMJSON: object key order
    /// kept, the last of duplicate keys wins, integers that fit in `Int` become `.int` and
    /// other numbers `.double`. Errors carry the byte offset.
    public static func parseJSON(_ text: String) throws -> JinjaValue {
        let options = JSONParser.Options(duplicateKeys: .keepLast, maximumDepth: maximumNesting, allowsByteOrderMark: false)
        do {
            return JinjaValue(json: try JSONParser.parse(text, options: options))
        } catch let error as JSONError {
            throw JinjaError.invalidJSON(message: error.message, offset: error.offset)
        }
    }

    /// The template value of a parsed JSON value.
    init(json: JSONValue) {
        switch json {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .integer(let n): self = Int(exactly: n).map(JinjaValue.int) ?? .double(Double(n))
        case .bigInteger: self = .double(json.doubleValue ?? .nan)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let items): self = .list(items.map(JinjaValue.init(json:)))
        case .object(let members):
            var dict = JinjaDict()
            for member in members { dict[member.key] = JinjaValue(json: member.value) }
            self = .dict(dict)
        }
    }

    /// Printing, comparing and `tojson` recurse into containers at most this deep (Python
    /// would stop with RecursionError), so a template building a very deep or cyclic value
    /// (a namespace holding itself) gets an error, not a stack overflow.
    public static let maximumNesting = 256

    /// Whether the value nests at most `maximumNesting` containers deep, visiting at most
    /// `budget` values (a value built by doubling a shared list is refused rather than walked).
    func nestingIsBounded(budget: Int = 1_000_000) -> Bool {
        var remaining = budget
        func walk(_ v: JinjaValue, _ depth: Int) -> Bool {
            remaining -= 1
            guard remaining >= 0, depth <= JinjaValue.maximumNesting else { return false }
            switch v {
            case .list(let a), .tuple(let a): return a.allSatisfy { walk($0, depth + 1) }
            case .dict(let d): return d.items.allSatisfy { walk($0.1, depth + 1) }
            case .namespace(let n): return n.attributes.items.allSatisfy { walk($0.1, depth + 1) }
            default: return true
            }
        }
        return walk(self, 0)
    }

    public var isUndefined: Bool { if case .undefined = self { return true } else { return false } }
    public var isNone: Bool { if case .none = self { return true } else { return false } }

    /// Python truthiness.
    public var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.unicodeScalars.isEmpty
        case .list(let a), .tuple(let a): return !a.isEmpty
        case .dict(let d): return !d.isEmpty
        case .namespace, .callable: return true
        }
    }

    /// Python's type name, for error messages (`'dict object' has no attribute …`).
    public var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .callable: return "function"
        }
    }
}

extension JinjaValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(nilLiteral: ()) { self = .none }
    public init(arrayLiteral elements: JinjaValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, JinjaValue)...) {
        var d = JinjaDict()
        for (k, v) in elements { d[k] = v }
        self = .dict(d)
    }
}

/// A dict with string keys that keeps insertion order (Python 3.7+ `dict`).
public struct JinjaDict: Sendable, Equatable {
    public private(set) var keys: [String] = []
    private var storage: [String: JinjaValue] = [:]
    public init() {}
    public var isEmpty: Bool { keys.isEmpty }
    public var count: Int { keys.count }
    public subscript(key: String) -> JinjaValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }
    public var items: [(String, JinjaValue)] { keys.map { ($0, storage[$0]!) } }
    public static func == (a: JinjaDict, b: JinjaDict) -> Bool { a.equals(b, depth: 0) }

    func equals(_ b: JinjaDict, depth: Int) -> Bool {
        guard count == b.count else { return false }
        for (k, v) in items {
            guard let w = b[k], pythonEquals(v, w, depth: depth) else { return false }
        }
        return true
    }
}

/// `namespace(...)`: attributes assignable from any scope.
// @unchecked Sendable: a namespace is made by `namespace()` during one render and read and
// assigned only by that render's interpreter, on its thread; a render returns a String.
public final class JinjaNamespace: @unchecked Sendable {
    public var attributes: JinjaDict
    public init(_ attributes: JinjaDict) { self.attributes = attributes }
}

/// A built-in function or a bound method or a macro.
// @unchecked Sendable: built-ins capture nothing mutable; macros and `loop.cycle` capture
// their render's `Scope`, and are called only by that render's interpreter, on its thread.
public struct JinjaCallable: @unchecked Sendable {
    public let name: String
    let call: (_ args: [JinjaValue], _ kwargs: JinjaDict, _ interpreter: Interpreter) throws -> JinjaValue
    init(name: String, call: @escaping (_ args: [JinjaValue], _ kwargs: JinjaDict, _ interpreter: Interpreter) throws -> JinjaValue) {
        self.name = name
        self.call = call
    }
}

/// Python `==` between template values (1 == 1.0 == True; lists and dicts by content;
/// strings by code points).
func pythonEquals(_ a: JinjaValue, _ b: JinjaValue, depth: Int = 0) -> Bool {
    guard depth < JinjaValue.maximumNesting else { return false }
    switch (a, b) {
    case (.undefined, .undefined), (.none, .none): return true
    case (.string(let x), .string(let y)): return x.unicodeScalars.elementsEqual(y.unicodeScalars)
    case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { pythonEquals($0, $1, depth: depth + 1) }
    case (.dict(let x), .dict(let y)): return x.equals(y, depth: depth + 1)
    case (.namespace(let x), .namespace(let y)): return x === y
    default:
        if let x = a.numeric, let y = b.numeric {
            switch (x, y) {
            case (.int(let i), .int(let j)): return i == j
            default: return x.asDouble == y.asDouble
            }
        }
        return false
    }
}

/// Numbers as Python sees them (bool is an int).
enum PyNumber {
    case int(Int)
    case double(Double)
    var asDouble: Double {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        }
    }
}

extension JinjaValue {
    var numeric: PyNumber? {
        switch self {
        case .bool(let b): return .int(b ? 1 : 0)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        default: return nil
        }
    }
}
