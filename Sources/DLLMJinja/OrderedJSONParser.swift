/// A JSON reader that keeps object key order, as Python's `json.loads` does
/// (`JSONSerialization` does not), so `tojson` and `items()` see the caller's order.
/// Integers without fraction or exponent become `.int`, the rest `.double`.
struct OrderedJSONParser {
    let scalars: [Unicode.Scalar]
    var position = 0

    init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

    mutating func parseDocument() throws -> JinjaValue {
        let value = try parseValue(depth: 0)
        skipSpace()
        guard position == scalars.count else { throw fail("trailing characters") }
        return value
    }

    private func fail(_ what: String) -> JinjaError {
        .invalidJSON(message: what, offset: position)
    }

    private mutating func skipSpace() {
        while position < scalars.count, [" ", "\n", "\r", "\t"].contains(scalars[position]) { position += 1 }
    }

    private mutating func parseValue(depth: Int) throws -> JinjaValue {
        guard depth < JinjaValue.maximumNesting else { throw fail("nesting deeper than \(JinjaValue.maximumNesting)") }
        skipSpace()
        guard position < scalars.count else { throw fail("unexpected end") }
        switch scalars[position] {
        case "{":
            position += 1
            var dict = JinjaDict()
            skipSpace()
            if position < scalars.count, scalars[position] == "}" { position += 1; return .dict(dict) }
            while true {
                skipSpace()
                guard position < scalars.count, scalars[position] == "\"" else { throw fail("expected a string key") }
                let key = try parseString()
                skipSpace()
                guard position < scalars.count, scalars[position] == ":" else { throw fail("expected ':'") }
                position += 1
                dict[key] = try parseValue(depth: depth + 1)
                skipSpace()
                guard position < scalars.count else { throw fail("unexpected end in object") }
                if scalars[position] == "," { position += 1; continue }
                if scalars[position] == "}" { position += 1; return .dict(dict) }
                throw fail("expected ',' or '}'")
            }
        case "[":
            position += 1
            var list: [JinjaValue] = []
            skipSpace()
            if position < scalars.count, scalars[position] == "]" { position += 1; return .list(list) }
            while true {
                list.append(try parseValue(depth: depth + 1))
                skipSpace()
                guard position < scalars.count else { throw fail("unexpected end in array") }
                if scalars[position] == "," { position += 1; continue }
                if scalars[position] == "]" { position += 1; return .list(list) }
                throw fail("expected ',' or ']'")
            }
        case "\"":
            return .string(try parseString())
        default:
            if consume("true") { return .bool(true) }
            if consume("false") { return .bool(false) }
            if consume("null") { return .none }
            return try parseNumber()
        }
    }

    private mutating func consume(_ word: String) -> Bool {
        let w = Array(word.unicodeScalars)
        guard position + w.count <= scalars.count, Array(scalars[position..<position + w.count]) == w else { return false }
        position += w.count
        return true
    }

    private mutating func parseNumber() throws -> JinjaValue {
        let start = position
        var isFloat = false
        while position < scalars.count {
            let c = scalars[position]
            if ("0"..."9").contains(c) || c == "-" || c == "+" { position += 1 }
            else if c == "." || c == "e" || c == "E" { isFloat = true; position += 1 }
            else { break }
        }
        let text = String(String.UnicodeScalarView(scalars[start..<position]))
        if !isFloat, let i = Int(text) { return .int(i) }
        if let d = Double(text), !text.isEmpty { return .double(d) }
        position = start
        throw fail("invalid value")
    }

    private mutating func parseString() throws -> String {
        position += 1  // opening quote
        var out = String.UnicodeScalarView()
        while position < scalars.count {
            let c = scalars[position]
            position += 1
            if c == "\"" { return String(out) }
            if c != "\\" { out.append(c); continue }
            guard position < scalars.count else { break }
            let e = scalars[position]
            position += 1
            switch e {
            case "\"": out.append("\"")
            case "\\": out.append("\\")
            case "/": out.append("/")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "u":
                var unit = try hex4()
                if (0xD800..<0xDC00).contains(unit), consume("\\u") {
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw fail("invalid surrogate pair") }
                    unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let s = Unicode.Scalar(unit) else { throw fail("lone surrogate \\u\(String(unit, radix: 16))") }
                out.append(s)
            default: throw fail("invalid escape")
            }
        }
        throw fail("unterminated string")
    }

    private mutating func hex4() throws -> UInt32 {
        guard position + 4 <= scalars.count else { throw fail("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let d = hexDigit(scalars[position]) else {
                throw fail("bad hex digit")
            }
            v = v * 16 + d
            position += 1
        }
        return v
    }

    private func hexDigit(_ c: Unicode.Scalar) -> UInt32? {
        switch c {
        case "0"..."9": return c.value - 48
        case "a"..."f": return c.value - 87
        case "A"..."F": return c.value - 55
        default: return nil
        }
    }
}
