import Foundation

/// The globals a chat template sees: jinja2's `range`, `namespace`, `dict`, and the ones
/// transformers adds (`raise_exception`, `strftime_now`).
enum Globals {
    static func make(options: RenderOptions) -> [String: JinjaValue] {
        var g: [String: JinjaValue] = [:]
        g["range"] = .callable(JinjaCallable(name: "range") { args, kwargs, interpreter in
            guard kwargs.isEmpty else { throw interpreter.fail("range() takes no keyword arguments") }
            let ints: [Int] = try args.map {
                guard case .int(let i)? = $0.numeric, !($0.isDoubleValue) else {
                    throw interpreter.fail("'\($0.typeName)' object cannot be interpreted as an integer")
                }
                return i
            }
            let (start, stop, step): (Int, Int, Int)
            switch ints.count {
            case 1: (start, stop, step) = (0, ints[0], 1)
            case 2: (start, stop, step) = (ints[0], ints[1], 1)
            case 3: (start, stop, step) = (ints[0], ints[1], ints[2])
            default: throw interpreter.fail("range expected 1 to 3 arguments, got \(ints.count)")
            }
            guard step != 0 else { throw interpreter.fail("range() arg 3 must not be zero") }
            var out: [JinjaValue] = []
            var i = start
            while step > 0 ? i < stop : i > stop {
                out.append(.int(i))
                // jinja2's sandbox caps ranges at MAX_RANGE = 100000 items.
                if out.count > 100_000 { throw interpreter.fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).") }
                i += step
            }
            return .list(out)
        })
        g["namespace"] = .callable(JinjaCallable(name: "namespace") { args, kwargs, interpreter in
            var attributes = JinjaDict()
            for a in args {
                guard case .dict(let d) = a else { throw interpreter.fail("namespace() takes a mapping and keyword arguments") }
                for (k, v) in d.items { attributes[k] = v }
            }
            for (k, v) in kwargs.items { attributes[k] = v }
            for k in attributes.keys where k.hasPrefix("_") { throw Globals.underscoreError(k, interpreter) }
            return .namespace(JinjaNamespace(attributes))
        })
        g["dict"] = .callable(JinjaCallable(name: "dict") { args, kwargs, interpreter in
            var d = JinjaDict()
            for a in args {
                guard case .dict(let m) = a else { throw interpreter.unsupported("dict() from a non-mapping") }
                for (k, v) in m.items { d[k] = v }
            }
            for (k, v) in kwargs.items { d[k] = v }
            return .dict(d)
        })
        g["raise_exception"] = .callable(JinjaCallable(name: "raise_exception") { args, _, interpreter in
            let message = try args.first.map(PythonFormatting.str) ?? ""
            throw JinjaError.raised(message: message, line: interpreter.position.line, column: interpreter.position.column)
        })
        let now = options.now
        g["strftime_now"] = .callable(JinjaCallable(name: "strftime_now") { args, _, interpreter in
            guard case .string(let format)? = args.first else { throw interpreter.fail("strftime_now() needs a format string") }
            return .string(strftime(format, now()))
        })
        return g
    }

    /// transformers' `TemplateNamespace._check_name`: no underscore-prefixed attributes.
    static func underscoreError(_ name: String, _ interpreter: Interpreter) -> JinjaError {
        interpreter.fail("chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(name)'")
    }

    /// C `strftime` in the local time zone (Python's `datetime.now().strftime`).
    static func strftime(_ format: String, _ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        localtime_r(&t, &parts)
        var size = 256
        while size <= 65536 {
            var buffer = [Int8](repeating: 0, count: size)
            let n = Foundation.strftime(&buffer, size, format, &parts)
            if n > 0 || format.isEmpty {
                return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            size *= 4
        }
        return ""
    }
}

extension JinjaValue {
    var isDoubleValue: Bool { if case .double = self { return true } else { return false } }
}
