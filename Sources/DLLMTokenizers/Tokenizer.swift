import Foundation

/// A tokenizer (byte-level BPE, or BERT's WordPiece): normalizer → pre-tokenizer → model →
/// post-processor, and a decoder for the way back, loaded from a
/// `tokenizer.json` (or GPT-2's `vocab.json` + `merges.txt`).
///
/// `encode`/`decode` mirror `Tokenizer::encode` / `Tokenizer::decode` of the
/// Rust crate (the Python `tokenizers` package) id for id.
// @unchecked Sendable: every stored property is a `let` set in `init` (the pipeline stages are immutable
// structs; NSRegularExpression is thread-safe), except the lazy `decodeTable`, used only under `decodeTableLock`.
public final class Tokenizer: @unchecked Sendable {
    public let model: any TokenizerModel
    public let normalizer: Normalizer?
    public let preTokenizer: PreTokenizer?
    public let postProcessor: PostProcessor?
    public let decoder: TokenDecoder?
    public let addedTokens: [AddedToken]
    /// Where the tokenizer was loaded from.
    public let source: String

    let added: AddedVocabulary
    /// Pre-tokenizer stages run before a final ByteLevel whose byte mapping is
    /// left to the model (byte mode), when the pipeline has that shape.
    private let stagesBeforeByteLevel: [PreTokenizer]
    private let finalByteLevel: ByteLevelPreTokenizer?
    private let specialContents: Set<String>
    private let addedContents: [String: UInt32]
    private let byteLevelDecoding: Bool
    private let decodeTableLock = NSLock()
    private var decodeTable: [[UInt8]]? = nil

    public init(model: any TokenizerModel, normalizer: Normalizer? = nil, preTokenizer: PreTokenizer? = nil,
                postProcessor: PostProcessor? = nil, decoder: TokenDecoder? = nil,
                addedTokens: [AddedToken] = [], source: String = "<memory>") {
        self.model = model
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.postProcessor = postProcessor
        self.decoder = decoder
        self.addedTokens = addedTokens
        self.source = source
        added = AddedVocabulary(tokens: addedTokens, normalizer: normalizer)
        specialContents = Set(addedTokens.filter(\.special).map(\.content))
        var contents: [String: UInt32] = [:]
        for t in addedTokens { contents[t.content] = t.id }
        addedContents = contents

        var flat: [PreTokenizer] = []
        func flatten(_ p: PreTokenizer) {
            if let s = p as? SequencePreTokenizer { s.preTokenizers.forEach(flatten) } else { flat.append(p) }
        }
        if let preTokenizer { flatten(preTokenizer) }
        if let last = flat.last as? ByteLevelPreTokenizer,
           !flat.dropLast().contains(where: { $0 is ByteLevelPreTokenizer }) {
            stagesBeforeByteLevel = Array(flat.dropLast())
            finalByteLevel = last
        } else {
            stagesBeforeByteLevel = flat
            finalByteLevel = nil
        }
        func onlyByteLevel(_ d: TokenDecoder) -> Bool {
            if d is ByteLevelDecoder { return true }
            if let s = d as? SequenceDecoder { return !s.decoders.isEmpty && s.decoders.allSatisfy(onlyByteLevel) }
            return false
        }
        byteLevelDecoding = decoder.map(onlyByteLevel) ?? false
    }

    /// The BPE model, when the tokenizer is one.
    public var bpe: BPEModel? { model as? BPEModel }

    /// Number of distinct ids: the model's vocabulary plus added tokens not in it.
    public var vocabSize: Int {
        model.vocabSize + addedTokens.filter { model.tokenToId($0.content) == nil }.count
    }

    public func tokenToId(_ token: String) -> UInt32? {
        addedContents[token] ?? model.tokenToId(token)
    }

    public func idToToken(_ id: UInt32) -> String? {
        added.byId[id]?.content ?? model.idToToken(id)
    }

    // MARK: - Encoding

    /// Encodes one text; with `addSpecialTokens` the post-processor's template
    /// (for example a BOS token) is applied.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [UInt32] {
        let ids = encodeSequence(text)
        guard let postProcessor else { return ids }
        return postProcessor.process(ids, pair: nil, addSpecialTokens: addSpecialTokens)
    }

    /// Encodes a pair of texts (`Tokenizer::encode` with a pair input).
    public func encode(_ text: String, pair: String, addSpecialTokens: Bool = true) -> [UInt32] {
        let a = encodeSequence(text), b = encodeSequence(pair)
        guard let postProcessor else { return a + b }
        return postProcessor.process(a, pair: b, addSpecialTokens: addSpecialTokens)
    }

    /// The ids of one sequence, before post-processing.
    public func encodeSequence(_ text: String) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(text.utf8.count / 3 + 4)
        if added.isEmpty {
            let normalized = normalizer.map { $0.normalize(text) } ?? text
            encodeText(Substring(normalized), into: &out)
        } else {
            for piece in added.extractAndNormalize(text, normalizer: normalizer) {
                switch piece {
                case .token(let id): out.append(id)
                case .text(let t): encodeText(t, into: &out)
                }
            }
        }
        return out
    }

    /// Pre-tokenizes one normalized text piece and runs the model on each word.
    private func encodeText(_ text: Substring, into out: inout [UInt32]) {
        if text.isEmpty { return }
        var pieces: [Substring] = [text]
        for stage in stagesBeforeByteLevel { pieces = stage.preTokenize(pieces) }
        if let finalByteLevel {
            var words: [Substring] = []
            words.reserveCapacity(text.utf8.count / 4 + 1)
            finalByteLevel.split(pieces, into: &words)
            for w in words { model.tokenize(w, byteMode: true, into: &out) }
        } else {
            for w in pieces { model.tokenize(w, byteMode: false, into: &out) }
        }
    }

    // MARK: - Decoding

    /// Decodes ids to text like `Tokenizer::decode`; special added tokens are left out when
    /// `skipSpecialTokens`. An id that names no token (at or beyond the vocabulary, or a
    /// negative id passed through `UInt32(bitPattern:)`) is dropped, as `tokenizers` drops it,
    /// or with `replacingUnknown` becomes U+FFFD, so the loss is visible in the text.
    /// ``checkIDs(_:)`` refuses such ids with an error instead.
    public func decode(_ ids: [UInt32], skipSpecialTokens: Bool = false, replacingUnknown: Bool = false) -> String {
        if byteLevelDecoding {
            let table = byteTable()
            var bytes: [UInt8] = []
            bytes.reserveCapacity(ids.count * 4)
            for id in ids {
                if skipSpecialTokens, let token = idToToken(id), specialContents.contains(token) { continue }
                if Int(id) < table.count, !table[Int(id)].isEmpty || idToToken(id) != nil {
                    bytes.append(contentsOf: table[Int(id)])
                } else if replacingUnknown {
                    bytes.append(contentsOf: Self.replacementCharacter.utf8)
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        let tokens: [String] = ids.compactMap { id in
            guard let token = idToToken(id) else { return replacingUnknown ? Self.replacementCharacter : nil }
            if skipSpecialTokens && specialContents.contains(token) { return nil }
            return token
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decode(tokens)
    }

    /// What ``decode(_:skipSpecialTokens:replacingUnknown:)`` writes for an unknown id.
    public static let replacementCharacter = "\u{FFFD}"

    /// Throws ``TokenizerError/unknownTokenID(id:position:vocabSize:)`` for the first id that
    /// names no token (ids are `Int64` so a negative one is reported as written).
    public func checkIDs<IDs: Sequence>(_ ids: IDs) throws where IDs.Element: BinaryInteger {
        for (position, id) in ids.enumerated() {
            guard let exact = UInt32(exactly: id), idToToken(exact) != nil else {
                throw TokenizerError.unknownTokenID(id: Int64(clamping: id), position: position, vocabSize: vocabSize)
            }
        }
    }

    /// Bytes of every id under the ByteLevel decoder, built on first use.
    private func byteTable() -> [[UInt8]] {
        decodeTableLock.lock()
        defer { decodeTableLock.unlock() }
        if let decodeTable { return decodeTable }
        var maxId = model.idUpperBound
        for t in addedTokens { maxId = max(maxId, Int(t.id) + 1) }
        var table = [[UInt8]](repeating: [], count: maxId)
        for id in 0..<maxId {
            if let token = idToToken(UInt32(id)) { table[id] = ByteLevelDecoder.bytes(of: token) }
        }
        decodeTable = table
        return table
    }
}
