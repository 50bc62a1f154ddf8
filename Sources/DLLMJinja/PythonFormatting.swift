import Foundation

/// Python's `str()` and `repr()` of template values, which jinja2 uses to print them.
enum PythonFormatting {
    /// `str(value)`; jinja2 prints Undefined as "".
    static func str(_ v: JinjaValue) throws -> String {
        switch v {
        case .undefined: return ""
        case .string(let s): return s
        default: return try repr(v)
        }
    }

    static func repr(_ v: JinjaValue, depth: Int = 0) throws -> String {
        guard depth < JinjaValue.maximumNesting else { throw NestingError() }
        switch v {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return floatRepr(d)
        case .string(let s): return stringRepr(s)
        case .list(let a): return "[" + (try a.map { try repr($0, depth: depth + 1) }).joined(separator: ", ") + "]"
        case .tuple(let a):
            return "(" + (try a.map { try repr($0, depth: depth + 1) }).joined(separator: ", ") + (a.count == 1 ? ",)" : ")")
        case .dict(let d):
            return "{" + (try d.items.map { stringRepr($0.0) + ": " + (try repr($0.1, depth: depth + 1)) }).joined(separator: ", ") + "}"
        case .namespace(let n): return "<Namespace " + (try repr(.dict(n.attributes), depth: depth + 1)) + ">"
        case .callable(let c): return "<function \(c.name)>"
        }
    }

    /// Python's `float.__repr__`: the shortest digits that round-trip, in fixed notation when
    /// the decimal exponent is in [-4, 16), otherwise `d.ddde±XX`.
    static func floatRepr(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description is also shortest round-trip; take its digits and exponent.
        var text = "\(Swift.abs(d))"
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...])!
            text = String(text[..<e])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let intPart = String(parts[0]), fracPart = parts.count > 1 ? String(parts[1]) : ""
        var digits = intPart + fracPart
        // Value = 0.digits × 10^(intPart.count + exponent); normalise leading zeros.
        var pointPosition = intPart.count + exponent
        while digits.hasPrefix("0") && digits.count > 1 { digits.removeFirst(); pointPosition -= 1 }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        let sciExponent = pointPosition - 1
        var out = d < 0 ? "-" : ""
        if sciExponent < -4 || sciExponent >= 16 {
            out += String(digits.first!)
            if digits.count > 1 { out += "." + digits.dropFirst() }
            out += "e" + (sciExponent < 0 ? "-" : "+")
            let e = String(Swift.abs(sciExponent))
            out += (e.count < 2 ? "0" : "") + e
        } else if pointPosition <= 0 {
            out += "0." + String(repeating: "0", count: -pointPosition) + digits
        } else if pointPosition >= digits.count {
            out += digits + String(repeating: "0", count: pointPosition - digits.count) + ".0"
        } else {
            out += digits.prefix(pointPosition) + "." + digits.dropFirst(pointPosition)
        }
        return out
    }

    /// Python's `str.__repr__`: single quotes unless the text has ' and no ", escapes
    /// for backslash, quotes, \n \r \t and non-printable characters.
    static func stringRepr(_ s: String) -> String {
        let scalars = s.unicodeScalars
        let quote: Unicode.Scalar = scalars.contains("'") && !scalars.contains("\"") ? "\"" : "'"
        var out = String.UnicodeScalarView()
        out.append(quote)
        for c in scalars {
            switch c {
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            default:
                if c == quote {
                    out.append("\\"); out.append(c)
                } else if isPrintable(c) {
                    out.append(c)
                } else {
                    let hex = String(c.value, radix: 16)
                    let escaped: String
                    if c.value < 0x100 { escaped = "\\x" + String(repeating: "0", count: 2 - hex.count) + hex }
                    else if c.value < 0x10000 { escaped = "\\u" + String(repeating: "0", count: 4 - hex.count) + hex }
                    else { escaped = "\\U" + String(repeating: "0", count: 8 - hex.count) + hex }
                    out.append(contentsOf: escaped.unicodeScalars)
                }
            }
        }
        out.append(quote)
        return String(out)
    }

    /// Python's `str.isprintable()` for one character.
    static func isPrintable(_ c: Unicode.Scalar) -> Bool {
        if c == " " { return true }
        switch c.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }
}

/// A value nested deeper than `JinjaValue.maximumNesting` (Python: RecursionError).
struct NestingError: Error {
    var message: String { "maximum recursion depth exceeded: a value is nested deeper than \(JinjaValue.maximumNesting) levels" }
}

/// Python string operations on code points (jinja2 strings are Python `str`).
enum PythonString {
    static func strip(_ s: String, chars: String?, leading: Bool, trailing: Bool) -> String {
        let set = chars.map { Set($0.unicodeScalars) }
        func drop(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c) } ?? isPythonSpace(c) }
        let a = Array(s.unicodeScalars)
        var lo = 0, hi = a.count
        if leading { while lo < hi && drop(a[lo]) { lo += 1 } }
        if trailing { while hi > lo && drop(a[hi - 1]) { hi -= 1 } }
        return String(String.UnicodeScalarView(a[lo..<hi]))
    }

    /// `str.split(sep, maxsplit)`; `sep == nil` splits on whitespace runs.
    static func split(_ s: String, separator: String?, maxSplit: Int) -> [String] {
        let a = Array(s.unicodeScalars)
        var out: [String] = []
        func make(_ r: ArraySlice<Unicode.Scalar>) -> String { String(String.UnicodeScalarView(r)) }
        guard let separator else {
            var i = 0
            var splits = 0
            while i < a.count {
                while i < a.count && isPythonSpace(a[i]) { i += 1 }
                if i >= a.count { break }
                if maxSplit >= 0 && splits >= maxSplit {
                    // The remainder keeps its trailing whitespace, as Python's does.
                    out.append(make(a[i..<a.count]))
                    return out
                }
                var j = i
                while j < a.count && !isPythonSpace(a[j]) { j += 1 }
                out.append(make(a[i..<j]))
                splits += 1
                i = j
            }
            return out
        }
        let sep = Array(separator.unicodeScalars)
        var start = 0, i = 0
        while i + sep.count <= a.count {
            if (maxSplit < 0 || out.count < maxSplit) && Array(a[i..<i + sep.count]) == sep {
                out.append(make(a[start..<i]))
                i += sep.count
                start = i
            } else {
                i += 1
            }
        }
        out.append(make(a[start..<a.count]))
        return out
    }

    static func find(_ haystack: [Unicode.Scalar], _ needle: [Unicode.Scalar], from: Int = 0) -> Int? {
        if needle.isEmpty { return from <= haystack.count ? from : nil }
        guard haystack.count >= needle.count else { return nil }
        var i = from
        while i + needle.count <= haystack.count {
            if haystack[i] == needle[0] && Array(haystack[i..<i + needle.count]) == needle { return i }
            i += 1
        }
        return nil
    }

    static func contains(_ s: String, _ sub: String) -> Bool {
        find(Array(s.unicodeScalars), Array(sub.unicodeScalars)) != nil
    }

    static func replace(_ s: String, _ old: String, _ new: String, count: Int) -> String {
        let a = Array(s.unicodeScalars), o = Array(old.unicodeScalars), n = Array(new.unicodeScalars)
        var out: [Unicode.Scalar] = []
        var done = 0
        if o.isEmpty {
            // Python inserts `new` between every character (and at both ends).
            for c in a {
                if count < 0 || done < count { out += n; done += 1 }
                out.append(c)
            }
            if count < 0 || done < count { out += n }
            return String(String.UnicodeScalarView(out))
        }
        var i = 0
        while i < a.count {
            if (count < 0 || done < count), i + o.count <= a.count, Array(a[i..<i + o.count]) == o {
                out += n
                i += o.count
                done += 1
            } else {
                out.append(a[i])
                i += 1
            }
        }
        return String(String.UnicodeScalarView(out))
    }

    /// `str.splitlines()` (keepends=False), with Python's line boundaries.
    static func splitlines(_ s: String) -> [String] {
        let a = Array(s.unicodeScalars)
        var out: [String] = []
        var start = 0, i = 0
        while i < a.count {
            let c = a[i]
            if [0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029].contains(c.value) {
                out.append(String(String.UnicodeScalarView(a[start..<i])))
                if c == "\r", i + 1 < a.count, a[i + 1] == "\n" { i += 1 }
                i += 1
                start = i
            } else {
                i += 1
            }
        }
        if start < a.count { out.append(String(String.UnicodeScalarView(a[start..<a.count]))) }
        return out
    }

    static func upper(_ s: String) -> String { s.uppercased() }
    static func lower(_ s: String) -> String { s.lowercased() }

    static func capitalize(_ s: String) -> String {
        guard let first = s.unicodeScalars.first else { return s }
        // Python upper-cases the first character with its title-case mapping (ǆ → ǅ).
        return first.properties.titlecaseMapping + String(String.UnicodeScalarView(s.unicodeScalars.dropFirst())).lowercased()
    }

    /// `str.title()`: a letter after a non-letter is upper-cased, other letters lower-cased.
    static func title(_ s: String) -> String {
        var out = ""
        var previousIsCased = false
        for c in s.unicodeScalars {
            let cased = c.properties.isCased
            out += previousIsCased ? c.properties.lowercaseMapping : (cased ? c.properties.titlecaseMapping : String(c))
            previousIsCased = cased
        }
        return out
    }
}
