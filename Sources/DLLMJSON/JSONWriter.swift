/// JSON text from ``JSONValue``.
///
/// - Strings are escaped as `serde_json` and Python's `json.dumps(ensure_ascii=False)`
///   escape them: `"` and `\`, the short forms `\b \f \n \r \t`, other control characters
///   as `\u00XX`; everything else, `/` and non-ASCII included, is written as UTF-8.
/// - Doubles are written as the shortest text that reads back to the same double, in
///   Python's `repr` spelling (`0.001`, `1e-05`, `1.5e+20`, `1.0`); NaN and infinities,
///   which JSON cannot hold, are written as `null`.
/// - ``Style/compact`` has no whitespace (`serde_json::to_string`); ``Style/indented(_:)``
///   matches `json.dumps(indent: n)`: one member per line, `": "` after keys, empty
///   containers as `{}` and `[]`.
public enum JSONWriter {
    public enum Style: Sendable, Equatable {
        case compact
        case indented(Int)
    }

    /// The text of `value` as UTF-8 bytes; `sortedKeys` orders members by their keys'
    /// code points (Python's `sort_keys=True`), otherwise members keep their order.
    public static func bytes(_ value: JSONValue, style: Style = .compact, sortedKeys: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        append(value, to: &out, style: style, sortedKeys: sortedKeys, level: 0)
        return out
    }

    /// The text of `value` as a string.
    public static func string(_ value: JSONValue, style: Style = .compact, sortedKeys: Bool = false) -> String {
        String(decoding: bytes(value, style: style, sortedKeys: sortedKeys), as: UTF8.self)
    }

    public static func append(_ value: JSONValue, to out: inout [UInt8], style: Style = .compact,
                              sortedKeys: Bool = false, level: Int = 0) {
        switch value {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let flag): appendBool(flag, to: &out)
        case .integer(let n): appendInteger(n, to: &out)
        case .bigInteger(let text): out.append(contentsOf: text.utf8)
        case .double(let d): appendDouble(d, to: &out)
        case .string(let s): appendString(s, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, style: style, level: level + 1)
                append(element, to: &out, style: style, sortedKeys: sortedKeys, level: level + 1)
            }
            if !elements.isEmpty { newline(&out, style: style, level: level) }
            out.append(UInt8(ascii: "]"))
        case .object(var members):
            if sortedKeys { members.sort { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) } }
            out.append(UInt8(ascii: "{"))
            for (i, member) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, style: style, level: level + 1)
                appendString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                if style != .compact { out.append(UInt8(ascii: " ")) }
                append(member.value, to: &out, style: style, sortedKeys: sortedKeys, level: level + 1)
            }
            if !members.isEmpty { newline(&out, style: style, level: level) }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func newline(_ out: inout [UInt8], style: Style, level: Int) {
        guard case .indented(let width) = style else { return }
        out.append(0x0A)
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: width * level))
    }

    // MARK: Scalars (also used by streaming writers that build objects without a tree)

    /// A quoted, escaped string.
    @inlinable public static func appendString(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x00..<0x20:
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hexDigit(byte >> 4), hexDigit(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    @inlinable static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x57 + nibble }

    /// Kept out of line and unoptimised: as an inlinable function, the release build (Swift 6.3,
    /// -O with cross-module optimisation) began writing `true` for false and `false` for true in
    /// `config.json` after unrelated changes in other modules, while the debug build, the parser
    /// and the in-memory configuration were right; out of line the values are written as they are.
    /// `Launchers/run-main.sh` (release) checks a converted folder's booleans.
    @inline(never) @_optimize(none)
    public static func appendBool(_ flag: Bool, to out: inout [UInt8]) {
        if flag { out.append(contentsOf: [0x74, 0x72, 0x75, 0x65]) } else { out.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65]) }
    }

    /// Decimal digits of an integer, without allocating.
    @inlinable public static func appendInteger<I: BinaryInteger>(_ value: I, to out: inout [UInt8]) {
        if value == 0 { out.append(0x30); return }
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var v = value.magnitude
        var scratch: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)  // 40 bytes: any 128-bit integer's digits
        withUnsafeMutableBytes(of: &scratch) { digits in
            var n = 0
            while v > 0 {
                digits[39 - n] = UInt8(truncatingIfNeeded: v % 10) + 0x30
                v /= 10
                n += 1
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: digits[(40 - n)...]))
        }
    }

    /// A double as Python's `repr` writes it (Swift's `description` is the same shortest
    /// round-trip text and the same switch to exponent form: below 1e-4 and from 1e16);
    /// non-finite values as `null`.
    @inlinable public static func appendDouble(_ value: Double, to out: inout [UInt8]) {
        guard value.isFinite else { out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C]); return }
        out.append(contentsOf: value.description.utf8)
    }
}
