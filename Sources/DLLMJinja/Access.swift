/// `a.b`, `a[b]` and `a[i:j:k]` with jinja2's sandboxed lookup rules: attribute access
/// tries the Python attribute (a method) then the item, subscription the item then the
/// attribute; a missing one is Undefined, and only using an Undefined further fails.
enum Access {
    static func attribute(_ base: JinjaValue, _ name: String, _ interpreter: Interpreter) throws -> JinjaValue {
        if case .undefined(let hint) = base { throw interpreter.fail(hint) }
        if let method = Methods.bound(base, name) { return method }
        switch base {
        case .dict(let d):
            return d[name] ?? .undefined(hint: "'dict object' has no attribute '\(name)'")
        case .namespace(let ns):
            return ns.attributes[name] ?? .undefined(hint: "'Namespace object' has no attribute '\(name)'")
        default:
            return .undefined(hint: "'\(base.typeName) object' has no attribute '\(name)'")
        }
    }

    static func item(_ base: JinjaValue, _ index: JinjaValue, _ interpreter: Interpreter) throws -> JinjaValue {
        if case .undefined(let hint) = base { throw interpreter.fail(hint) }
        switch (base, index) {
        case (.dict(let d), .string(let k)):
            if let v = d[k] { return v }
        case (.namespace(let ns), .string(let k)):
            if let v = ns.attributes[k] { return v }
        case (.list(let a), _), (.tuple(let a), _):
            if let i = integerIndex(index) {
                let j = i < 0 ? i + a.count : i
                if j >= 0 && j < a.count { return a[j] }
                return .undefined(hint: "'\(base.typeName) object' has no element \(i)")
            }
        case (.string(let s), _):
            if let i = integerIndex(index) {
                let scalars = Array(s.unicodeScalars)
                let j = i < 0 ? i + scalars.count : i
                if j >= 0 && j < scalars.count { return .string(String(scalars[j])) }
                return .undefined(hint: "'str object' has no element \(i)")
            }
        default:
            break
        }
        if case .string(let name) = index { return try attribute(base, name, interpreter) }
        return .undefined(hint: "'\(base.typeName) object' has no element \((try? PythonFormatting.repr(index)) ?? "?")")
    }

    private static func integerIndex(_ v: JinjaValue) -> Int? {
        switch v {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    /// Python slicing of lists, tuples and strings (by code point).
    static func slice(_ base: JinjaValue, start: JinjaValue?, stop: JinjaValue?, step: JinjaValue?,
                      _ interpreter: Interpreter) throws -> JinjaValue {
        if case .undefined(let hint) = base { throw interpreter.fail(hint) }
        func bound(_ v: JinjaValue?) throws -> Int? {
            guard let v else { return nil }
            guard let i = integerIndex(v) else { throw interpreter.fail("slice indices must be integers or None") }
            return i
        }
        let st = try bound(step) ?? 1
        guard st != 0 else { throw interpreter.fail("slice step cannot be zero") }
        func indices(_ n: Int) throws -> [Int] {
            func clamp(_ i: Int?, _ dflt: Int, low: Int, high: Int) -> Int {
                guard var i else { return dflt }
                if i < 0 { i += n }
                return Swift.min(Swift.max(i, low), high)
            }
            var out: [Int] = []
            if st > 0 {
                let a = clamp(try bound(start), 0, low: 0, high: n), b = clamp(try bound(stop), n, low: 0, high: n)
                var i = a
                while i < b { out.append(i); i += st }
            } else {
                let a = clamp(try bound(start), n - 1, low: -1, high: n - 1), b = clamp(try bound(stop), -1, low: -1, high: n - 1)
                var i = a
                // An explicit stop that was negative past the start clamps to -1 (exclusive).
                while i > b { out.append(i); i += st }
            }
            return out
        }
        switch base {
        case .list(let a): return .list(try indices(a.count).map { a[$0] })
        case .tuple(let a): return .tuple(try indices(a.count).map { a[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            var v = String.UnicodeScalarView()
            for i in try indices(scalars.count) { v.append(scalars[i]) }
            return .string(String(v))
        default:
            throw interpreter.fail("'\(base.typeName)' object is not subscriptable")
        }
    }
}
