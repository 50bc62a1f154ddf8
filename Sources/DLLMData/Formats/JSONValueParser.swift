import Foundation

/// A JSON syntax error at a byte offset of the parsed text.
struct JSONSyntaxError: Error {
    var detail: String
    var offset: Int
}

/// Strict RFC 8259 parser from UTF-8 bytes to ``DataValue`` (the role Python's `json.loads`
/// plays inside `datasets`' json loader).
///
/// Integers without fraction or exponent that fit in 64 bits become `.int`, other numbers
/// `.double`. Duplicate keys keep the last value, as Python does. A lone UTF-16 surrogate in a
/// `\u` escape (which Python accepts) becomes U+FFFD, because a Swift string cannot hold it.
/// The caller validates UTF-8 first.
struct JSONValueParser {
    static let maximumDepth = 128

    private let bytes: UnsafeRawBufferPointer
    private var position: Int

    private init(bytes: UnsafeRawBufferPointer, position: Int) {
        self.bytes = bytes
        self.position = position
    }

    /// Parses exactly one JSON value from `bytes`, allowing surrounding whitespace.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> DataValue {
        var parser = JSONValueParser(bytes: bytes, position: 0)
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.position != bytes.count { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    /// Parses one JSON document; when its top level is an array, also returns the byte offset at
    /// which each element starts (so rows of a JSON array can be reported by line).
    static func parseDocument(_ bytes: UnsafeRawBufferPointer) throws -> (value: DataValue, elementOffsets: [Int]?) {
        var parser = JSONValueParser(bytes: bytes, position: 0)
        parser.skipWhitespace()
        var offsets: [Int]? = nil
        let value: DataValue
        if parser.current == UInt8(ascii: "[") {
            parser.position += 1
            var items: [DataValue] = []
            var starts: [Int] = []
            parser.skipWhitespace()
            if parser.current == UInt8(ascii: "]") {
                parser.position += 1
            } else {
                loop: while true {
                    parser.skipWhitespace()
                    starts.append(parser.position)
                    items.append(try parser.parseValue(depth: 1))
                    parser.skipWhitespace()
                    switch parser.current {
                    case UInt8(ascii: ","): parser.position += 1
                    case UInt8(ascii: "]"): parser.position += 1; break loop
                    case nil: throw parser.error("unterminated array")
                    default: throw parser.error("expected ',' or ']' in array")
                    }
                }
            }
            value = .list(items)
            offsets = starts
        } else {
            value = try parser.parseValue(depth: 0)
        }
        parser.skipWhitespace()
        if parser.position != bytes.count { throw parser.error("unexpected text after the JSON value") }
        return (value, offsets)
    }

    /// Parses one value from a byte array.
    static func parse(_ bytes: [UInt8]) throws -> DataValue {
        try bytes.withUnsafeBytes { try parse($0) }
    }

    /// Converts a byte offset into a 1-based (line, column) pair.
    static func lineAndColumn(of offset: Int, in bytes: UnsafeRawBufferPointer) -> (line: Int, column: Int) {
        var line = 1
        var lineStart = 0
        var i = 0
        let end = min(offset, bytes.count)
        while i < end {
            if bytes[i] == 0x0A { line += 1; lineStart = i + 1 }
            i += 1
        }
        return (line, offset - lineStart + 1)
    }

    private func error(_ detail: String) -> JSONSyntaxError { JSONSyntaxError(detail: detail, offset: position) }

    private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            let b = bytes[position]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            position += 1
        }
    }

    private mutating func expectLiteral(_ literal: String, _ value: DataValue) throws -> DataValue {
        for byte in literal.utf8 {
            guard current == byte else { throw error("invalid literal (expected '\(literal)')") }
            position += 1
        }
        return value
    }

    private mutating func parseValue(depth: Int) throws -> DataValue {
        skipWhitespace()
        guard let byte = current else { throw error("unexpected end of input") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try expectLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try expectLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try expectLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default:
            let shown = byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
            throw error("unexpected \(shown)")
        }
    }

    private mutating func parseObject(depth: Int) throws -> DataValue {
        guard depth <= Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth) levels") }
        position += 1
        var members: [String: DataValue] = [:]
        skipWhitespace()
        if current == UInt8(ascii: "}") { position += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw error("expected ':' after key \"\(key)\"") }
            position += 1
            members[key] = try parseValue(depth: depth)
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; return .object(members)
            case nil: throw error("unterminated object")
            default: throw error("expected ',' or '}' in object")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws -> DataValue {
        guard depth <= Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth) levels") }
        position += 1
        var items: [DataValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { position += 1; return .list(items) }
        while true {
            items.append(try parseValue(depth: depth))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; return .list(items)
            case nil: throw error("unterminated array")
            default: throw error("expected ',' or ']' in array")
            }
        }
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard bytes.count - position >= 4 else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[position]
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    private mutating func parseString() throws -> String {
        position += 1  // opening quote
        let start = position
        // Fast path: no escapes.
        while position < bytes.count {
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                position += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error("control character in string (escape it as \\u00\(String(format: "%02x", b)))") }
            position += 1
        }
        var buffer = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[start..<position]))
        while true {
            guard let b = current else { throw error("unterminated string") }
            if b == UInt8(ascii: "\"") { position += 1; break }
            if b < 0x20 { throw error("control character in string") }
            if b != UInt8(ascii: "\\") { buffer.append(b); position += 1; continue }
            position += 1
            guard let e = current else { throw error("unterminated escape") }
            position += 1
            switch e {
            case UInt8(ascii: "\""): buffer.append(0x22)
            case UInt8(ascii: "\\"): buffer.append(0x5C)
            case UInt8(ascii: "/"): buffer.append(0x2F)
            case UInt8(ascii: "b"): buffer.append(0x08)
            case UInt8(ascii: "f"): buffer.append(0x0C)
            case UInt8(ascii: "n"): buffer.append(0x0A)
            case UInt8(ascii: "r"): buffer.append(0x0D)
            case UInt8(ascii: "t"): buffer.append(0x09)
            case UInt8(ascii: "u"):
                var code = try parseHex4()
                if (0xD800...0xDBFF).contains(code) {
                    // Try to combine with a following low surrogate.
                    if bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") {
                        let save = position
                        position += 2
                        let low = try parseHex4()
                        if (0xDC00...0xDFFF).contains(low) {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            position = save
                            code = 0xFFFD
                        }
                    } else {
                        code = 0xFFFD
                    }
                } else if (0xDC00...0xDFFF).contains(code) {
                    code = 0xFFFD
                }
                buffer.append(contentsOf: Array(String(Character(Unicode.Scalar(code)!)).utf8))
            default: throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
        return String(decoding: buffer, as: UTF8.self)
    }

    private mutating func parseNumber() throws -> DataValue {
        let start = position
        var isInteger = true
        if current == UInt8(ascii: "-") { position += 1 }
        guard let first = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            throw error("expected a digit")
        }
        if first == UInt8(ascii: "0") {
            position += 1
        } else {
            while let b = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) { position += 1 }
        }
        if current == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            guard let b = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) else {
                throw error("expected a digit after '.'")
            }
            while let b = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) { position += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            isInteger = false
            position += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            guard let b = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) else {
                throw error("expected a digit in the exponent")
            }
            while let b = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) { position += 1 }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        if isInteger, let v = Int64(text) { return .int(v) }
        guard let d = Double(text) else { throw error("number out of range") }
        return .double(d)
    }
}
