/// Splits a template into tokens with jinja2's whitespace rules as `transformers` configures
/// them: `trim_blocks` (the newline after a block or comment tag is dropped), `lstrip_blocks`
/// (spaces and tabs before a block or comment tag on its own line are dropped), the `-`
/// modifiers (`{%-`, `-%}`, `{{-`, `-}}`, `{#-`, `-#}` strip all whitespace on that side) and
/// `+` (`{%+` keeps the line's indentation, `+%}` keeps the newline). Newlines are normalised
/// to `\n` and one trailing newline is dropped (`keep_trailing_newline=False`), as jinja2's
/// `Lexer.tokeniter` does. `{% raw %}…{% endraw %}` becomes text.
struct Lexer {
    let s: [Unicode.Scalar]
    private var lineStarts: [Int] = [0]
    private(set) var tokens: [Token] = []
    private var i = 0

    init(source: String) {
        // Normalise \r\n and \r to \n; drop one trailing newline.
        var out: [Unicode.Scalar] = []
        let raw = Array(source.unicodeScalars)
        out.reserveCapacity(raw.count)
        var k = 0
        while k < raw.count {
            if raw[k] == "\r" {
                out.append("\n")
                if k + 1 < raw.count, raw[k + 1] == "\n" { k += 1 }
            } else {
                out.append(raw[k])
            }
            k += 1
        }
        if out.last == "\n" { out.removeLast() }
        s = out
        for (j, c) in s.enumerated() where c == "\n" { lineStarts.append(j + 1) }
    }

    func position(_ offset: Int) -> SourcePosition {
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return SourcePosition(line: lo + 1, column: offset - lineStarts[lo] + 1)
    }

    private func syntax(_ message: String, at offset: Int) -> JinjaError {
        let p = position(offset)
        return .syntax(message: message, line: p.line, column: p.column)
    }

    private func at(_ offset: Int, _ text: String) -> Bool {
        var k = offset
        for c in text.unicodeScalars {
            guard k < s.count, s[k] == c else { return false }
            k += 1
        }
        return true
    }

    static func tokenize(_ source: String) throws -> [Token] {
        var lexer = Lexer(source: source)
        try lexer.run()
        return lexer.tokens
    }

    private mutating func emitText(_ scalars: ArraySlice<Unicode.Scalar>, at offset: Int) {
        guard !scalars.isEmpty else { return }
        tokens.append(Token(kind: .text(String(String.UnicodeScalarView(scalars))), position: position(offset)))
    }

    private mutating func run() throws {
        var lineStarting = true
        while i < s.count {
            // Find the next tag start.
            var k = i
            while k + 1 < s.count, !(s[k] == "{" && (s[k + 1] == "{" || s[k + 1] == "%" || s[k + 1] == "#")) { k += 1 }
            if k + 1 >= s.count {
                emitText(s[i..<s.count], at: i)
                break
            }
            var text = s[i..<k]
            let kind = s[k + 1]
            let modifier: Unicode.Scalar? = (k + 2 < s.count && (s[k + 2] == "-" || s[k + 2] == "+")) ? s[k + 2] : nil
            if modifier == "-" {
                while let last = text.last, isPythonSpace(last) { text = text.dropLast() }
            } else if modifier != "+", kind != "{" {
                // lstrip_blocks: drop spaces/tabs between the line start and the tag.
                let lineStart = text.lastIndex(of: "\n").map { $0 + 1 } ?? text.startIndex
                if lineStart > text.startIndex || lineStarting {
                    if text[lineStart...].allSatisfy({ $0 == " " || $0 == "\t" }) { text = text[..<lineStart] }
                }
            }
            let textStart = i
            emitText(text, at: textStart)
            var body = k + 2
            if modifier == "-" || (modifier == "+" && kind != "{") { body += 1 }
            switch kind {
            case "#":
                lineStarting = try lexComment(from: body, tagStart: k)
            case "%":
                if let rawEnd = try lexRawIfPresent(from: body, tagStart: k) {
                    lineStarting = rawEnd
                } else {
                    tokens.append(Token(kind: .blockBegin, position: position(k)))
                    lineStarting = try lexExpression(from: body, block: true, tagStart: k)
                }
            default:
                tokens.append(Token(kind: .variableBegin, position: position(k)))
                lineStarting = try lexExpression(from: body, block: false, tagStart: k)
            }
        }
        tokens.append(Token(kind: .end, position: position(s.count)))
    }

    /// Consumes what follows a block or comment end: with `-`, all whitespace; otherwise
    /// (trim_blocks) one newline unless `+`. Returns whether the consumed text ends a line.
    private mutating func finishTag(after end: Int, strip: Bool, keepNewline: Bool) -> Bool {
        i = end
        var consumedNewline = false
        if strip {
            while i < s.count, isPythonSpace(s[i]) { consumedNewline = s[i] == "\n"; i += 1 }
        } else if !keepNewline, i < s.count, s[i] == "\n" {
            i += 1
            consumedNewline = true
        }
        return consumedNewline
    }

    private mutating func lexComment(from start: Int, tagStart: Int) throws -> Bool {
        var k = start
        while k + 1 < s.count {
            if s[k] == "#" && s[k + 1] == "}" {
                let strip = k > start && s[k - 1] == "-"
                let keep = k > start && s[k - 1] == "+"
                return finishTag(after: k + 2, strip: strip, keepNewline: keep)
            }
            k += 1
        }
        throw syntax("unclosed comment (missing '#}')", at: tagStart)
    }

    /// `{% raw %}` … `{% endraw %}`: the text between is emitted verbatim.
    private mutating func lexRawIfPresent(from start: Int, tagStart: Int) throws -> Bool? {
        var k = start
        while k < s.count, isPythonSpace(s[k]) { k += 1 }
        guard at(k, "raw") else { return nil }
        k += 3
        while k < s.count, isPythonSpace(s[k]) { k += 1 }
        var stripAfterOpen = false
        if k < s.count, s[k] == "-" { stripAfterOpen = true; k += 1 }
        guard at(k, "%}") else { return nil }
        k += 2
        var bodyStart = k
        if stripAfterOpen { while bodyStart < s.count, isPythonSpace(s[bodyStart]) { bodyStart += 1 } }
        else if bodyStart < s.count, s[bodyStart] == "\n" { bodyStart += 1 }
        // Find {%[-+]? endraw [-+]?%}
        var m = bodyStart
        while m + 1 < s.count {
            if s[m] == "{" && s[m + 1] == "%" {
                var n = m + 2
                var stripBefore = false
                if n < s.count, s[n] == "-" || s[n] == "+" { stripBefore = s[n] == "-"; n += 1 }
                while n < s.count, isPythonSpace(s[n]) { n += 1 }
                if at(n, "endraw") {
                    n += 6
                    while n < s.count, isPythonSpace(s[n]) { n += 1 }
                    var stripAfter = false, keep = false
                    if n < s.count, s[n] == "-" || s[n] == "+" { stripAfter = s[n] == "-"; keep = s[n] == "+"; n += 1 }
                    if at(n, "%}") {
                        var body = s[bodyStart..<m]
                        if stripBefore { while let last = body.last, isPythonSpace(last) { body = body.dropLast() } }
                        emitText(body, at: bodyStart)
                        return finishTag(after: n + 2, strip: stripAfter, keepNewline: keep)
                    }
                }
            }
            m += 1
        }
        throw syntax("unclosed raw block (missing '{% endraw %}')", at: tagStart)
    }

    private static let twoCharOps: Set<String> = ["//", "**", "==", "!=", "<=", ">="]
    private static let oneCharOps: Set<Unicode.Scalar> = ["+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", ";"]

    /// Lexes expression tokens up to `}}` or `%}` at bracket depth 0. Returns lineStarting.
    private mutating func lexExpression(from start: Int, block: Bool, tagStart: Int) throws -> Bool {
        var k = start
        var depth = 0
        let close: Unicode.Scalar = block ? "%" : "}"
        while true {
            while k < s.count, isPythonSpace(s[k]) { k += 1 }
            guard k < s.count else {
                throw syntax("unclosed \(block ? "block tag '{%'" : "variable tag '{{'") (missing '\(block ? "%}" : "}}")')", at: tagStart)
            }
            if depth == 0 {
                if s[k] == "-", at(k + 1, "\(close)}") {
                    tokens.append(Token(kind: block ? .blockEnd : .variableEnd, position: position(k)))
                    return finishTag(after: k + 3, strip: true, keepNewline: true)
                }
                if block, s[k] == "+", at(k + 1, "%}") {
                    tokens.append(Token(kind: .blockEnd, position: position(k)))
                    return finishTag(after: k + 3, strip: false, keepNewline: true)
                }
                if at(k, "\(close)}") {
                    tokens.append(Token(kind: block ? .blockEnd : .variableEnd, position: position(k)))
                    // trim_blocks applies to block tags only.
                    return finishTag(after: k + 2, strip: false, keepNewline: !block)
                }
            }
            let c = s[k]
            let pos = position(k)
            if c == "_" || c.properties.isAlphabetic && c.isASCII {
                var e = k
                while e < s.count, s[e] == "_" || (s[e].isASCII && (s[e].properties.isAlphabetic || ("0"..."9").contains(s[e]))) { e += 1 }
                tokens.append(Token(kind: .name(String(String.UnicodeScalarView(s[k..<e]))), position: pos))
                k = e
            } else if ("0"..."9").contains(c) {
                k = try lexNumber(at: k)
            } else if c == "'" || c == "\"" {
                k = try lexString(at: k)
            } else if k + 1 < s.count, Self.twoCharOps.contains(String(String.UnicodeScalarView([c, s[k + 1]]))) {
                tokens.append(Token(kind: .op(String(String.UnicodeScalarView([c, s[k + 1]]))), position: pos))
                k += 2
            } else if Self.oneCharOps.contains(c) {
                if c == "(" || c == "[" || c == "{" { depth += 1 }
                if c == ")" || c == "]" || c == "}" {
                    depth -= 1
                    if depth < 0 { throw syntax("unexpected '\(c)'", at: k) }
                }
                tokens.append(Token(kind: .op(String(c)), position: pos))
                k += 1
            } else {
                throw syntax("unexpected character '\(c)'", at: k)
            }
        }
    }

    private mutating func lexNumber(at start: Int) throws -> Int {
        var k = start
        func digits() { while k < s.count, ("0"..."9").contains(s[k]) || (s[k] == "_" && k + 1 < s.count && ("0"..."9").contains(s[k + 1])) { k += 1 } }
        digits()
        var isFloat = false
        let afterDot = start > 0 && s[start - 1] == "."
        if !afterDot {
            if k + 1 < s.count, s[k] == ".", ("0"..."9").contains(s[k + 1]) {
                isFloat = true
                k += 1
                digits()
            }
            if k < s.count, s[k] == "e" || s[k] == "E" {
                var e = k + 1
                if e < s.count, s[e] == "+" || s[e] == "-" { e += 1 }
                if e < s.count, ("0"..."9").contains(s[e]) {
                    isFloat = true
                    k = e
                    digits()
                }
            }
        }
        let text = String(String.UnicodeScalarView(s[start..<k])).replacingOccurrences(of: "_", with: "")
        if isFloat {
            guard let d = Double(text) else { throw syntax("invalid number '\(text)'", at: start) }
            tokens.append(Token(kind: .float(d), position: position(start)))
        } else {
            guard let v = Int(text) else { throw syntax("integer '\(text)' is too large", at: start) }
            tokens.append(Token(kind: .integer(v), position: position(start)))
        }
        return k
    }

    /// A quoted literal with Python's escapes (`\n \t \\ \' \" \xhh \uhhhh \Uhhhhhhhh \ooo`);
    /// an unknown escape keeps its backslash, as jinja2's `unicode-escape` decoding does.
    private mutating func lexString(at start: Int) throws -> Int {
        let quote = s[start]
        var k = start + 1
        var out = String.UnicodeScalarView()
        while k < s.count, s[k] != quote {
            if s[k] != "\\" { out.append(s[k]); k += 1; continue }
            guard k + 1 < s.count else { break }
            let e = s[k + 1]
            k += 2
            switch e {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "v": out.append("\u{0B}")
            case "\n": break
            case "x", "u", "U":
                let n = e == "x" ? 2 : (e == "u" ? 4 : 8)
                guard k + n <= s.count, let v = UInt32(String(String.UnicodeScalarView(s[k..<k + n])), radix: 16),
                      let scalar = Unicode.Scalar(v) else {
                    throw syntax("invalid \\\(e) escape in string literal", at: k - 2)
                }
                out.append(scalar)
                k += n
            case "0"..."7":
                var v = e.value - 48
                var n = 1
                while n < 3, k < s.count, ("0"..."7").contains(s[k]) { v = v * 8 + s[k].value - 48; k += 1; n += 1 }
                out.append(Unicode.Scalar(v)!)
            case "N":
                throw JinjaError.unsupported(feature: "\\N{…} escape in string literal", line: position(k - 2).line, column: position(k - 2).column)
            default:
                out.append("\\")
                out.append(e)
            }
        }
        guard k < s.count else { throw syntax("unterminated string literal", at: start) }
        tokens.append(Token(kind: .string(String(out)), position: position(start)))
        return k + 1
    }
}
