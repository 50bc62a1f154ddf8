/// transformers' `tojson` filter: Python's `json.dumps(x, ensure_ascii=False, indent=None,
/// separators=None, sort_keys=False)` (it replaces jinja2's HTML-escaping `tojson`).
struct JSONDumps {
    var ensureASCII = false
    /// Python's `indent`: nil for one line, else the string repeated per level.
    var indent: String?
    var itemSeparator: String
    var keySeparator: String
    var sortKeys = false

    init(ensureASCII: Bool, indent: String?, separators: (String, String)?, sortKeys: Bool) {
        self.ensureASCII = ensureASCII
        self.indent = indent
        self.sortKeys = sortKeys
        if let separators {
            (itemSeparator, keySeparator) = separators
        } else {
            (itemSeparator, keySeparator) = indent == nil ? (", ", ": ") : (",", ": ")
        }
    }

    func dumps(_ v: JinjaValue) throws -> String {
        var out = ""
        try encode(v, level: 0, into: &out)
        return out
    }

    private func encode(_ v: JinjaValue, level: Int, into out: inout String) throws {
        guard level < JinjaValue.maximumNesting else { throw NestingError() }
        switch v {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isNaN { out += "NaN" }
            else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" }
            else { out += PythonFormatting.floatRepr(d) }
        case .string(let s): out += quote(s)
        case .list(let a), .tuple(let a):
            if a.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in a.enumerated() {
                out += i == 0 ? newline(level + 1) : itemSeparator + newline(level + 1)
                try encode(item, level: level + 1, into: &out)
            }
            out += newline(level) + "]"
        case .dict(let d):
            if d.isEmpty { out += "{}"; return }
            out += "{"
            let items = sortKeys ? d.items.sorted { $0.0.unicodeScalars.lexicographicallyPrecedes($1.0.unicodeScalars) } : d.items
            for (i, (k, item)) in items.enumerated() {
                out += i == 0 ? newline(level + 1) : itemSeparator + newline(level + 1)
                out += quote(k) + keySeparator
                try encode(item, level: level + 1, into: &out)
            }
            out += newline(level) + "}"
        case .undefined, .namespace, .callable:
            throw JSONDumpsError(typeName: v.typeName)
        }
    }

    private func newline(_ level: Int) -> String {
        guard let indent else { return "" }
        return "\n" + String(repeating: indent, count: level)
    }

    private func quote(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        out.append("\"")
        func hex4(_ v: UInt32) {
            let h = String(v, radix: 16)
            out.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - h.count) + h).unicodeScalars)
        }
        for c in s.unicodeScalars {
            switch c {
            case "\"": out.append(contentsOf: "\\\"".unicodeScalars)
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            case "\u{08}": out.append(contentsOf: "\\b".unicodeScalars)
            case "\u{0C}": out.append(contentsOf: "\\f".unicodeScalars)
            default:
                if c.value < 0x20 { hex4(c.value) }
                else if ensureASCII && c.value > 0x7E {
                    if c.value >= 0x10000 {
                        let v = c.value - 0x10000
                        hex4(0xD800 + (v >> 10)); hex4(0xDC00 + (v & 0x3FF))
                    } else { hex4(c.value) }
                } else { out.append(c) }
            }
        }
        out.append("\"")
        return String(out)
    }
}

struct JSONDumpsError: Error {
    let typeName: String
    var message: String { "Object of type \(typeName) is not JSON serializable" }
}
