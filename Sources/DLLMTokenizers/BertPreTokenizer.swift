/// `pre_tokenizers::bert::BertPreTokenizer`: splits on whitespace (removed), then isolates every
/// punctuation character (ASCII punctuation, or a Unicode category P*), so `don't` becomes
/// `don`, `'`, `t`.
public struct BertPreTokenizer: PreTokenizer {
    public init() {}

    public func preTokenize(_ pieces: [Substring]) -> [Substring] {
        var out: [Substring] = []
        for piece in pieces {
            var wordStart: String.Index? = nil
            var i = piece.startIndex
            while i < piece.endIndex {
                let s = piece.unicodeScalars[i]
                let next = piece.unicodeScalars.index(after: i)
                if BertNormalizer.isWhitespace(s) || Self.isPunctuation(s) {
                    if let start = wordStart { out.append(Substring(piece.unicodeScalars[start..<i])); wordStart = nil }
                    if !BertNormalizer.isWhitespace(s) { out.append(Substring(piece.unicodeScalars[i..<next])) }
                } else if wordStart == nil {
                    wordStart = i
                }
                i = next
            }
            if let start = wordStart { out.append(Substring(piece.unicodeScalars[start...])) }
        }
        return out
    }

    /// The crate's `is_bert_punc`: `char::is_ascii_punctuation` or a Unicode punctuation category.
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        if s.isASCII {
            let v = s.value
            return (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v) || (0x7B...0x7E).contains(v)
        }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }
}
