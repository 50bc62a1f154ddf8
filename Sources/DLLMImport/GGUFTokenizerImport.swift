import DLLMGGUF
import DLLMTokenizers
import Foundation

/// Builds a Hugging Face tokenizer (`tokenizer.json` + `tokenizer_config.json`) from a
/// GGUF file's tokenizer metadata, equal to what transformers builds from the same file
/// with `AutoTokenizer.from_pretrained(dir, gguf_file=…)` and writes with `save_pretrained`.
///
/// Mirrors transformers' `integrations/gguf/gguf_tokenizer_mapping.py`
/// (`get_gguf_tokenizer`, `convert_gguf_tokenizer`, `byte_level_tokenizer`,
/// `add_gguf_special_tokens`, `set_split_regex`) and the `TokenizersBackend` /
/// `GPT2Tokenizer` set-up it hands the result to:
///
/// - vocabulary: `tokenizer.ggml.tokens`, id = position; a token not spelled in GPT-2's
///   byte-level alphabet is respelled byte by byte (a later duplicate wins);
/// - merges: `tokenizer.ggml.merges`, "left right";
/// - pre-tokenizer: a regex `Split` chosen by `tokenizer.ggml.pre` (LLaMA-3, Qwen2, …),
///   else GPT-2's `ByteLevel`; decoder `ByteLevel`;
/// - added tokens: `<|endoftext|>` (GPT2Tokenizer's default special token, appended
///   when the vocabulary lacks it), CONTROL tokens as special, USER_DEFINED tokens as
///   plain added tokens, and the BOS/EOS/UNK/PAD tokens as special;
/// - post-processor: a `TemplateProcessing` adding BOS/EOS per
///   `tokenizer.ggml.add_bos_token` / `add_eos_token` (`update_post_processor`).
///
/// Only byte-level BPE vocabularies (`tokenizer.ggml.model` = "gpt2") are converted.
public enum GGUFTokenizerImport {
    /// Converts the tokenizer of a GGUF file's metadata; `source` names the file in errors.
    public static func convert(_ metadata: GGUFMetadata, source: String = "GGUF metadata") throws -> ImportedTokenizer {
        try convert(GGUFTokenizerMetadata(metadata, source: source), source: source)
    }

    /// Converts already read tokenizer keys.
    public static func convert(_ keys: GGUFTokenizerMetadata, source: String = "GGUF metadata") throws -> ImportedTokenizer {
        guard keys.model == "gpt2" else { throw GGUFTokenizerError.unsupportedModel(model: keys.model, source: source) }
        guard let rawMerges = keys.merges else {
            throw GGUFTokenizerError.missingKey(key: GGUFTokenizerMetadata.mergesKey, source: source)
        }

        // Vocabulary in byte-level spelling; a repeated spelling keeps its last id (a dict comprehension).
        var vocabIds: [[UInt8]: UInt32] = [:]
        vocabIds.reserveCapacity(keys.tokens.count)
        var spelled: [String] = []
        spelled.reserveCapacity(keys.tokens.count)
        for (id, token) in keys.tokens.enumerated() {
            let s = byteLevelSpelling(token)
            spelled.append(s)
            vocabIds[Array(s.utf8)] = UInt32(id)
        }
        var vocab: [(String, UInt32)] = []
        vocab.reserveCapacity(vocabIds.count)
        for (id, s) in spelled.enumerated() where vocabIds[Array(s.utf8)] == UInt32(id) {
            vocab.append((s, UInt32(id)))
        }

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

        var added = AddedTokenTable(vocabIds: vocabIds)
        // GPT2Tokenizer's own defaults (bos = eos = unk = "<|endoftext|>") are added first.
        added.add("<|endoftext|>", special: true)
        if let types = keys.tokenTypes {
            let control = GGUFTokenizerMetadata.TokenType.control.rawValue
            for (token, type) in zip(keys.tokens, types) where type == control && isByteLevelSpelled(token) {
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
        let addBOS = (keys.addBOSToken ?? false) && bos != nil
        let addEOS = (keys.addEOSToken ?? false) && eos != nil

        let json = tokenizerJSON(
            vocab: vocab, merges: merges, added: added.tokens, pre: keys.pre,
            postProcessor: templateProcessing(bos: addBOS ? bos : nil, eos: addEOS ? eos : nil))
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
                              pre: String?, postProcessor: String) -> String {
        var s = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": ["
        s += added.map { t in
            "\n    {\"id\": \(t.id), \"content\": \(JSONText.string(t.content)), \"single_word\": false, \"lstrip\": false, "
                + "\"rstrip\": false, \"normalized\": false, \"special\": \(t.special)}"
        }.joined(separator: ",")
        s += added.isEmpty ? "],\n" : "\n  ],\n"
        s += "  \"normalizer\": null,\n"
        s += "  \"pre_tokenizer\": \(GGUFPreTokenizers.json(pre: pre)),\n"
        s += "  \"post_processor\": \(postProcessor),\n"
        s += "  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n"
        s += "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
        s += "    \"continuing_subword_prefix\": \"\",\n    \"end_of_word_suffix\": \"\",\n"
        s += "    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": false,\n    \"vocab\": {"
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
