import DLLMJSON

/// The mask token added to a Hugging Face tokenizer as `tokenizer.add_special_tokens(
/// {"mask_token": token})` then `save_pretrained` leave it (dLLM `utils/models.py`
/// `get_tokenizer` adds `<|mask|>` to A2D tokenizers this way).
///
/// - `tokenizer.json`: an `added_tokens` entry `{id, content, single_word: false, lstrip: false,
///   rstrip: false, normalized: false, special: true}`. The id follows `tokenizers`'
///   `AddedVocabulary::add_tokens`: the token's id if the model vocabulary or an added token
///   already holds it (reused), else the model vocabulary size, or one past the largest added
///   id when that is already beyond the model vocabulary.
/// - `tokenizer_config.json`: `"mask_token": token` (transformers 5), plus an
///   `added_tokens_decoder` entry when the file has that map (transformers 4's layout).
public enum MaskTokenAddition {
    /// Where the mask token ended up.
    public struct Result: Sendable, Equatable {
        public let id: Int
        /// True when the token was already in the vocabulary or the added tokens.
        public let reused: Bool

        public init(id: Int, reused: Bool) {
            self.id = id
            self.reused = reused
        }
    }

    /// Adds `token` to both files' trees; `path` names `tokenizer.json` in errors.
    public static func add(_ token: String, tokenizerJSON: inout JSONValue, tokenizerConfig: inout JSONValue,
                           path: String) throws -> Result {
        guard !token.isEmpty else { throw A2DConversionError.invalidMaskToken(token, reason: "it is empty") }
        guard tokenizerJSON.objectMembers != nil else {
            throw A2DConversionError.malformedFile(path: path, key: "(top level)", reason: "not a JSON object")
        }
        let vocabulary = try modelVocabulary(tokenizerJSON, path: path)
        var added = tokenizerJSON["added_tokens"]?.arrayValue ?? []
        if let value = tokenizerJSON["added_tokens"], !value.isNull, value.arrayValue == nil {
            throw A2DConversionError.malformedFile(path: path, key: "added_tokens", reason: "not an array")
        }
        var addedIDs: [Int] = []
        var existing: (index: Int, id: Int)?
        for (i, entry) in added.enumerated() {
            guard let id = entry["id"]?.intValue, id >= 0, let content = entry["content"]?.stringValue else {
                throw A2DConversionError.malformedFile(path: path, key: "added_tokens[\(i)]",
                                                            reason: "needs a non-negative integer \"id\" and a string \"content\"")
            }
            addedIDs.append(id)
            if content == token { existing = (i, id) }
        }
        let result: Result
        if let existing {
            added[existing.index]["special"] = .bool(true)
            result = Result(id: existing.id, reused: true)
        } else {
            let id: Int
            let reused: Bool
            if let inVocabulary = vocabulary.ids[token] {
                (id, reused) = (inVocabulary, true)
            } else if let largest = addedIDs.max(), largest >= vocabulary.size || vocabulary.size == 0 {
                (id, reused) = (largest + 1, false)
            } else {
                (id, reused) = (vocabulary.size, false)
            }
            added.append(.object([
                ("id", .integer(Int64(id))), ("content", .string(token)), ("single_word", .bool(false)),
                ("lstrip", .bool(false)), ("rstrip", .bool(false)), ("normalized", .bool(false)), ("special", .bool(true)),
            ]))
            result = Result(id: id, reused: reused)
        }
        tokenizerJSON["added_tokens"] = .array(added)
        if tokenizerConfig.objectMembers == nil { tokenizerConfig = .object([]) }
        tokenizerConfig["mask_token"] = .string(token)
        if var decoder = tokenizerConfig["added_tokens_decoder"], decoder.objectMembers != nil {
            decoder[String(result.id)] = .object([
                ("content", .string(token)), ("lstrip", .bool(false)), ("normalized", .bool(false)),
                ("rstrip", .bool(false)), ("single_word", .bool(false)), ("special", .bool(true)),
            ])
            tokenizerConfig["added_tokens_decoder"] = decoder
        }
        return result
    }

    /// The model vocabulary: token → id and its size (`Model::get_vocab_size`): a `vocab`
    /// object (BPE, WordPiece, WordLevel) or a `vocab` array of `[piece, score]` (Unigram).
    static func modelVocabulary(_ tokenizerJSON: JSONValue, path: String) throws -> (ids: [String: Int], size: Int) {
        guard let model = tokenizerJSON["model"], model.objectMembers != nil else {
            throw A2DConversionError.malformedFile(path: path, key: "model", reason: "missing or not an object")
        }
        var ids: [String: Int] = [:]
        if let members = model["vocab"]?.objectMembers {
            for (piece, value) in members {
                guard let id = value.intValue else {
                    throw A2DConversionError.malformedFile(path: path, key: "model.vocab.\(piece)", reason: "the id is not an integer")
                }
                if ids[piece] == nil { ids[piece] = id }
            }
            return (ids, ids.count)
        }
        if let pieces = model["vocab"]?.arrayValue {
            for (id, entry) in pieces.enumerated() {
                guard let piece = entry.arrayValue?.first?.stringValue else {
                    throw A2DConversionError.malformedFile(path: path, key: "model.vocab[\(id)]", reason: "not a [piece, score] pair")
                }
                if ids[piece] == nil { ids[piece] = id }
            }
            return (ids, pieces.count)
        }
        throw A2DConversionError.malformedFile(path: path, key: "model.vocab", reason: "missing, or neither an object nor an array")
    }
}
