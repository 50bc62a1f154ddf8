/// Strict RFC 8259 parser from UTF-8 bytes to ``JSONValue``.
///
/// - Strings: all escapes, surrogate pairs combined; invalid UTF-8 and raw control
///   characters are errors; a lone surrogate is an error unless ``Options/loneSurrogates``
///   says to replace it with U+FFFD (what Python's `json` accepts).
/// - Numbers: the JSON grammar only (no `+1`, `01`, `.5`, `1.`); integers become
///   ``JSONValue/integer(_:)`` or ``JSONValue/bigInteger(_:)``; others are rounded to the
///   nearest double exactly as `strtod` does (Clinger's fast path when a short mantissa and
///   small power of ten make one IEEE operation exact, else the standard library's
///   correctly rounded conversion). A number beyond the double range is an error.
/// - A leading UTF-8 byte order mark is skipped unless ``Options/allowsByteOrderMark`` is off.
/// - Containers nested deeper than ``Options/maximumDepth`` are an error (the parser
///   recurses once per level, so this also bounds its stack).
public struct JSONParser {
    public struct Options: Sendable {
        /// What an object with the same key twice (same UTF-8 bytes) becomes.
        public enum DuplicateKeys: Sendable {
            /// An error (`JSONError.Kind.duplicateKey`); the default.
            case reject
            /// One member, at the first key's position, holding the last value (Python's `dict`).
            case keepLast
            /// Every member is kept in order; lookups find the first.
            case keepAll
        }

        public enum LoneSurrogates: Sendable {
            case reject
            /// U+FFFD in place of the unpaired surrogate (a Swift string cannot hold one).
            case replace
        }

        public var duplicateKeys: DuplicateKeys
        public var loneSurrogates: LoneSurrogates
        public var maximumDepth: Int
        public var allowsByteOrderMark: Bool
        /// Named in errors.
        public var file: String?

        public init(duplicateKeys: DuplicateKeys = .reject, loneSurrogates: LoneSurrogates = .reject,
                    maximumDepth: Int = 128, allowsByteOrderMark: Bool = true, file: String? = nil) {
            self.duplicateKeys = duplicateKeys
            self.loneSurrogates = loneSurrogates
            self.maximumDepth = maximumDepth
            self.allowsByteOrderMark = allowsByteOrderMark
            self.file = file
        }
    }

    private let bytes: UnsafeRawBufferPointer
    private let options: Options
    private var position = 0
    /// Byte offsets at which the top-level array's elements start, when asked for.
    private var elementOffsets: [Int]?

    private init(bytes: UnsafeRawBufferPointer, options: Options) {
        self.bytes = bytes
        self.options = options
    }

    /// Parses exactly one JSON value, allowing whitespace around it.
    public static func parse(_ bytes: UnsafeRawBufferPointer, options: Options = Options()) throws -> JSONValue {
        try parseDocument(bytes, options: options).value
    }

    /// Parses one value from any contiguous byte collection (`[UInt8]`, `Data`, an `ArraySlice`).
    public static func parse<Bytes: Collection>(_ bytes: Bytes, options: Options = Options()) throws -> JSONValue
    where Bytes.Element == UInt8 {
        if let value = try bytes.withContiguousStorageIfAvailable({ try parse(UnsafeRawBufferPointer($0), options: options) }) {
            return value
        }
        return try Array(bytes).withUnsafeBytes { try parse($0, options: options) }
    }

    /// Parses one value from a string's UTF-8.
    public static func parse(_ text: String, options: Options = Options()) throws -> JSONValue {
        var text = text
        return try text.withUTF8 { try parse(UnsafeRawBufferPointer($0), options: options) }
    }

    /// Parses one document; when its top level is an array, also returns the byte offset at
    /// which each element starts (so rows of a JSON array can be reported by line).
    public static func parseDocument(_ bytes: UnsafeRawBufferPointer, options: Options = Options())
        throws -> (value: JSONValue, elementOffsets: [Int]?)
    {
        var parser = JSONParser(bytes: bytes, options: options)
        if options.allowsByteOrderMark, bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            parser.position = 3
        }
        parser.skipWhitespace()
        if parser.current == UInt8(ascii: "[") { parser.elementOffsets = [] }
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.position != bytes.count { throw parser.error(.syntax("unexpected text after the JSON value")) }
        return (value, parser.elementOffsets)
    }

    /// 1-based line and column (in bytes) of a byte offset; lines end at LF.
    public static func lineAndColumn(of offset: Int, in bytes: UnsafeRawBufferPointer) -> (line: Int, column: Int) {
        var line = 1
        var lineStart = 0
        let end = min(max(offset, 0), bytes.count)
        var i = 0
        while i < end {
            if bytes[i] == 0x0A { line += 1; lineStart = i + 1 }
            i += 1
        }
        return (line, offset - lineStart + 1)
    }

    // MARK: Errors and bytes

    private func error(_ kind: JSONError.Kind, at offset: Int? = nil) -> JSONError {
        let at = offset ?? position
        let (line, column) = Self.lineAndColumn(of: at, in: bytes)
        return JSONError(kind: kind, offset: at, line: line, column: column, file: options.file)
    }

    @inline(__always) private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    @inline(__always) private mutating func skipWhitespace() {
        while position < bytes.count {
            let b = bytes[position]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            position += 1
        }
    }

    private func describe(_ byte: UInt8?) -> String {
        guard let byte else { return "the end of the text" }
        if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        let hex = String(byte, radix: 16, uppercase: true)
        return "byte 0x" + (hex.count == 1 ? "0" + hex : hex)
    }

    private mutating func expectLiteral(_ literal: StaticString, _ value: JSONValue) throws -> JSONValue {
        let count = literal.utf8CodeUnitCount
        for k in 0..<count {
            guard position + k < bytes.count, bytes[position + k] == literal.utf8Start[k] else {
                throw error(.syntax("invalid literal (expected '\(literal)')"))
            }
        }
        position += count
        return value
    }

    // MARK: Values

    private mutating func parseValue(depth: Int) throws -> JSONValue {
        skipWhitespace()
        guard let byte = current else { throw error(.syntax("unexpected end of the text, expected a value")) }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try expectLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try expectLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try expectLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error(.syntax("unexpected \(describe(byte)), expected a value"))
        }
    }

    private mutating func parseObject(depth: Int) throws -> JSONValue {
        guard depth <= options.maximumDepth else { throw error(.tooDeep(limit: options.maximumDepth)) }
        position += 1  // {
        var members: [(key: String, value: JSONValue)] = []
        // Duplicate detection: a linear scan while the object is small, a hash index
        // (built once it grows past `linearLimit` members) after that.
        var index: [ByteKey: Int]?
        let linearLimit = 8
        let tracksKeys = options.duplicateKeys != .keepAll
        skipWhitespace()
        if current == UInt8(ascii: "}") { position += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else {
                throw error(.syntax("unexpected \(describe(current)), expected a string key"))
            }
            let keyOffset = position
            let key = try parseString()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else {
                throw error(.syntax("unexpected \(describe(current)), expected ':' after key \"\(key)\""))
            }
            position += 1
            let value = try parseValue(depth: depth)
            if tracksKeys {
                let earlier = index.map { $0[ByteKey(key)] }
                    ?? members.firstIndex { $0.key.utf8.elementsEqual(key.utf8) }
                if let earlier {
                    if options.duplicateKeys == .reject { throw error(.duplicateKey(key, depth: depth), at: keyOffset) }
                    members[earlier].value = value
                } else {
                    members.append((key, value))
                    if index != nil {
                        index![ByteKey(key)] = members.count - 1
                    } else if members.count > linearLimit {
                        var built: [ByteKey: Int] = [:]
                        built.reserveCapacity(members.count * 2)
                        for (i, member) in members.enumerated() { built[ByteKey(member.key)] = i }
                        index = built
                    }
                }
            } else {
                members.append((key, value))
            }
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; return .object(members)
            default: throw error(.syntax("unexpected \(describe(current)), expected ',' or '}' in an object"))
            }
        }
    }

    private mutating func parseArray(depth: Int) throws -> JSONValue {
        guard depth <= options.maximumDepth else { throw error(.tooDeep(limit: options.maximumDepth)) }
        position += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { position += 1; return .array(elements) }
        while true {
            skipWhitespace()
            if depth == 1 { elementOffsets?.append(position) }
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; return .array(elements)
            default: throw error(.syntax("unexpected \(describe(current)), expected ',' or ']' in an array"))
            }
        }
    }

    // MARK: Strings

    private mutating func parseHex4() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let b = current else { throw error(.syntax("truncated \\u escape")) }
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: throw error(.syntax("invalid hex digit \(describe(b)) in a \\u escape"))
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    /// Checks one multi-byte UTF-8 sequence at `position` and steps over it: no overlong
    /// forms, no encoded surrogates, nothing past U+10FFFF (the Unicode standard's table 3-7).
    private mutating func skipUTF8Sequence() throws {
        let b0 = bytes[position]
        let length: Int
        var lower: UInt8 = 0x80, upper: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upper = 0x9F
        case 0xF0: length = 4; lower = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upper = 0x8F
        default: throw error(.invalidUTF8)
        }
        guard position + length <= bytes.count else { throw error(.invalidUTF8) }
        let b1 = bytes[position + 1]
        guard b1 >= lower && b1 <= upper else { throw error(.invalidUTF8) }
        for k in 2..<length where bytes[position + k] & 0xC0 != 0x80 { throw error(.invalidUTF8) }
        position += length
    }

    private mutating func parseString() throws -> String {
        position += 1  // opening quote
        let start = position
        // Fast path: no escapes, so the string is a slice of the input.
        while position < bytes.count {
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                position += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error(.syntax("unescaped control character \(describe(b)) in a string")) }
            if b < 0x80 { position += 1 } else { try skipUTF8Sequence() }
        }
        var buffer = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[start..<position]))
        while true {
            guard let b = current else { throw error(.syntax("unterminated string")) }
            if b == UInt8(ascii: "\"") { position += 1; break }
            if b < 0x20 { throw error(.syntax("unescaped control character \(describe(b)) in a string")) }
            if b >= 0x80 {
                let from = position
                try skipUTF8Sequence()
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[from..<position]))
                continue
            }
            if b != UInt8(ascii: "\\") { buffer.append(b); position += 1; continue }
            let escapeOffset = position
            position += 1
            guard let e = current else { throw error(.syntax("unterminated string")) }
            position += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): buffer.append(e)
            case UInt8(ascii: "b"): buffer.append(0x08)
            case UInt8(ascii: "f"): buffer.append(0x0C)
            case UInt8(ascii: "n"): buffer.append(0x0A)
            case UInt8(ascii: "r"): buffer.append(0x0D)
            case UInt8(ascii: "t"): buffer.append(0x09)
            case UInt8(ascii: "u"):
                var code = try parseHex4()
                if (0xD800...0xDBFF).contains(code) {
                    let afterHigh = position
                    var low: UInt32?
                    if position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") {
                        position += 2
                        let candidate = try parseHex4()
                        if (0xDC00...0xDFFF).contains(candidate) { low = candidate } else { position = afterHigh }
                    }
                    if let low {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        guard options.loneSurrogates == .replace else { throw error(.loneSurrogate, at: escapeOffset) }
                        code = 0xFFFD
                    }
                } else if (0xDC00...0xDFFF).contains(code) {
                    guard options.loneSurrogates == .replace else { throw error(.loneSurrogate, at: escapeOffset) }
                    code = 0xFFFD
                }
                appendUTF8(code, to: &buffer)
            default:
                throw error(.syntax("invalid escape '\\\(Character(Unicode.Scalar(e)))'"), at: escapeOffset)
            }
        }
        return String(decoding: buffer, as: UTF8.self)
    }

    private func appendUTF8(_ code: UInt32, to buffer: inout [UInt8]) {
        switch code {
        case 0..<0x80:
            buffer.append(UInt8(code))
        case 0x80..<0x800:
            buffer.append(UInt8(0xC0 | code >> 6))
            buffer.append(UInt8(0x80 | code & 0x3F))
        case 0x800..<0x10000:
            buffer.append(UInt8(0xE0 | code >> 12))
            buffer.append(UInt8(0x80 | code >> 6 & 0x3F))
            buffer.append(UInt8(0x80 | code & 0x3F))
        default:
            buffer.append(UInt8(0xF0 | code >> 18))
            buffer.append(UInt8(0x80 | code >> 12 & 0x3F))
            buffer.append(UInt8(0x80 | code >> 6 & 0x3F))
            buffer.append(UInt8(0x80 | code & 0x3F))
        }
    }

    // MARK: Numbers

    private mutating func parseNumber() throws -> JSONValue {
        let start = position
        var negative = false
        if current == UInt8(ascii: "-") { negative = true; position += 1 }
        guard let first = current, first &- 0x30 < 10 else {
            throw error(.syntax("unexpected \(describe(current)), expected a digit"))
        }
        var mantissa: UInt64 = 0
        var significant = 0   // digits accumulated into `mantissa` (leading zeros excluded)
        var dropped = false   // a nonzero digit did not fit in the 19 a UInt64 holds exactly
        var fractionDigits = 0
        if first == UInt8(ascii: "0") {
            position += 1
            if let next = current, next &- 0x30 < 10 { throw error(.syntax("a number cannot start with 0 followed by a digit")) }
        } else {
            while let b = current, b &- 0x30 < 10 {
                if significant < 19 { mantissa = mantissa &* 10 &+ UInt64(b &- 0x30); significant += 1 } else { dropped = true }
                position += 1
            }
        }
        let integerEnd = position
        var integral = true
        if current == UInt8(ascii: ".") {
            integral = false
            position += 1
            guard let b = current, b &- 0x30 < 10 else { throw error(.syntax("expected a digit after '.'")) }
            while let b = current, b &- 0x30 < 10 {
                let d = b &- 0x30
                if !dropped {
                    if mantissa == 0 && d == 0 {
                        fractionDigits += 1
                    } else if significant < 19 {
                        mantissa = mantissa &* 10 &+ UInt64(d)
                        significant += 1
                        fractionDigits += 1
                    } else if d != 0 {
                        dropped = true
                    }
                }
                position += 1
            }
        }
        var exponent = 0
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            integral = false
            position += 1
            var exponentNegative = false
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") {
                exponentNegative = current == UInt8(ascii: "-")
                position += 1
            }
            guard let b = current, b &- 0x30 < 10 else { throw error(.syntax("expected a digit in the exponent")) }
            while let b = current, b &- 0x30 < 10 {
                if exponent < 1_000_000 { exponent = exponent * 10 + Int(b &- 0x30) }
                position += 1
            }
            if exponentNegative { exponent = -exponent }
        }
        let text = UnsafeRawBufferPointer(rebasing: bytes[start..<position])
        if integral {
            if !dropped {
                if !negative, mantissa <= UInt64(Int64.max) { return .integer(Int64(mantissa)) }
                if negative, mantissa <= UInt64(Int64.max) + 1 { return .integer(mantissa == UInt64(Int64.max) + 1 ? .min : -Int64(mantissa)) }
            }
            _ = integerEnd
            return .bigInteger(String(decoding: text, as: UTF8.self))
        }
        // Clinger's fast path: both operands exact, so one correctly rounded operation.
        let power = exponent - fractionDigits
        if !dropped, mantissa <= 1 << 53, power >= -22, power <= 22 {
            var value = Double(mantissa)
            value = power < 0 ? value / Self.powersOfTen[-power] : value * Self.powersOfTen[power]
            return .double(negative ? -value : value)
        }
        // The standard library's conversion is strtod's in the C locale (correctly rounded).
        guard let value = Double(String(decoding: text, as: UTF8.self)) else {
            throw error(.syntax("invalid number"), at: start)
        }
        guard value.isFinite else { throw error(.numberOutOfRange, at: start) }
        return .double(value)
    }

    private static let powersOfTen: [Double] = (0...22).map { (0..<$0).reduce(1.0) { r, _ in r * 10 } }
}

/// A string hashed and compared by its UTF-8 bytes (Swift's `String` equality is
/// canonical equivalence, which would merge distinct keys such as "é" and "e\u{301}").
struct ByteKey: Hashable {
    let text: String
    init(_ text: String) { self.text = text }

    static func == (a: ByteKey, b: ByteKey) -> Bool { a.text.utf8.elementsEqual(b.text.utf8) }

    func hash(into hasher: inout Hasher) {
        var text = text
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
