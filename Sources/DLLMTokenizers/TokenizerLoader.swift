import DLLMJSON
import Foundation

extension Tokenizer {
    /// Loads a tokenizer from a `tokenizer.json` file, a folder holding one, or
    /// a folder holding GPT-2's `vocab.json` and `merges.txt`.
    public static func load(from path: String) throws -> Tokenizer {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TokenizerError.fileNotFound(path: path)
        }
        if !isDirectory.boolValue { return try fromTokenizerJSON(path: path) }
        let folder = URL(fileURLWithPath: path)
        let json = folder.appendingPathComponent("tokenizer.json").path
        if FileManager.default.fileExists(atPath: json) { return try fromTokenizerJSON(path: json) }
        let vocab = folder.appendingPathComponent("vocab.json").path
        let merges = folder.appendingPathComponent("merges.txt").path
        if FileManager.default.fileExists(atPath: vocab) && FileManager.default.fileExists(atPath: merges) {
            return try fromVocabAndMerges(vocab: vocab, merges: merges)
        }
        throw TokenizerError.fileNotFound(path: folder.appendingPathComponent("tokenizer.json").path)
    }

    /// Parses a `tokenizer.json` (`Tokenizer::from_file`).
    public static func fromTokenizerJSON(path: String) throws -> Tokenizer {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError.fileNotFound(path: path)
        }
        return try fromTokenizerJSON(data: data, file: path)
    }

    public static func fromTokenizerJSON(data: Data, file: String) throws -> Tokenizer {
        let root = try JSONFile.object(JSONFile.value(from: data, file: file), file: file)
        let normalizer = try root.optionalObject("normalizer").map(NormalizerFactory.make)
        let preTokenizer = try root.optionalObject("pre_tokenizer").map(PreTokenizerFactory.make)
        let postProcessor = try root.optionalObject("post_processor").map(PostProcessorFactory.make)
        let decoder = try root.optionalObject("decoder").map(DecoderFactory.make)
        let model = try loadModel(try root.object("model"))
        var added: [AddedToken] = []
        if !root.isNull("added_tokens") {
            for t in try root.objects("added_tokens") {
                added.append(AddedToken(
                    id: UInt32(try t.int("id")), content: try t.string("content"),
                    singleWord: t.bool("single_word", default: false), lstrip: t.bool("lstrip", default: false),
                    rstrip: t.bool("rstrip", default: false), normalized: t.bool("normalized", default: true),
                    special: t.bool("special", default: false)))
            }
        }
        return Tokenizer(model: model, normalizer: normalizer, preTokenizer: preTokenizer,
                         postProcessor: postProcessor, decoder: decoder, addedTokens: added, source: file)
    }

    /// The `model` section: a BPE with vocab and merges in either format, or a WordPiece.
    static func loadModel(_ json: JSONObject) throws -> any TokenizerModel {
        let typeName = json.optionalString("type") ?? (json["merges"] != nil ? "BPE" : "")
        guard let type = ModelType(rawValue: typeName) else {
            throw TokenizerError.unsupportedComponent(kind: "model", type: typeName.isEmpty ? "<none>" : typeName, file: json.file)
        }
        if type == .wordPiece { return try loadWordPiece(json) }
        if let dropout = json["dropout"]?.doubleValue, dropout > 0 {
            throw TokenizerError.unsupportedOption(component: "BPE", option: "dropout=\(dropout)", file: json.file)
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = json.optionalString(key), !s.isEmpty {
                throw TokenizerError.unsupportedOption(component: "BPE", option: "\(key)=\(s.debugDescription)", file: json.file)
            }
        }
        guard let rawVocab = json["vocab"]?.objectMembers else {
            throw TokenizerError.missingField(field: "model.vocab", file: json.file)
        }
        let vocab = try vocabulary(rawVocab, file: json.file)
        guard let rawMerges = json["merges"]?.arrayValue else {
            throw TokenizerError.missingField(field: "model.merges", file: json.file)
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(rawMerges.count)
        for (i, m) in rawMerges.enumerated() {
            if let s = m.stringValue {
                merges.append(try parseMergeLine(s, line: i + 1, file: json.file))
            } else if let pair = m.arrayValue, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue {
                merges.append((a, b))
            } else {
                throw TokenizerError.badMergesLine(line: i + 1, file: json.file)
            }
        }
        return try BPEModel(vocab: vocab, merges: merges, unkToken: json.optionalString("unk_token"),
                            fuseUnk: json.bool("fuse_unk", default: false),
                            ignoreMerges: json.bool("ignore_merges", default: false),
                            byteFallback: json.bool("byte_fallback", default: false), file: json.file)
    }

    /// The `model` section of a WordPiece tokenizer (`models::wordpiece::WordPiece`'s fields).
    static func loadWordPiece(_ json: JSONObject) throws -> WordPieceModel {
        guard let rawVocab = json["vocab"]?.objectMembers else {
            throw TokenizerError.missingField(field: "model.vocab", file: json.file)
        }
        let maxChars = json["max_input_chars_per_word"]?.doubleValue ?? 100
        guard maxChars >= 0, maxChars < 1e9 else {
            throw TokenizerError.malformedJSON(file: json.file, detail: "model.max_input_chars_per_word \(maxChars) is not a count")
        }
        return try WordPieceModel(vocab: vocabulary(rawVocab, file: json.file),
                                  unkToken: json.optionalString("unk_token") ?? "[UNK]",
                                  continuingSubwordPrefix: json.optionalString("continuing_subword_prefix") ?? "##",
                                  maxInputCharsPerWord: Int(maxChars), file: json.file)
    }

    /// A `{"token": id, …}` vocabulary.
    static func vocabulary(_ members: [(key: String, value: JSONValue)], file: String) throws -> [(String, UInt32)] {
        var vocab: [(String, UInt32)] = []
        vocab.reserveCapacity(members.count)
        for (token, id) in members {
            guard let n = id.doubleValue, n >= 0, n < 4_294_967_295 else {
                throw TokenizerError.malformedJSON(file: file, detail: "vocab id of '\(token)' is not a token id")
            }
            vocab.append((token, UInt32(n)))
        }
        return vocab
    }

    /// One `"a b"` merge (`convert_merges_to_hashmap`: exactly one space).
    static func parseMergeLine(_ line: String, line number: Int, file: String) throws -> (String, String) {
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw TokenizerError.badMergesLine(line: number, file: file) }
        return (String(parts[0]), String(parts[1]))
    }

    /// GPT-2's `vocab.json` + `merges.txt` with GPT-2's pipeline: ByteLevel
    /// pre-tokenizer (no prefix space), decoder and post-processor, and
    /// `<|endoftext|>` as a special token when the vocabulary has it (as
    /// `GPT2TokenizerFast` sets up).
    public static func fromVocabAndMerges(vocab vocabPath: String, merges mergesPath: String) throws -> Tokenizer {
        let vocab = try vocabulary(JSONFile.object(at: vocabPath).value.objectMembers ?? [], file: vocabPath)
        guard let data = FileManager.default.contents(atPath: mergesPath) else {
            throw TokenizerError.fileNotFound(path: mergesPath)
        }
        let text = String(decoding: data, as: UTF8.self)
        var merges: [(String, String)] = []
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        for (i, line) in lines.enumerated() {
            let l = line.hasSuffix("\r") ? line.dropLast() : line
            if l.hasPrefix("#version") { continue }
            merges.append(try parseMergeLine(String(l), line: i + 1, file: mergesPath))
        }
        let model = try BPEModel(vocab: vocab, merges: merges, file: mergesPath)
        var added: [AddedToken] = []
        if let eos = model.tokenToId("<|endoftext|>") {
            added.append(AddedToken(id: eos, content: "<|endoftext|>", normalized: false, special: true))
        }
        return Tokenizer(model: model, preTokenizer: ByteLevelPreTokenizer(addPrefixSpace: false),
                         postProcessor: ByteLevelPostProcessor(), decoder: ByteLevelDecoder(),
                         addedTokens: added, source: URL(fileURLWithPath: vocabPath).deletingLastPathComponent().path)
    }
}
