/// The Python methods chat templates call on strings, dicts and lists, bound to their
/// receiver (`message.content.strip()`, `message.get('x')`, `d.items()`). Mutating
/// methods (`append`, `update`, …) are refused, as jinja2's `ImmutableSandboxedEnvironment` does.
enum Methods {
    static let stringMethods: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "upper", "lower", "replace",
        "title", "capitalize", "find", "count", "join", "splitlines", "isdigit", "isalpha", "isspace", "isupper", "islower",
    ]
    static let dictMethods: Set<String> = ["items", "keys", "values", "get"]
    static let mutatingMethods: Set<String> = ["append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault",
                                               "popitem", "sort", "reverse"]

    static func bound(_ receiver: JinjaValue, _ name: String) -> JinjaValue? {
        switch receiver {
        case .string(let s) where stringMethods.contains(name):
            return .callable(JinjaCallable(name: "str.\(name)") { args, kwargs, interpreter in
                try stringMethod(s, name, args, kwargs, interpreter)
            })
        case .dict(let d) where dictMethods.contains(name):
            return .callable(JinjaCallable(name: "dict.\(name)") { args, kwargs, interpreter in
                try dictMethod(d, name, args, kwargs, interpreter)
            })
        case _ where mutatingMethods.contains(name) && isContainer(receiver):
            return .callable(JinjaCallable(name: "\(receiver.typeName).\(name)") { _, _, interpreter in
                throw interpreter.fail("access to attribute '\(name)' of '\(receiver.typeName)' object is unsafe (the sandbox is immutable)")
            })
        default:
            return nil
        }
    }

    private static func isContainer(_ v: JinjaValue) -> Bool {
        switch v {
        case .dict, .list: return true
        default: return false
        }
    }

    private static func string(_ v: JinjaValue, _ what: String, _ interpreter: Interpreter) throws -> String {
        guard case .string(let s) = v else { throw interpreter.fail("\(what) must be str, not \(v.typeName)") }
        return s
    }

    private static func stringMethod(_ s: String, _ name: String, _ args: [JinjaValue], _ kwargs: JinjaDict,
                                     _ interpreter: Interpreter) throws -> JinjaValue {
        let p = try Arguments.bind(name, args, kwargs, Self.parameters[name] ?? [], interpreter)
        func optionalString(_ v: JinjaValue) throws -> String? {
            if v.isNone { return nil }
            return try string(v, "argument", interpreter)
        }
        switch name {
        case "strip", "lstrip", "rstrip":
            return .string(PythonString.strip(s, chars: try optionalString(p[0]), leading: name != "rstrip", trailing: name != "lstrip"))
        case "split", "rsplit":
            let sep = try optionalString(p[0])
            if sep == "" { throw interpreter.fail("empty separator") }
            guard case .int(let maxSplit) = p[1] else { throw interpreter.fail("maxsplit must be an integer") }
            if name == "rsplit" && maxSplit >= 0 {
                // Split from the right: reverse, split, reverse back.
                let rev = String(String.UnicodeScalarView(s.unicodeScalars.reversed()))
                let revSep = sep.map { String(String.UnicodeScalarView($0.unicodeScalars.reversed())) }
                let parts = PythonString.split(rev, separator: revSep, maxSplit: maxSplit)
                return .list(parts.reversed().map { .string(String(String.UnicodeScalarView($0.unicodeScalars.reversed()))) })
            }
            return .list(PythonString.split(s, separator: sep, maxSplit: maxSplit).map { .string($0) })
        case "startswith", "endswith":
            let candidates: [String]
            switch p[0] {
            case .string(let x): candidates = [x]
            case .tuple(let xs), .list(let xs): candidates = try xs.map { try string($0, "\(name) element", interpreter) }
            default: throw interpreter.fail("\(name) first arg must be str or a tuple of str, not \(p[0].typeName)")
            }
            let a = Array(s.unicodeScalars)
            return .bool(candidates.contains { c in
                let b = Array(c.unicodeScalars)
                guard b.count <= a.count else { return false }
                return name == "startswith" ? Array(a[0..<b.count]) == b : Array(a[(a.count - b.count)...]) == b
            })
        case "upper": return .string(PythonString.upper(s))
        case "lower": return .string(PythonString.lower(s))
        case "title": return .string(PythonString.title(s))
        case "capitalize": return .string(PythonString.capitalize(s))
        case "replace":
            guard case .int(let count) = p[2] else { throw interpreter.fail("count must be an integer") }
            return .string(PythonString.replace(s, try string(p[0], "old", interpreter), try string(p[1], "new", interpreter), count: count))
        case "find":
            return .int(PythonString.find(Array(s.unicodeScalars), Array(try string(p[0], "sub", interpreter).unicodeScalars)) ?? -1)
        case "count":
            let sub = Array(try string(p[0], "sub", interpreter).unicodeScalars)
            let a = Array(s.unicodeScalars)
            if sub.isEmpty { return .int(a.count + 1) }
            var n = 0, i = 0
            while let j = PythonString.find(a, sub, from: i) { n += 1; i = j + sub.count }
            return .int(n)
        case "join":
            let items = try interpreter.iterate(p[0])
            return .string(try items.map { try string($0, "sequence item", interpreter) }.joined(separator: s))
        case "splitlines": return .list(PythonString.splitlines(s).map { .string($0) })
        case "isdigit": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType == .decimal || $0.properties.numericType == .digit })
        case "isalpha": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic })
        case "isspace": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(isPythonSpace))
        case "isupper": return .bool(s.unicodeScalars.contains { $0.properties.isCased } && s == s.uppercased())
        case "islower": return .bool(s.unicodeScalars.contains { $0.properties.isCased } && s == s.lowercased())
        default: throw interpreter.unsupported("the string method '\(name)'")
        }
    }

    private static let parameters: [String: [(String, JinjaValue?)]] = [
        "strip": [("chars", JinjaValue.none)], "lstrip": [("chars", JinjaValue.none)], "rstrip": [("chars", JinjaValue.none)],
        "split": [("sep", JinjaValue.none), ("maxsplit", .int(-1))], "rsplit": [("sep", JinjaValue.none), ("maxsplit", .int(-1))],
        "startswith": [("prefix", nil)], "endswith": [("suffix", nil)],
        "replace": [("old", nil), ("new", nil), ("count", .int(-1))],
        "find": [("sub", nil)], "count": [("sub", nil)], "join": [("iterable", nil)],
        "get": [("key", nil), ("default", JinjaValue.none)],
    ]

    private static func dictMethod(_ d: JinjaDict, _ name: String, _ args: [JinjaValue], _ kwargs: JinjaDict,
                                   _ interpreter: Interpreter) throws -> JinjaValue {
        let p = try Arguments.bind(name, args, kwargs, Self.parameters[name] ?? [], interpreter)
        switch name {
        case "items": return .list(d.items.map { .tuple([.string($0.0), $0.1]) })
        case "keys": return .list(d.keys.map { .string($0) })
        case "values": return .list(d.items.map { $0.1 })
        case "get":
            if case .string(let k) = p[0], let v = d[k] { return v }
            return p[1]
        default: throw interpreter.unsupported("the dict method '\(name)'")
        }
    }
}

/// Binds positional and keyword arguments to named parameters with defaults (Python calls).
enum Arguments {
    static func bind(_ function: String, _ args: [JinjaValue], _ kwargs: JinjaDict, _ parameters: [(String, JinjaValue?)],
                     _ interpreter: Interpreter) throws -> [JinjaValue] {
        guard args.count <= parameters.count else {
            throw interpreter.fail("\(function)() takes at most \(parameters.count) argument(s) (\(args.count) given)")
        }
        for k in kwargs.keys where !parameters.contains(where: { $0.0 == k }) {
            throw interpreter.fail("\(function)() got an unexpected keyword argument '\(k)'")
        }
        var out: [JinjaValue] = []
        for (i, (name, defaultValue)) in parameters.enumerated() {
            if i < args.count {
                if kwargs[name] != nil { throw interpreter.fail("\(function)() got multiple values for argument '\(name)'") }
                out.append(args[i])
            } else if let v = kwargs[name] {
                out.append(v)
            } else if let defaultValue {
                out.append(defaultValue)
            } else {
                throw interpreter.fail("\(function)() missing required argument '\(name)'")
            }
        }
        return out
    }
}
