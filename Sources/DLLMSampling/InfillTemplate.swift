/// A text with placeholders for the tokens to infill.
///
/// Placeholder syntax (each placeholder becomes mask tokens; everything else is text):
/// - `[MASK]` — one mask token; `[MASK×8]`, `[MASK*8]` or `[MASKx8]` — eight;
/// - the tokenizer's mask token text itself, e.g. `<|mdm_mask|>`, optionally followed
///   by `×8` or `*8` for eight.
///
/// `"The king said [MASK*6] and left."` tokenizes the two text pieces separately (as a
/// tokenizer splits text around an added special token) with six mask ids between.
public struct InfillTemplate: Sendable, Equatable {
    public enum Piece: Sendable, Equatable {
        case text(String)
        case masks(Int)
    }

    public let pieces: [Piece]

    /// Parses `text`; `maskToken` is the tokenizer's mask token text, if any.
    public init(parsing text: String, maskToken: String? = nil) throws {
        var pieces: [Piece] = []
        var pending = ""
        var rest = Substring(text)
        func flush() {
            if !pending.isEmpty { pieces.append(.text(pending)); pending = "" }
        }
        while !rest.isEmpty {
            if rest.hasPrefix("[MASK") {
                var after = rest.dropFirst(5)
                var count = 1
                if let first = after.first, "×*x".contains(first) {
                    after = after.dropFirst()
                    let digits = after.prefix(while: \.isNumber)
                    guard let n = Int(digits), n > 0 else {
                        throw SamplingError.invalidValue(parameter: "infill", value: String(rest.prefix(16)),
                                                         reason: "a repeated placeholder needs a positive count, as in [MASK*8]")
                    }
                    count = n
                    after = after.dropFirst(digits.count)
                }
                guard after.first == "]" else {
                    throw SamplingError.invalidValue(parameter: "infill", value: String(rest.prefix(16)),
                                                     reason: "unterminated placeholder; write [MASK] or [MASK*N]")
                }
                flush()
                pieces.append(.masks(count))
                rest = after.dropFirst()
                continue
            }
            if let maskToken, !maskToken.isEmpty, rest.hasPrefix(maskToken) {
                var after = rest.dropFirst(maskToken.count)
                var count = 1
                if let first = after.first, "×*".contains(first) {
                    let digits = after.dropFirst().prefix(while: \.isNumber)
                    if let n = Int(digits), n > 0 {
                        count = n
                        after = after.dropFirst(1 + digits.count)
                    }
                }
                flush()
                pieces.append(.masks(count))
                rest = after
                continue
            }
            pending.append(rest.removeFirst())
        }
        flush()
        guard pieces.contains(where: { if case .masks = $0 { return true } else { return false } }) else {
            throw SamplingError.emptyInput(parameter: "infill", reason: "the text has no [MASK] placeholder to fill")
        }
        self.pieces = pieces
    }

    /// Token ids: `prefix` (e.g. BOS), then each text piece encoded on its own and
    /// `maskID` for each placeholder token.
    public func tokens(prefix: [Int32] = [], maskID: Int32, encode: (String) -> [Int32]) -> [Int32] {
        var ids = prefix
        for piece in pieces {
            switch piece {
            case .text(let s): ids += encode(s)
            case .masks(let n): ids += [Int32](repeating: maskID, count: n)
            }
        }
        return ids
    }

    /// Number of mask tokens.
    public var maskCount: Int {
        pieces.reduce(0) { if case .masks(let n) = $1 { return $0 + n } else { return $0 } }
    }
}
