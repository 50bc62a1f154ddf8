import DLLMGGUF
import DLLMTokenizers
import Foundation

/// Builds a Hugging Face tokenizer (`tokenizer.json` + `tokenizer_config.json`) from a
/// GGUF file's tokenizer metadata, equal to what transformers builds from the same file
/// with `AutoTokenizer.from_pretrained(dir, gguf_file=…)` and writes with `save_pretrained`.
///
/// Mirrors transformers' `integrations/gguf/gguf_tokenizer_mapping.py`
/// (`get_gguf_tokenizer`, `convert_gguf_tokenizer`, `byte_level_tokenizer`,
/// `sentencepiece_tokenizer`, `get_merges`, `add_gguf_special_tokens`, `set_split_regex`)
/// and the `TokenizersBackend` / `GPT2Tokenizer` / `LlamaTokenizer` set-up it hands the
/// result to. Two vocabularies (`tokenizer.ggml.model`):
///
/// - "gpt2", byte-level BPE: a token not spelled in GPT-2's byte-level alphabet is
///   respelled byte by byte; pre-tokenizer a regex `Split` chosen by `tokenizer.ggml.pre`
///   (LLaMA-3, Qwen2, …) or GPT-2's `ByteLevel`; decoder `ByteLevel`; `<|endoftext|>`
///   (GPT2Tokenizer's default special token) always added, appended when missing.
/// - "llama", SentencePiece BPE with byte fallback: `Metaspace` (prepend "▁" to the
///   input's first piece), decoders Replace/ByteFallback/Fuse/Strip, merges from the file
///   or derived from `tokenizer.ggml.scores` (`generate_merges`), BOS added by default.
///
/// Both: vocabulary id = position in `tokenizer.ggml.tokens` (a later duplicate wins),
/// merges "left right", CONTROL tokens as special added tokens, USER_DEFINED tokens as
/// plain added tokens, BOS/EOS/UNK/PAD as special tokens, and a `TemplateProcessing`
/// adding BOS/EOS per `tokenizer.ggml.add_bos_token` / `add_eos_token`.
public enum GGUFTokenizerImport {
    /// Converts the tokenizer of a GGUF file's metadata; `source` names the file in errors.
    public static func convert(_ metadata: GGUFMetadata, source: String = "GGUF metadata") throws -> ImportedTokenizer {
        try convert(GGUFTokenizerMetadata(metadata, source: source), source: source)
    }

    /// Architectures whose SentencePiece vocabularies transformers builds with their own
    /// builders (`GGUF_SENTENCEPIECE_BUILDERS`).
    static let ownSentencePieceBuilders: Set<String> = ["gemma", "gemma2", "gemma3", "phi3"]

    /// Converts already read tokenizer keys.
    public static func convert(_ keys: GGUFTokenizerMetadata, source: String = "GGUF metadata") throws -> ImportedTokenizer {
        let byteLevel: Bool
        switch keys.model {
        case "gpt2":
            byteLevel = true
        case "llama":
            if let arch = keys.architecture, ownSentencePieceBuilders.contains(arch) {
                throw GGUFTokenizerError.unsupportedArchitecture(architecture: arch, model: keys.model, source: source)
            }
            byteLevel = false
        default:
            throw GGUFTokenizerError.unsupportedModel(model: keys.model, source: source)
        }

        // Vocabulary; a repeated spelling keeps its last id (a dict comprehension).
        var vocabIds: [[UInt8]: UInt32] = [:]
        vocabIds.reserveCapacity(keys.tokens.count)
        var spelled: [String] = []
        spelled.reserveCapacity(keys.tokens.count)
        for (id, token) in keys.tokens.enumerated() {
            let s = byteLevel ? byteLevelSpelling(token) : token
            spelled.append(s)
            vocabIds[Array(s.utf8)] = UInt32(id)
        }
        var vocab: [(String, UInt32)] = []
        vocab.reserveCapacity(vocabIds.count)
        for (id, s) in spelled.enumerated() where vocabIds[Array(s.utf8)] == UInt32(id) {
            vocab.append((s, UInt32(id)))
        }

        let merges: [(String, String)]
        if let rawMerges = keys.merges {
            merges = try parseMerges(rawMerges, vocabIds: vocabIds, source: source)
        } else if !byteLevel, let scores = keys.scores {
            merges = mergesFromScores(tokens: keys.tokens, scores: scores, vocabIds: vocabIds)
        } else {
            throw GGUFTokenizerError.missingKey(key: byteLevel ? GGUFTokenizerMetadata.mergesKey
                                                    : "\(GGUFTokenizerMetadata.mergesKey) or \(GGUFTokenizerMetadata.scoresKey)",
                                                source: source)
        }

        var added = AddedTokenTable(vocabIds: vocabIds)
        // The tokenizer class's own default special tokens are added first:
        // GPT2Tokenizer's bos = eos = unk = "<|endoftext|>", LlamaTokenizer's "<s>", "</s>", "<unk>".
        for content in byteLevel ? ["<|endoftext|>"] : ["<s>", "</s>", "<unk>"] {
            added.add(content, special: true)
        }
        if let types = keys.tokenTypes {
            let control = GGUFTokenizerMetadata.TokenType.control.rawValue
            // A byte-level CONTROL token outside the byte alphabet is a llama.cpp mislabel: skipped.
            for (token, type) in zip(keys.tokens, types) where type == control && (!byteLevel || isByteLevelSpelled(token)) {
                added.add(token, special: true)
            }
            let userDefined = GGUFTokenizerMetadata.TokenType.userDefined.rawValue
            for (token, type) in zip(keys.tokens, types) where type == userDefined && added.contains(token) {
                added.add(token, special: false)
            }
        }
        // Named special tokens: the file's tokens at the ids it gives, in transformers'
        // `SPECIAL_TOKENS_ATTRIBUTES` order.
        let named = [keys.bosTokenId, keys.eosTokenId, keys.unkTokenId, keys.padTokenId].map { $0.map { keys.tokens[$0] } }
        for content in named { if let content { added.add(content, special: true) } }
        func special(_ content: String?) -> ImportedTokenizer.SpecialToken? {
            guard let content, let id = added.id(of: content) else { return nil }
            return .init(content: content, id: id)
        }
        let bos = special(named[0]), eos = special(named[1]), unk = special(named[2]), pad = special(named[3])
        // llama.cpp adds BOS to a SentencePiece vocabulary that does not say otherwise.
        let addBOS = (keys.addBOSToken ?? !byteLevel) && bos != nil
        let addEOS = (keys.addEOSToken ?? false) && eos != nil

        let json = tokenizerJSON(
            vocab: vocab, merges: merges, added: added.tokens,
            preTokenizer: byteLevel ? GGUFPreTokenizers.json(pre: keys.pre) : sentencePiecePreTokenizer,
            postProcessor: templateProcessing(bos: addBOS ? bos : nil, eos: addEOS ? eos : nil),
            decoder: byteLevel ? byteLevelDecoder : sentencePieceDecoder,
            modelOptions: byteLevel ? byteLevelModelOptions : sentencePieceModelOptions)
        var config: [(key: String, value: ImportedTokenizer.ConfigValue)] = [
            ("backend", .string("tokenizers")),
            ("bos_token", bos.map { .string($0.content) } ?? .null),
        ]
        if let template = keys.chatTemplate { config.append(("chat_template", .string(template))) }
        config += [
            ("eos_token", eos.map { .string($0.content) } ?? .null),
            // transformers' VERY_LARGE_INTEGER (int(1e30)) when nothing says otherwise.
            ("model_max_length", .number("1000000000000000019884624838656")),
            ("pad_token", pad.map { .string($0.content) } ?? .null),
            ("tokenizer_class", .string("TokenizersBackend")),
            ("unk_token", unk.map { .string($0.content) } ?? .null),
        ]
        return ImportedTokenizer(
            tokenizerJSON: json, tokenizerConfig: config, bosToken: bos, eosToken: eos, padToken: pad, unkToken: unk,
            addsBOSToken: addBOS, addsEOSToken: addEOS, chatTemplate: keys.chatTemplate, addedTokens: added.tokens,
            vocabularySize: vocabIds.count + added.tokens.filter { vocabIds[Array($0.content.utf8)] == nil }.count,
            source: source)
    }

    // MARK: - Merges

    /// `tuple(merge.split(" "))` for each merge, checked against the vocabulary.
    static func parseMerges(_ rawMerges: [String], vocabIds: [[UInt8]: UInt32], source: String) throws -> [(String, String)] {
        var merges: [(String, String)] = []
        merges.reserveCapacity(rawMerges.count)
        for (i, m) in rawMerges.enumerated() {
            // `merge.split(" ")`: on U+0020 only, empty parts kept.
            let parts = m.utf8.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            guard parts.count == 2, let a = String(parts[0]), let b = String(parts[1]) else {
                throw GGUFTokenizerError.malformedMerge(index: i, merge: m, source: source)
            }
            // `BPE` refuses merges whose parts or result are not tokens (`MergeTokenOutOfVocabulary`).
            for part in [a, b, a + b] where vocabIds[Array(part.utf8)] == nil {
                throw GGUFTokenizerError.invalidTokenizer(
                    detail: "tokenizer.ggml.merges[\(i)] \(m.debugDescription) needs the token '\(part)', which is not in tokenizer.ggml.tokens",
                    source: source)
            }
            merges.append((a, b))
        }
        return merges
    }

    /// Merges implied by a SentencePiece vocabulary and its scores, mirroring transformers'
    /// `generate_merges(vocab, vocab_scores)`: every split of every token into two tokens,
    /// per token ordered by the parts' ids, then all ordered by score, left length and
    /// right length, highest first (ties keep that order: Python's sort is stable).
    static func mergesFromScores(tokens: [String], scores: [Double], vocabIds: [[UInt8]: UInt32]) -> [(String, String)] {
        // `dict(zip(tokens, scores))`: first occurrence's position, last occurrence's score.
        var scoreOf: [[UInt8]: Double] = [:]
        var order: [String] = []
        for (token, score) in zip(tokens, scores) {
            let key = Array(token.utf8)
            if scoreOf[key] == nil { order.append(token) }
            scoreOf[key] = score
        }
        struct Candidate { let left: String; let right: String; let score: Double; let leftLength: Int; let rightLength: Int; let index: Int }
        var candidates: [Candidate] = []
        for token in order {
            let scalars = Array(token.unicodeScalars)
            guard scalars.count > 1 else { continue }
            let score = scoreOf[Array(token.utf8)]!
            var local: [(String, String, UInt32, UInt32, Int)] = []
            for cut in 1..<scalars.count {
                var l = String.UnicodeScalarView(), r = String.UnicodeScalarView()
                l.append(contentsOf: scalars[..<cut])
                r.append(contentsOf: scalars[cut...])
                let left = String(l), right = String(r)
                if let li = vocabIds[Array(left.utf8)], let ri = vocabIds[Array(right.utf8)] {
                    local.append((left, right, li, ri, cut))
                }
            }
            local.sort { ($0.2, $0.3) < ($1.2, $1.3) }
            for (left, right, _, _, cut) in local {
                candidates.append(Candidate(left: left, right: right, score: score, leftLength: cut,
                                            rightLength: scalars.count - cut, index: candidates.count))
            }
        }
        candidates.sort { a, b in
            if a.score != b.score { return a.score > b.score }
            if a.leftLength != b.leftLength { return a.leftLength > b.leftLength }
            if a.rightLength != b.rightLength { return a.rightLength > b.rightLength }
            return a.index < b.index
        }
        return candidates.map { ($0.left, $0.right) }
    }

    // MARK: - Pipelines

    static let byteLevelDecoder = #"{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}"#
    static let byteLevelModelOptions = #""continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false"#
    /// `LlamaTokenizer` with `add_prefix_space` (its default) and `legacy=False`.
    static let sentencePiecePreTokenizer = #"{"type": "Metaspace", "replacement": "\#u{2581}", "prepend_scheme": "first", "split": false}"#
    static let sentencePieceDecoder = #"{"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\#u{2581}"}, "content": " "}, "#
        + #"{"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}"#
    static let sentencePieceModelOptions = #""continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true"#

    // MARK: - Byte-level spelling

    /// Whether every character of `token` is one of the 256 byte-level characters
    /// (`set(token) <= set(bytes_to_unicode().values())`).
    static func isByteLevelSpelled(_ token: String) -> Bool {
        token.unicodeScalars.allSatisfy { ByteLevelAlphabet.byte(for: $0) != nil }
    }

    /// `token` itself when byte-level spelled, else its UTF-8 bytes in byte-level characters.
    static func byteLevelSpelling(_ token: String) -> String {
        if isByteLevelSpelled(token) { return token }
        var s = String.UnicodeScalarView()
        for b in token.utf8 { s.append(ByteLevelAlphabet.scalars[Int(b)]) }
        return String(s)
    }

    // MARK: - tokenizer.json

    /// The `post_processor` of `TokenizersBackend.update_post_processor`:
    /// single `[BOS] $A:0 [EOS]`, pair `… [BOS]:1 $B:1 [EOS]:1`.
    static func templateProcessing(bos: ImportedTokenizer.SpecialToken?, eos: ImportedTokenizer.SpecialToken?) -> String {
        func specialPiece(_ t: ImportedTokenizer.SpecialToken, _ typeId: Int) -> String {
            "{\"SpecialToken\": {\"id\": \(JSONText.string(t.content)), \"type_id\": \(typeId)}}"
        }
        func sequencePiece(_ name: String, _ typeId: Int) -> String {
            "{\"Sequence\": {\"id\": \"\(name)\", \"type_id\": \(typeId)}}"
        }
        var single: [String] = []
        if let bos { single.append(specialPiece(bos, 0)) }
        single.append(sequencePiece("A", 0))
        if let eos { single.append(specialPiece(eos, 0)) }
        var pair = single
        if let bos { pair.append(specialPiece(bos, 1)) }
        pair.append(sequencePiece("B", 1))
        if let eos { pair.append(specialPiece(eos, 1)) }
        var specials: [String] = []
        var seen: Set<String> = []
        for t in [bos, eos].compactMap({ $0 }) where seen.insert(t.content).inserted {
            let c = JSONText.string(t.content)
            specials.append("\(c): {\"id\": \(c), \"ids\": [\(t.id)], \"tokens\": [\(c)]}")
        }
        return "{\"type\": \"TemplateProcessing\", \"single\": [\(single.joined(separator: ", "))], "
            + "\"pair\": [\(pair.joined(separator: ", "))], \"special_tokens\": {\(specials.joined(separator: ", "))}}"
    }

    static func tokenizerJSON(vocab: [(String, UInt32)], merges: [(String, String)], added: [AddedToken],
                              preTokenizer: String, postProcessor: String, decoder: String, modelOptions: String) -> String {
        var s = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": ["
        s += added.map { t in
            "\n    {\"id\": \(t.id), \"content\": \(JSONText.string(t.content)), \"single_word\": false, \"lstrip\": false, "
                + "\"rstrip\": false, \"normalized\": false, \"special\": \(t.special)}"
        }.joined(separator: ",")
        s += added.isEmpty ? "],\n" : "\n  ],\n"
        s += "  \"normalizer\": null,\n"
        s += "  \"pre_tokenizer\": \(preTokenizer),\n"
        s += "  \"post_processor\": \(postProcessor),\n"
        s += "  \"decoder\": \(decoder),\n"
        s += "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
        s += "    \(modelOptions),\n    \"ignore_merges\": false,\n    \"vocab\": {"
        var first = true
        for (token, id) in vocab {
            s += first ? "\n      " : ",\n      "
            first = false
            s += JSONText.string(token)
            s += ": \(id)"
        }
        s += "\n    },\n    \"merges\": ["
        first = true
        for (a, b) in merges {
            s += first ? "\n      [" : ",\n      ["
            first = false
            s += JSONText.string(a)
            s += ", "
            s += JSONText.string(b)
            s += "]"
        }
        s += "\n    ]\n  }\n}\n"
        return s
    }
}

/// The added tokens of a `tokenizers` `AddedVocabulary` as `add_tokens` fills it: a
/// token already in the model's vocabulary keeps its id, a new one gets the next free
/// id past the vocabulary, adding a token again updates its flags.
struct AddedTokenTable {
    let vocabIds: [[UInt8]: UInt32]
    private var byContent: [[UInt8]: Int] = [:]
    private var entries: [AddedToken] = []

    init(vocabIds: [[UInt8]: UInt32]) { self.vocabIds = vocabIds }

    /// The added tokens, by id (the order `tokenizer.json` lists them in).
    var tokens: [AddedToken] { entries.sorted { $0.id < $1.id } }

    /// Whether `content` is a token at all (`content in tokenizer.get_vocab()`).
    func contains(_ content: String) -> Bool { id(of: content) != nil }

    func id(of content: String) -> UInt32? {
        let key = Array(content.utf8)
        if let i = byContent[key] { return entries[i].id }
        return vocabIds[key]
    }

    mutating func add(_ content: String, special: Bool) {
        if content.isEmpty { return }
        let key = Array(content.utf8)
        if let i = byContent[key] {
            entries[i].special = special
            return
        }
        let id: UInt32
        if let known = vocabIds[key] {
            id = known
        } else {
            let modelSize = UInt32(vocabIds.count)
            if let maxId = entries.map(\.id).max() {
                id = (maxId >= modelSize || modelSize == 0) ? maxId + 1 : modelSize
            } else {
                id = modelSize
            }
        }
        byContent[key] = entries.count
        entries.append(AddedToken(id: id, content: content, normalized: false, special: special))
    }
}
