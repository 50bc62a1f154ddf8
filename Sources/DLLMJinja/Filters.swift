import Foundation

/// jinja2's built-in filters that chat templates use, plus transformers' `tojson`.
/// Each mirrors the jinja2 3.1 function of the same name (`do_trim`, `do_default`, …).
enum Filters {
    static let names: Set<String> = [
        "trim", "length", "count", "tojson", "upper", "lower", "capitalize", "title", "default", "d", "first", "last",
        "join", "list", "selectattr", "rejectattr", "select", "reject", "map", "items", "replace", "string", "int",
        "float", "round", "abs", "safe", "indent", "reverse", "sort", "unique", "sum",
    ]

    static func apply(_ name: String, _ value: JinjaValue, args: [JinjaValue], kwargs: JinjaDict,
                      _ interpreter: Interpreter) throws -> JinjaValue {
        func bind(_ parameters: [(String, JinjaValue?)]) throws -> [JinjaValue] {
            try Arguments.bind(name, args, kwargs, parameters, interpreter)
        }
        func str(_ v: JinjaValue) throws -> String { try PythonFormatting.str(v) }
        switch name {
        case "trim":
            let p = try bind([("chars", JinjaValue.none)])
            return .string(try PythonString.strip(str(value), chars: p[0].isNone ? nil : try str(p[0]), leading: true, trailing: true))
        case "length", "count":
            _ = try bind([])
            switch value {
            case .string(let s): return .int(s.unicodeScalars.count)
            case .list(let a), .tuple(let a): return .int(a.count)
            case .dict(let d): return .int(d.count)
            case .undefined: return .int(0)
            default: throw interpreter.fail("object of type '\(value.typeName)' has no len()")
            }
        case "tojson":
            let p = try bind([("ensure_ascii", .bool(false)), ("indent", JinjaValue.none), ("separators", JinjaValue.none), ("sort_keys", .bool(false))])
            var indent: String?
            switch p[1] {
            case .none: indent = nil
            case .int(let n): indent = String(repeating: " ", count: Swift.max(0, n))
            case .string(let s): indent = s
            default: throw interpreter.fail("tojson: indent must be an int or a string")
            }
            var separators: (String, String)?
            switch p[2] {
            case .none: separators = nil
            case .list(let a) where a.count == 2, .tuple(let a) where a.count == 2: separators = (try str(a[0]), try str(a[1]))
            default: throw interpreter.fail("tojson: separators must be a pair of strings")
            }
            let dumper = JSONDumps(ensureASCII: p[0].truthy, indent: indent, separators: separators, sortKeys: p[3].truthy)
            do { return .string(try dumper.dumps(value)) } catch let e as JSONDumpsError { throw interpreter.fail(e.message) }
        case "upper": _ = try bind([]); return .string(try PythonString.upper(str(value)))
        case "lower": _ = try bind([]); return .string(try PythonString.lower(str(value)))
        case "capitalize": _ = try bind([]); return .string(try PythonString.capitalize(str(value)))
        case "title": _ = try bind([]); return .string(try titleFilter(str(value)))
        case "default", "d":
            let p = try bind([("default_value", .string("")), ("boolean", .bool(false))])
            if value.isUndefined || (p[1].truthy && !value.truthy) { return p[0] }
            return value
        case "first":
            _ = try bind([])
            return try interpreter.iterate(value).first ?? .undefined(hint: "No first item, sequence was empty.")
        case "last":
            _ = try bind([])
            return try interpreter.iterate(value).last ?? .undefined(hint: "No last item, sequence was empty.")
        case "join":
            let p = try bind([("d", .string("")), ("attribute", JinjaValue.none)])
            var items = try interpreter.iterate(value)
            if !p[1].isNone { items = try items.map { try attributeGetter(p[1], interpreter)($0) } }
            return .string(try items.map(str).joined(separator: try str(p[0])))
        case "list":
            _ = try bind([])
            return .list(try interpreter.iterate(value))
        case "selectattr", "rejectattr", "select", "reject":
            let byAttribute = name.hasSuffix("attr")
            guard kwargs.isEmpty else { throw interpreter.unsupported("keyword arguments to '\(name)'") }
            var rest = args
            var getter: (JinjaValue) throws -> JinjaValue = { $0 }
            if byAttribute {
                guard !rest.isEmpty else { throw interpreter.fail("\(name) needs an attribute name") }
                getter = try attributeGetter(rest.removeFirst(), interpreter)
            }
            let keep = !name.hasPrefix("reject")
            var out: [JinjaValue] = []
            for item in try interpreter.iterate(value) {
                let v = try getter(item)
                let passes: Bool
                if rest.isEmpty {
                    passes = v.truthy
                } else {
                    guard case .string(let test) = rest[0] else { throw interpreter.fail("\(name): the test name must be a string") }
                    guard TestFunctions.names.contains(test) else { throw interpreter.unsupported("the '\(test)' test") }
                    passes = try TestFunctions.apply(test, v, args: Array(rest.dropFirst()), interpreter)
                }
                if passes == keep { out.append(item) }
            }
            return .list(out)
        case "map":
            let items = try interpreter.iterate(value)
            if let attribute = kwargs["attribute"] {
                for k in kwargs.keys where k != "attribute" && k != "default" {
                    throw interpreter.fail("map got an unexpected keyword argument '\(k)'")
                }
                let getter = try attributeGetter(attribute, interpreter)
                return .list(try items.map { item in
                    let v = try getter(item)
                    if v.isUndefined, let d = kwargs["default"] { return d }
                    return v
                })
            }
            guard case .string(let filter)? = args.first else { throw interpreter.fail("map needs a filter name or attribute=") }
            guard names.contains(filter) else { throw interpreter.unsupported("the '\(filter)' filter") }
            return .list(try items.map { try apply(filter, $0, args: Array(args.dropFirst()), kwargs: kwargs, interpreter) })
        case "items":
            _ = try bind([])
            switch value {
            case .dict(let d): return .list(d.items.map { .tuple([.string($0.0), $0.1]) })
            case .undefined: return .list([])
            default: throw interpreter.fail("can only get item pairs from a mapping, not \(value.typeName)")
            }
        case "replace":
            let p = try bind([("old", nil), ("new", nil), ("count", JinjaValue.none)])
            var count = -1
            if case .int(let c) = p[2] { count = c }
            return .string(try PythonString.replace(str(value), str(p[0]), str(p[1]), count: count))
        case "string", "safe":
            _ = try bind([])
            return .string(try str(value))
        case "int":
            let p = try bind([("default", .int(0)), ("base", .int(10))])
            guard case .int(let base) = p[1] else { throw interpreter.fail("int: base must be an integer") }
            return toInt(value, base: base) ?? p[0]
        case "float":
            let p = try bind([("default", .double(0))])
            return toDouble(value).map { .double($0) } ?? p[0]
        case "round":
            let p = try bind([("precision", .int(0)), ("method", .string("common"))])
            guard case .int(let precision) = p[0] else { throw interpreter.fail("round: precision must be an integer") }
            // Python's round(int, n) stays an int.
            if try str(p[1]) == "common", case .int(let i)? = value.numeric, precision >= 0 { return .int(i) }
            guard let x = value.numeric?.asDouble else { throw interpreter.fail("round: \(value.typeName) is not a number") }
            return .double(try round(x, precision: precision, method: str(p[1]), interpreter))
        case "abs":
            _ = try bind([])
            switch value.numeric {
            case .int(let i)?: guard i != Int.min else { throw interpreter.fail("integer overflow") }; return .int(Swift.abs(i))
            case .double(let d)?: return .double(Swift.abs(d))
            default: throw interpreter.fail("bad operand type for abs(): '\(value.typeName)'")
            }
        case "indent":
            let p = try bind([("width", .int(4)), ("first", .bool(false)), ("blank", .bool(false))])
            let indention: String
            switch p[0] {
            case .string(let s): indention = s
            case .int(let n): indention = String(repeating: " ", count: Swift.max(0, n))
            default: throw interpreter.fail("indent: width must be an int or a string")
            }
            return .string(try indent(str(value) + "\n", indention, first: p[1].truthy, blank: p[2].truthy))
        case "reverse":
            _ = try bind([])
            if case .string(let s) = value { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            return .list(try interpreter.iterate(value).reversed())
        case "sort":
            let p = try bind([("reverse", .bool(false)), ("case_sensitive", .bool(false)), ("attribute", JinjaValue.none)])
            let getter: (JinjaValue) throws -> JinjaValue = p[2].isNone ? { $0 } : try attributeGetter(p[2], interpreter)
            let items = try interpreter.iterate(value)
            let keys = try items.map { item -> JinjaValue in
                let k = try getter(item)
                if !p[1].truthy, case .string(let s) = k { return .string(s.lowercased()) }
                return k
            }
            var failure: Error?
            let order = Array(items.indices).sorted { i, j in
                do {
                    let c = try Operators.ordering(keys[i], keys[j], "<", interpreter)
                    if c != 0 { return p[0].truthy ? c > 0 : c < 0 }
                } catch { failure = error }
                return i < j
            }
            if let failure { throw failure }
            return .list(order.map { items[$0] })
        case "unique":
            let p = try bind([("case_sensitive", .bool(false)), ("attribute", JinjaValue.none)])
            let getter: (JinjaValue) throws -> JinjaValue = p[1].isNone ? { $0 } : try attributeGetter(p[1], interpreter)
            var seen: [JinjaValue] = [], out: [JinjaValue] = []
            for item in try interpreter.iterate(value) {
                var k = try getter(item)
                if !p[0].truthy, case .string(let s) = k { k = .string(s.lowercased()) }
                if !seen.contains(where: { pythonEquals($0, k) }) { seen.append(k); out.append(item) }
            }
            return .list(out)
        case "sum":
            let p = try bind([("attribute", JinjaValue.none), ("start", .int(0))])
            let getter: (JinjaValue) throws -> JinjaValue = p[0].isNone ? { $0 } : try attributeGetter(p[0], interpreter)
            var total = p[1]
            for item in try interpreter.iterate(value) { total = try Operators.binary("+", total, try getter(item), interpreter) }
            return total
        default:
            throw interpreter.unsupported("the '\(name)' filter")
        }
    }

    /// jinja2's `do_title`: words begin after `-`, whitespace, `(`, `{`, `[` or `<`; each word's
    /// first character is upper-cased and the rest lower-cased (unlike `str.title`).
    static func titleFilter(_ s: String) -> String {
        func isBoundary(_ c: Unicode.Scalar) -> Bool { c == "-" || c == "(" || c == "{" || c == "[" || c == "<" || isPythonSpace(c) }
        var out = ""
        var word = String.UnicodeScalarView()
        func flush() {
            guard let first = word.first else { return }
            out += String(first).uppercased() + String(String.UnicodeScalarView(word.dropFirst())).lowercased()
            word = String.UnicodeScalarView()
        }
        for c in s.unicodeScalars {
            if isBoundary(c) { flush(); out.unicodeScalars.append(c) } else { word.append(c) }
        }
        flush()
        return out
    }

    /// jinja2's `make_attrgetter`: "a.b.0" looks up each part with subscription rules.
    static func attributeGetter(_ attribute: JinjaValue, _ interpreter: Interpreter) throws -> (JinjaValue) throws -> JinjaValue {
        let parts: [JinjaValue]
        switch attribute {
        case .string(let s): parts = s.split(separator: ".", omittingEmptySubsequences: false).map { p in Int(p).map { .int($0) } ?? .string(String(p)) }
        case .int: parts = [attribute]
        default: throw interpreter.fail("attribute must be a string or an integer")
        }
        return { item in
            var v = item
            for part in parts { v = try Access.item(v, part, interpreter) }
            return v
        }
    }

    /// jinja2's `do_indent` (which appends "\n" before splitting lines).
    static func indent(_ s: String, _ indention: String, first: Bool, blank: Bool) -> String {
        var lines = PythonString.splitlines(s)
        var rv: String
        if blank {
            rv = lines.joined(separator: "\n" + indention)
        } else {
            rv = lines.isEmpty ? "" : lines.removeFirst()
            if !lines.isEmpty {
                rv += "\n" + lines.map { $0.isEmpty ? $0 : indention + $0 }.joined(separator: "\n")
            }
        }
        if first { rv = indention + rv }
        return rv
    }

    static func toInt(_ v: JinjaValue, base: Int) -> JinjaValue? {
        switch v {
        case .bool(let b): return .int(b ? 1 : 0)
        case .int(let i): return .int(i)
        case .double(let d):
            guard d.isFinite, Swift.abs(d) < 9.2e18 else { return nil }
            return .int(Int(d))
        case .string(let s):
            let t = PythonString.strip(s, chars: nil, leading: true, trailing: true).replacingOccurrences(of: "_", with: "")
            if let i = Int(t, radix: base) { return .int(i) }
            if let d = Double(t), d.isFinite, Swift.abs(d) < 9.2e18 { return .int(Int(d)) }
            return nil
        default: return nil
        }
    }

    static func toDouble(_ v: JinjaValue) -> Double? {
        switch v {
        case .bool(let b): return b ? 1 : 0
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .string(let s):
            let t = PythonString.strip(s, chars: nil, leading: true, trailing: true).replacingOccurrences(of: "_", with: "")
            switch t.lowercased() {
            case "inf", "+inf", "infinity", "+infinity": return .infinity
            case "-inf", "-infinity": return -.infinity
            case "nan", "+nan", "-nan": return .nan
            default: return Double(t)
            }
        default: return nil
        }
    }

    /// `do_round`: "common" is Python's `round` (correctly rounded, ties to even on the
    /// binary value), "ceil"/"floor" scale by 10^precision.
    static func round(_ x: Double, precision: Int, method: String, _ interpreter: Interpreter) throws -> Double {
        switch method {
        case "common":
            guard x.isFinite else { return x }
            if precision == 0 { return x.rounded(.toNearestOrEven) }
            if precision > 0 && precision <= 300 {
                // printf rounds the exact binary value correctly, as CPython's round does.
                return Double(String(format: "%.\(precision)f", x)) ?? x
            }
            let m = Foundation.pow(10.0, Double(precision))
            return (x * m).rounded(.toNearestOrEven) / m
        case "ceil", "floor":
            let m = Foundation.pow(10.0, Double(precision))
            return (x * m).rounded(method == "ceil" ? .up : .down) / m
        default:
            throw interpreter.fail("method must be common, ceil or floor")
        }
    }
}
