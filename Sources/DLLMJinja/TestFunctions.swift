/// jinja2's tests (`x is defined`, `x is not none`, `x is sameas false`, …).
enum TestFunctions {
    static let names: Set<String> = [
        "defined", "undefined", "none", "boolean", "false", "true", "integer", "float", "number", "string", "mapping",
        "iterable", "sequence", "callable", "sameas", "eq", "equalto", "==", "ne", "!=", "lt", "lessthan", "<", "le", "<=",
        "gt", "greaterthan", ">", "ge", ">=", "in", "odd", "even", "divisibleby", "lower", "upper",
    ]

    static func apply(_ name: String, _ v: JinjaValue, args: [JinjaValue], _ interpreter: Interpreter) throws -> Bool {
        func arg() throws -> JinjaValue {
            guard args.count == 1 else { throw interpreter.fail("test '\(name)' takes one argument (\(args.count) given)") }
            return args[0]
        }
        func integer() throws -> Int {
            if case .undefined(let hint) = v { throw interpreter.fail(hint) }
            guard case .int(let i)? = v.numeric else { throw interpreter.fail("test '\(name)' needs an integer, not \(v.typeName)") }
            return i
        }
        switch name {
        case "defined": return !v.isUndefined
        case "undefined": return v.isUndefined
        case "none": return v.isNone
        case "boolean": if case .bool = v { return true } else { return false }
        case "false": if case .bool(false) = v { return true } else { return false }
        case "true": if case .bool(true) = v { return true } else { return false }
        case "integer": if case .int = v { return true } else { return false }
        case "float": if case .double = v { return true } else { return false }
        case "number": return v.numeric != nil
        case "string": if case .string = v { return true } else { return false }
        case "mapping": if case .dict = v { return true } else { return false }
        case "iterable", "sequence":
            switch v {
            case .list, .tuple, .dict, .string: return true
            case .undefined: return name == "iterable"
            default: return false
            }
        case "callable": if case .callable = v { return true } else { return false }
        case "sameas":
            let other = try arg()
            switch (v, other) {
            case (.none, .none), (.undefined, .undefined): return true
            case (.bool(let x), .bool(let y)): return x == y
            case (.int(let x), .int(let y)): return x == y && (-5...256).contains(x)  // CPython's cached small ints
            case (.namespace(let x), .namespace(let y)): return x === y
            default: return false
            }
        case "eq", "equalto", "==": return pythonEquals(v, try arg())
        case "ne", "!=": return !pythonEquals(v, try arg())
        case "lt", "lessthan", "<": return try Operators.ordering(v, try arg(), "<", interpreter) < 0
        case "le", "<=": return try Operators.ordering(v, try arg(), "<=", interpreter) <= 0
        case "gt", "greaterthan", ">": return try Operators.ordering(v, try arg(), ">", interpreter) > 0
        case "ge", ">=": return try Operators.ordering(v, try arg(), ">=", interpreter) >= 0
        case "in": return try Operators.contains(try arg(), v, interpreter)
        case "odd": return try integer() % 2 != 0
        case "even": return try integer() % 2 == 0
        case "divisibleby":
            guard case .int(let d)? = try arg().numeric, d != 0 else { throw interpreter.fail("divisibleby needs a non-zero integer") }
            return try integer() % d == 0
        case "lower": let s = try PythonFormatting.str(v); return s == s.lowercased()
        case "upper": let s = try PythonFormatting.str(v); return s == s.uppercased()
        default: throw interpreter.unsupported("the '\(name)' test")
        }
    }
}
