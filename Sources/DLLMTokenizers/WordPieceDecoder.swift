/// `decoders::wordpiece::WordPiece`: tokens joined by spaces, `##` continuations glued to the
/// previous token and, with `cleanup`, the space BERT's tokenization put before punctuation removed
/// (token by token, as the crate does since it decodes in chains).
public struct WordPieceDecoder: TokenDecoder {
    public let prefix: String
    public let cleanup: Bool

    public init(prefix: String = "##", cleanup: Bool = true) {
        self.prefix = prefix
        self.cleanup = cleanup
    }

    /// Mirrors `WordPiece::decode_chain`: every token after the first gets a leading space unless
    /// it starts with the prefix (which is dropped), then each piece is cleaned up on its own.
    public func decodeChain(_ tokens: [String]) -> [String] {
        tokens.enumerated().map { i, token in
            var piece = token
            if i != 0 {
                // Bytes, not Characters: "##" before a combining sign is not a Character prefix.
                if piece.utf8.starts(with: prefix.utf8) {
                    piece = String(decoding: piece.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
                } else {
                    piece = " " + piece
                }
            }
            return cleanup ? Self.cleanUp(piece) : piece
        }
    }

    /// The crate's `cleanup`: spaces before punctuation and inside English contractions removed.
    static func cleanUp(_ text: String) -> String {
        var out = text
        for (from, to) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                           (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
            out = out.replacingOccurrences(of: from, with: to)
        }
        return out
    }
}
