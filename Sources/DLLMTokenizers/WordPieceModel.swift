import Foundation

/// WordPiece (Schuster & Nakajima 2012, as BERT uses it; `models::wordpiece::WordPiece` of the
/// Rust crate): each word is split greedily into the longest vocabulary piece from the left,
/// pieces after the first carrying the `##` continuation prefix. A word longer than
/// `maxInputCharsPerWord` characters, or one with a remainder no piece matches, becomes the
/// single unknown token.
// @unchecked Sendable: every stored property is a `let` set in `init`.
public final class WordPieceModel: TokenizerModel, @unchecked Sendable {
    let vocab: [RawString: UInt32]
    let vocabR: [String?]
    public let unkToken: String
    public let continuingSubwordPrefix: String
    public let maxInputCharsPerWord: Int
    let unkId: UInt32

    public init(vocab: [(String, UInt32)], unkToken: String = "[UNK]", continuingSubwordPrefix: String = "##",
                maxInputCharsPerWord: Int = 100, file: String = "<memory>") throws {
        var v: [RawString: UInt32] = [:]
        v.reserveCapacity(vocab.count)
        var maxId: UInt32 = 0
        for (token, id) in vocab {
            v[RawString(token)] = id
            maxId = max(maxId, id)
        }
        guard let unk = v[RawString(unkToken)] else {
            throw TokenizerError.malformedJSON(file: file, detail: "WordPiece unk_token '\(unkToken)' is not in the vocabulary")
        }
        var r = [String?](repeating: nil, count: vocab.isEmpty ? 0 : Int(maxId) + 1)
        for (token, id) in vocab { r[Int(id)] = token }
        self.vocab = v
        vocabR = r
        self.unkToken = unkToken
        unkId = unk
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
    }

    public var vocabSize: Int { vocab.count }
    public var idUpperBound: Int { vocabR.count }
    public func tokenToId(_ token: String) -> UInt32? { vocab[RawString(token)] }
    public func idToToken(_ id: UInt32) -> String? { Int(id) < vocabR.count ? vocabR[Int(id)] : nil }

    /// Mirrors `WordPiece::tokenize`: greedy longest match from the left; `byteMode` does not apply.
    public func tokenize(_ word: Substring, byteMode: Bool, into out: inout [UInt32]) {
        let scalars = word.unicodeScalars
        if scalars.count > maxInputCharsPerWord {
            out.append(unkId)
            return
        }
        var pieces: [UInt32] = []
        var start = scalars.startIndex
        while start < scalars.endIndex {
            var end = scalars.endIndex
            var found: UInt32? = nil
            while start < end {
                let body = String(scalars[start..<end])
                let candidate = start == scalars.startIndex ? body : continuingSubwordPrefix + body
                if let id = vocab[RawString(candidate)] {
                    found = id
                    break
                }
                end = scalars.index(before: end)
            }
            guard let id = found else {
                out.append(unkId)
                return
            }
            pieces.append(id)
            start = end
        }
        out.append(contentsOf: pieces)
    }
}
