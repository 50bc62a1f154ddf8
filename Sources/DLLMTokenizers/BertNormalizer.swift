import Foundation

/// `normalizers::bert::BertNormalizer` of the Rust crate (BERT's `BasicTokenizer` clean-up):
/// drop NUL, U+FFFD and "other" characters (categories Cc, Cf, Cn, Co, Cs, except tab, newline
/// and carriage return), turn every whitespace character into a space, put spaces around CJK
/// ideographs, strip accents (NFD, then drop nonspacing marks), lowercase per character.
///
/// `strip_accents` null follows `lowercase`, as the crate does.
public struct BertNormalizer: Normalizer {
    public let cleanText: Bool
    public let handleChineseChars: Bool
    public let stripAccents: Bool
    public let lowercase: Bool

    public init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents ?? lowercase
        self.lowercase = lowercase
    }

    init(json: JSONObject) {
        let strip = json["strip_accents"]?.boolValue
        self.init(cleanText: json.bool("clean_text", default: true),
                  handleChineseChars: json.bool("handle_chinese_chars", default: true),
                  stripAccents: strip, lowercase: json.bool("lowercase", default: true))
    }

    public func normalize(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            if cleanText {
                if s.value == 0 || s.value == 0xFFFD || Self.isControl(s) { continue }
                if Self.isWhitespace(s) { scalars.append(" "); continue }
            }
            if handleChineseChars && Self.isChineseChar(s.value) {
                scalars.append(" "); scalars.append(s); scalars.append(" ")
                continue
            }
            scalars.append(s)
        }
        var out = String(scalars)
        if stripAccents {
            let decomposed = out.decomposedStringWithCanonicalMapping
            var kept = String.UnicodeScalarView()
            for s in decomposed.unicodeScalars where s.properties.generalCategory != .nonspacingMark { kept.append(s) }
            out = String(kept)
        }
        if lowercase {
            // Per character, without context (Rust's `char::to_lowercase`): a final Σ stays σ.
            var lowered = String.UnicodeScalarView()
            for s in out.unicodeScalars {
                if s.isASCII { lowered.append((65...90).contains(s.value) ? Unicode.Scalar(UInt8(s.value + 32)) : s) }
                else { lowered.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars) }
            }
            out = String(lowered)
        }
        return out
    }

    /// Tab, newline and carriage return count as whitespace, then the White_Space property.
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == "\t" || s == "\n" || s == "\r" || s.properties.isWhitespace
    }

    /// The crate's `is_control`: categories Cc, Cf, Cn, Co, Cs, except tab, newline and carriage return.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// The CJK Unified Ideographs blocks BERT isolates (the crate's `is_chinese_char`).
    static func isChineseChar(_ v: UInt32) -> Bool {
        switch v {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}
