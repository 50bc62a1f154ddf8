import Foundation

/// Python's arithmetic and comparison operators on template values; operations on
/// Undefined fail with its message, as jinja2's default `Undefined` does.
enum Operators {
    static func unary(_ op: String, _ v: JinjaValue, _ interpreter: Interpreter) throws -> JinjaValue {
        if case .undefined(let hint) = v { throw interpreter.fail(hint) }
        switch (op, v.numeric) {
        case ("-", .int(let i)?):
            guard i != Int.min else { throw interpreter.fail("integer overflow") }
            return .int(-i)
        case ("-", .double(let d)?): return .double(-d)
        case ("+", .int(let i)?): return .int(i)
        case ("+", .double(let d)?): return .double(d)
        default: throw interpreter.fail("bad operand type for unary \(op): '\(v.typeName)'")
        }
    }

    static func binary(_ op: String, _ a: JinjaValue, _ b: JinjaValue, _ interpreter: Interpreter) throws -> JinjaValue {
        if case .undefined(let hint) = a { throw interpreter.fail(hint) }
        if case .undefined(let hint) = b { throw interpreter.fail(hint) }
        func typeError() -> JinjaError {
            interpreter.fail("unsupported operand type(s) for \(op): '\(a.typeName)' and '\(b.typeName)'")
        }
        func overflow() -> JinjaError { interpreter.fail("integer overflow in \(op)") }
        switch (op, a, b) {
        case ("+", .string(let x), .string(let y)): return .string(x + y)
        case ("+", .list(let x), .list(let y)): return .list(x + y)
        case ("+", .tuple(let x), .tuple(let y)): return .tuple(x + y)
        case ("*", .string(let s), _), ("*", _, .string(let s)):
            let other = { if case .string = a { return b } else { return a } }()
            guard case .int(let n)? = other.numeric else { throw typeError() }
            guard n <= 1_000_000 else { throw interpreter.fail("string repetition too large") }
            return .string(n > 0 ? String(repeating: s, count: n) : "")
        case ("*", .list(let l), _), ("*", _, .list(let l)):
            let other = { if case .list = a { return b } else { return a } }()
            guard case .int(let n)? = other.numeric else { throw typeError() }
            guard n <= 1_000_000 / Swift.max(1, l.count) else { throw interpreter.fail("list repetition too large") }
            return .list(n > 0 ? Array([[JinjaValue]](repeating: l, count: n).joined()) : [])
        case ("%", .string, _):
            throw interpreter.unsupported("printf-style string formatting with '%'")
        default: break
        }
        guard let x = a.numeric, let y = b.numeric else { throw typeError() }
        switch (x, y) {
        case (.int(let i), .int(let j)):
            switch op {
            case "+": let r = i.addingReportingOverflow(j); if r.overflow { throw overflow() }; return .int(r.partialValue)
            case "-": let r = i.subtractingReportingOverflow(j); if r.overflow { throw overflow() }; return .int(r.partialValue)
            case "*": let r = i.multipliedReportingOverflow(by: j); if r.overflow { throw overflow() }; return .int(r.partialValue)
            case "/":
                guard j != 0 else { throw interpreter.fail("division by zero") }
                return .double(Double(i) / Double(j))
            case "//":
                guard j != 0 else { throw interpreter.fail("integer division or modulo by zero") }
                if i == Int.min && j == -1 { throw overflow() }
                var q = i / j
                if (i % j != 0) && ((i < 0) != (j < 0)) { q -= 1 }
                return .int(q)
            case "%":
                guard j != 0 else { throw interpreter.fail("integer division or modulo by zero") }
                if j == -1 { return .int(0) }
                var r = i % j
                if r != 0 && ((r < 0) != (j < 0)) { r += j }
                return .int(r)
            case "**":
                if j < 0 { return .double(Foundation.pow(Double(i), Double(j))) }
                var result = 1, base = i, e = j
                while e > 0 {
                    if e & 1 == 1 {
                        let r = result.multipliedReportingOverflow(by: base); if r.overflow { throw overflow() }
                        result = r.partialValue
                    }
                    e >>= 1
                    if e > 0 {
                        let r = base.multipliedReportingOverflow(by: base); if r.overflow { throw overflow() }
                        base = r.partialValue
                    }
                }
                return .int(result)
            default: throw typeError()
            }
        default:
            let i = x.asDouble, j = y.asDouble
            switch op {
            case "+": return .double(i + j)
            case "-": return .double(i - j)
            case "*": return .double(i * j)
            case "/":
                guard j != 0 else { throw interpreter.fail("float division by zero") }
                return .double(i / j)
            case "//":
                guard j != 0 else { throw interpreter.fail("float floor division by zero") }
                return .double((i / j).rounded(.down))
            case "%":
                guard j != 0 else { throw interpreter.fail("float modulo") }
                var r = fmod(i, j)
                if r != 0 && ((r < 0) != (j < 0)) { r += j }
                return .double(r)
            case "**": return .double(Foundation.pow(i, j))
            default: throw typeError()
            }
        }
    }

    static func compare(_ op: String, _ a: JinjaValue, _ b: JinjaValue, _ interpreter: Interpreter) throws -> Bool {
        switch op {
        case "==": return pythonEquals(a, b)
        case "!=": return !pythonEquals(a, b)
        case "in": return try contains(b, a, interpreter)
        case "not in": return !(try contains(b, a, interpreter))
        default:
            let order = try ordering(a, b, op, interpreter)
            switch op {
            case "<": return order < 0
            case "<=": return order <= 0
            case ">": return order > 0
            default: return order >= 0
            }
        }
    }

    /// -1, 0 or 1 for Python's `<` between numbers, strings (by code point) or sequences.
    static func ordering(_ a: JinjaValue, _ b: JinjaValue, _ op: String, _ interpreter: Interpreter) throws -> Int {
        if case .undefined(let hint) = a { throw interpreter.fail(hint) }
        if case .undefined(let hint) = b { throw interpreter.fail(hint) }
        switch (a, b) {
        case (.string(let x), .string(let y)):
            let xs = Array(x.unicodeScalars.map(\.value)), ys = Array(y.unicodeScalars.map(\.value))
            if xs == ys { return 0 }
            return xs.lexicographicallyPrecedes(ys) ? -1 : 1
        case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
            for (u, v) in zip(x, y) where !pythonEquals(u, v) { return try ordering(u, v, op, interpreter) }
            return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
        default:
            guard let x = a.numeric, let y = b.numeric else {
                throw interpreter.fail("'\(op)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
            }
            if case .int(let i) = x, case .int(let j) = y { return i == j ? 0 : (i < j ? -1 : 1) }
            let i = x.asDouble, j = y.asDouble
            return i == j ? 0 : (i < j ? -1 : 1)
        }
    }

    /// Python's `needle in container`.
    static func contains(_ container: JinjaValue, _ needle: JinjaValue, _ interpreter: Interpreter) throws -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let sub) = needle else {
                if case .undefined(let hint) = needle { throw interpreter.fail(hint) }
                throw interpreter.fail("'in <string>' requires string as left operand, not \(needle.typeName)")
            }
            return PythonString.contains(s, sub)
        case .list(let a), .tuple(let a): return a.contains { pythonEquals($0, needle) }
        case .dict(let d):
            if case .string(let k) = needle { return d[k] != nil }
            return false
        case .namespace(let ns):
            if case .string(let k) = needle { return ns.attributes[k] != nil }
            return false
        case .undefined: return false
        default: throw interpreter.fail("argument of type '\(container.typeName)' is not iterable")
        }
    }
}
