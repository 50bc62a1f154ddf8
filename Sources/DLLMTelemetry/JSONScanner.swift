import Foundation

/// A strict, allocation-light JSON reader for one message (RFC 8259): the top-level
/// object's members come back as byte ranges with their value's type, nested values
/// are checked but not materialised. Strings must be valid UTF-8 with no raw control
/// characters; nesting deeper than `maxDepth` is refused. Built for hostile input: it
/// never reads past the buffer and never recurses more than `maxDepth` levels.
///
/// Why this stays beside DLLMJSON (the package's one JSON parser): on the collector's
/// receive path a whole DLLMJSON tree costs 3.3–3.4 µs per step event against 0.92 µs
/// for this scan, when the collector's whole receive loop takes 3.2 µs per event
/// (`dllm-collector bench --breakdown`, same run; docs/benchmarks.md).
public struct JSONScanner {
    enum ValueType: Equatable { case string, number, object, array, bool, null }

    struct Member {
        /// The key's bytes without quotes (still escaped when `keyEscaped`).
        var key: Range<Int>
        var keyEscaped: Bool
        var type: ValueType
        /// The value's bytes; for strings, without quotes.
        var value: Range<Int>
        var valueEscaped: Bool
        /// `"key": value` as written, for cutting a member out of the message.
        var whole: Range<Int>
        /// Exact integer value when the number has no fraction or exponent and fits.
        var integer: Int?
        /// The number's value when it could be computed exactly while scanning
        /// (short mantissa, small exponent); otherwise `double(_:_:)` calls strtod.
        var number: Double?
        var bool: Bool
    }

    enum Failure: Error, Equatable {
        case syntax(offset: Int, expected: String)
        case tooDeep
        case badUTF8(offset: Int)
        case tooManyMembers
    }

    let bytes: UnsafeRawBufferPointer
    let maxDepth: Int
    let maxMembers: Int
    private var i = 0
    /// Whether whitespace between tokens included a line break (the only place one can be).
    private(set) var sawLineBreak = false

    init(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = WireFormat.maxDepth, maxMembers: Int = 256) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        self.maxMembers = maxMembers
    }

    /// Reads a whole message that must be one object; returns its members in order.
    mutating func topLevelMembers() throws -> [Member] {
        var members: [Member] = []
        try topLevelMembers(into: &members)
        return members
    }

    /// The same, into a buffer reused across messages (emptied first).
    mutating func topLevelMembers(into members: inout [Member]) throws {
        members.removeAll(keepingCapacity: true)
        skipWhitespace()
        try expect(UInt8(ascii: "{"), "an object")
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                skipWhitespace()
                let start = i
                try expect(UInt8(ascii: "\""), "a key")
                let (keyRange, keyEscaped) = try stringBody()
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':'")
                skipWhitespace()
                var member = Member(key: keyRange, keyEscaped: keyEscaped, type: .null, value: i..<i,
                                    valueEscaped: false, whole: start..<start, integer: nil, number: nil, bool: false)
                try value(into: &member, depth: 1)
                member.whole = start..<i
                members.append(member)
                guard members.count <= maxMembers else { throw Failure.tooManyMembers }
                skipWhitespace()
                if peek() == UInt8(ascii: ",") { i += 1; continue }
                try expect(UInt8(ascii: "}"), "',' or '}'")
                break
            }
        }
        skipWhitespace()
        guard i == bytes.count else { throw Failure.syntax(offset: i, expected: "the end of the message") }
    }

    // MARK: Values

    private mutating func value(into member: inout Member, depth: Int) throws {
        let start = i
        switch peek() {
        case UInt8(ascii: "\""):
            i += 1
            let (range, escaped) = try stringBody()
            member.type = .string
            member.value = range
            member.valueEscaped = escaped
            return
        case UInt8(ascii: "{"):
            try skipContainer(close: UInt8(ascii: "}"), object: true, depth: depth + 1)
            member.type = .object
        case UInt8(ascii: "["):
            try skipContainer(close: UInt8(ascii: "]"), object: false, depth: depth + 1)
            member.type = .array
        case UInt8(ascii: "t"):
            try literal("true")
            member.type = .bool
            member.bool = true
        case UInt8(ascii: "f"):
            try literal("false")
            member.type = .bool
        case UInt8(ascii: "n"):
            try literal("null")
            member.type = .null
        default:
            (member.integer, member.number) = try number()
            member.type = .number
        }
        member.value = start..<i
    }

    /// Checks a nested value without keeping it.
    private mutating func skipValue(depth: Int) throws {
        switch peek() {
        case UInt8(ascii: "\""): i += 1; _ = try stringBody()
        case UInt8(ascii: "{"): try skipContainer(close: UInt8(ascii: "}"), object: true, depth: depth + 1)
        case UInt8(ascii: "["): try skipContainer(close: UInt8(ascii: "]"), object: false, depth: depth + 1)
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: _ = try number()
        }
    }

    private mutating func skipContainer(close: UInt8, object: Bool, depth: Int) throws {
        guard depth <= maxDepth else { throw Failure.tooDeep }
        i += 1
        skipWhitespace()
        if peek() == close { i += 1; return }
        while true {
            skipWhitespace()
            if object {
                try expect(UInt8(ascii: "\""), "a key")
                _ = try stringBody()
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':'")
                skipWhitespace()
            }
            try skipValue(depth: depth)
            skipWhitespace()
            if peek() == UInt8(ascii: ",") { i += 1; continue }
            try expect(close, object ? "',' or '}'" : "',' or ']'")
            return
        }
    }

    /// After the opening quote: the string's bytes up to (not including) the closing
    /// quote, which is consumed. Validates escapes and UTF-8.
    private mutating func stringBody() throws -> (Range<Int>, Bool) {
        let start = i
        var escaped = false
        let count = bytes.count
        while i < count {
            // Fast path: printable ASCII other than the quote and the backslash.
            var k = i
            while k < count {
                let c = bytes[k]
                guard c >= 0x20, c < 0x80, c != 0x22, c != 0x5C else { break }
                k += 1
            }
            i = k
            guard i < count else { break }
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                let range = start..<i
                i += 1
                return (range, escaped)
            } else if b == UInt8(ascii: "\\") {
                escaped = true
                i += 1
                guard i < bytes.count else { break }
                switch bytes[i] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 1
                case UInt8(ascii: "u"):
                    guard i + 4 < bytes.count, (1...4).allSatisfy({ Self.hexValue(bytes[i + $0]) != nil }) else {
                        throw Failure.syntax(offset: i, expected: "four hex digits after \\u")
                    }
                    i += 5
                default:
                    throw Failure.syntax(offset: i, expected: "an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)")
                }
            } else if b < 0x20 {
                throw Failure.syntax(offset: i, expected: "no control characters inside a string")
            } else if b < 0x80 {
                i += 1
            } else {
                try utf8Sequence()
            }
        }
        throw Failure.syntax(offset: bytes.count, expected: "a closing quote")
    }

    /// One multi-byte UTF-8 sequence: no overlong forms, surrogates, or code points past U+10FFFF.
    private mutating func utf8Sequence() throws {
        let b0 = bytes[i]
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
        default: throw Failure.badUTF8(offset: i)
        }
        guard i + length <= bytes.count else { throw Failure.badUTF8(offset: i) }
        let b1 = bytes[i + 1]
        guard b1 >= lower && b1 <= upper else { throw Failure.badUTF8(offset: i) }
        for k in 2..<length where bytes[i + k] & 0xC0 != 0x80 { throw Failure.badUTF8(offset: i) }
        i += length
    }

    /// A number per the JSON grammar: its exact integer value when it is a plain
    /// integer that fits, and its value when a short mantissa and small power of ten
    /// make it exact in double arithmetic (Clinger's fast path).
    private mutating func number() throws -> (Int?, Double?) {
        let count = bytes.count
        var j = i
        var negative = false
        if j < count && bytes[j] == UInt8(ascii: "-") { negative = true; j += 1 }
        guard j < count, bytes[j] >= 0x30 && bytes[j] <= 0x39 else { throw Failure.syntax(offset: i, expected: "a value") }
        var mantissa: UInt64 = 0
        var significant = 0     // digits accumulated into the mantissa (leading zeros excluded)
        var dropped = false     // digits beyond the 19 a UInt64 holds
        var integerDigits = 0
        var fractionDigits = 0
        if bytes[j] == 0x30 {
            j += 1
            integerDigits = 1
        } else {
            while j < count {
                let d = bytes[j] &- 0x30
                guard d < 10 else { break }
                if significant < 19 { mantissa = mantissa &* 10 &+ UInt64(d); significant += 1 } else { dropped = true }
                integerDigits += 1
                j += 1
            }
        }
        var integral = true
        if j < count && bytes[j] == UInt8(ascii: ".") {
            integral = false
            j += 1
            guard j < count, bytes[j] &- 0x30 < 10 else { throw Failure.syntax(offset: j, expected: "a digit after '.'") }
            while j < count {
                let d = bytes[j] &- 0x30
                guard d < 10 else { break }
                if !dropped {
                    if mantissa == 0 && d == 0 {
                        fractionDigits += 1           // a leading zero: not significant
                    } else if significant < 19 {
                        mantissa = mantissa &* 10 &+ UInt64(d)
                        significant += 1
                        fractionDigits += 1
                    } else {
                        dropped = true
                    }
                }
                j += 1
            }
        }
        var exponent = 0
        if j < count && (bytes[j] == UInt8(ascii: "e") || bytes[j] == UInt8(ascii: "E")) {
            integral = false
            j += 1
            var exponentNegative = false
            if j < count && (bytes[j] == UInt8(ascii: "+") || bytes[j] == UInt8(ascii: "-")) {
                exponentNegative = bytes[j] == UInt8(ascii: "-")
                j += 1
            }
            guard j < count, bytes[j] &- 0x30 < 10 else { throw Failure.syntax(offset: j, expected: "a digit in the exponent") }
            while j < count {
                let d = bytes[j] &- 0x30
                guard d < 10 else { break }
                if exponent < 100_000 { exponent = exponent * 10 + Int(d) }
                j += 1
            }
            if exponentNegative { exponent = -exponent }
        }
        i = j
        if integral && !dropped && integerDigits <= 18 {
            let value = negative ? -Int(mantissa) : Int(mantissa)
            return (value, negative ? -Double(mantissa) : Double(mantissa))
        }
        let power = exponent - fractionDigits
        guard !dropped, mantissa <= 1 << 53, power >= -22, power <= 22 else { return (nil, nil) }
        var value = Double(mantissa)
        value = power < 0 ? value / Self.powersOfTen[-power] : value * Self.powersOfTen[power]
        return (nil, negative ? -value : value)
    }

    private static let powersOfTen: [Double] = (0...22).map { (0..<$0).reduce(1.0) { r, _ in r * 10 } }

    private mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw Failure.syntax(offset: i, expected: "\(word)") }
        for k in 0..<n where bytes[i + k] != word.utf8Start[k] { throw Failure.syntax(offset: i, expected: "\(word)") }
        i += n
    }

    // MARK: Bytes

    @inline(__always) private func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

    @inline(__always) private mutating func skipWhitespace() {
        while i < bytes.count {
            let b = bytes[i]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            if b == 0x0A || b == 0x0D { sawLineBreak = true }
            i += 1
        }
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws {
        guard peek() == byte else { throw Failure.syntax(offset: i, expected: what) }
        i += 1
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    /// For `dllm-collector bench --breakdown`: the scanner alone.
    public static func forBenchmark(_ bytes: UnsafeRawBufferPointer) -> JSONScanner { JSONScanner(bytes) }
    public mutating func scanForBenchmark() { _ = try? topLevelMembers() }

    // MARK: Decoding values

    /// A string member's text, with escapes resolved (lone surrogates become U+FFFD).
    static func string(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, escaped: Bool) -> String {
        let slice = UnsafeRawBufferPointer(rebasing: bytes[range])
        guard escaped else { return String(decoding: slice, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var k = 0
        var pendingHigh: UInt32?
        func appendScalar(_ value: UInt32) {
            let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
        }
        while k < slice.count {
            let b = slice[k]
            guard b == UInt8(ascii: "\\") else {
                if let high = pendingHigh { appendScalar(high); pendingHigh = nil }
                out.append(b)
                k += 1
                continue
            }
            let e = slice[k + 1]
            k += 2
            if e == UInt8(ascii: "u") {
                var v: UInt32 = 0
                for j in 0..<4 { v = v << 4 | UInt32(hexValue(slice[k + j])!) }
                k += 4
                if let high = pendingHigh {
                    pendingHigh = nil
                    if (0xDC00...0xDFFF).contains(v) {
                        appendScalar(0x10000 + ((high - 0xD800) << 10) + (v - 0xDC00))
                        continue
                    }
                    appendScalar(0xFFFD)
                }
                if (0xD800...0xDBFF).contains(v) { pendingHigh = v; continue }
                appendScalar((0xDC00...0xDFFF).contains(v) ? 0xFFFD : v)
                continue
            }
            if let high = pendingHigh { appendScalar(high); pendingHigh = nil }
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            default: out.append(e)
            }
        }
        if let high = pendingHigh { appendScalar(high) }
        return String(decoding: out, as: UTF8.self)
    }

    /// A number member's value.
    static func double(_ bytes: UnsafeRawBufferPointer, _ member: Member) -> Double {
        if let number = member.number { return number }
        if let integer = member.integer { return Double(integer) }
        let range = member.value
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: range.count + 1) { buffer in
            for (j, k) in range.enumerated() { buffer[j] = CChar(bitPattern: bytes[k]) }
            buffer[range.count] = 0
            return strtod(buffer.baseAddress!, nil)
        }
    }
}
