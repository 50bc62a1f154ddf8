/// GPT-2's reversible map between bytes and printable Unicode characters.
///
/// Mirrors `bytes_char()` in the Rust crate's `pre_tokenizers/byte_level.rs`
/// (and `bytes_to_unicode()` of OpenAI's `encoder.py`): the printable bytes
/// `!`…`~`, `¡`…`¬` and `®`…`ÿ` stand for themselves; the other 68 bytes are
/// given the code points 256, 257, … in byte order.
public enum ByteLevelAlphabet {
    /// `scalars[b]` is the character standing for byte `b`.
    public static let scalars: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte a byte-level character stands for, or nil if it is not one of the 256.
    @inline(__always)
    public static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = scalar.value
        if v < 256 {
            return isPrintable(v) ? UInt8(v) : nil
        }
        return v < 324 ? reverseHigh[Int(v - 256)] : nil
    }

    @inline(__always)
    private static func isPrintable(_ v: UInt32) -> Bool {
        (33...126).contains(v) || (161...172).contains(v) || (174...255).contains(v)
    }

    private static let reverseHigh: [UInt8] = {
        var r = [UInt8](repeating: 0, count: 68)
        for b in 0..<256 where scalars[b].value >= 256 {
            r[Int(scalars[b].value - 256)] = UInt8(b)
        }
        return r
    }()

    /// Maps UTF-8 bytes to their byte-level string (one character per byte).
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(scalars[Int(b)]) }
        return String(s)
    }

    /// Maps a byte-level string back to bytes; nil if some character is not byte-level.
    public static func decode(_ token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.utf8.count)
        for s in token.unicodeScalars {
            guard let b = byte(for: s) else { return nil }
            out.append(b)
        }
        return out
    }

    /// All 256 byte-level characters (the trainer's initial alphabet).
    public static var alphabet: [Unicode.Scalar] { scalars }
}
