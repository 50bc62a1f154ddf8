import DLLMGGUF

/// The tokenizer keys of a GGUF file, read and type-checked.
///
/// Key names are llama.cpp's (`gguf-py` `Keys.Tokenizer`); which of them matter is
/// what transformers reads (`integrations/gguf/gguf_tokenizer_mapping.py`,
/// `GGUF_TOKENIZER_MAPPING` and `get_gguf_tokenizer`).
public struct GGUFTokenizerMetadata: Sendable, Equatable {
    public static let architectureKey = "general.architecture"
    public static let modelKey = "tokenizer.ggml.model"
    public static let preKey = "tokenizer.ggml.pre"
    public static let tokensKey = "tokenizer.ggml.tokens"
    public static let tokenTypeKey = "tokenizer.ggml.token_type"
    public static let scoresKey = "tokenizer.ggml.scores"
    public static let mergesKey = "tokenizer.ggml.merges"
    public static let bosKey = "tokenizer.ggml.bos_token_id"
    public static let eosKey = "tokenizer.ggml.eos_token_id"
    public static let padKey = "tokenizer.ggml.padding_token_id"
    public static let unkKey = "tokenizer.ggml.unknown_token_id"
    public static let addBOSKey = "tokenizer.ggml.add_bos_token"
    public static let addEOSKey = "tokenizer.ggml.add_eos_token"
    public static let chatTemplateKey = "tokenizer.chat_template"

    /// llama.cpp's `llama_token_type` values (`tokenizer.ggml.token_type`).
    public enum TokenType: Int, Sendable {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// `general.architecture` ("llama", "qwen2", "gemma", …): picks SentencePiece variants.
    public var architecture: String?
    /// `tokenizer.ggml.model`: "gpt2", "llama", "bert", "t5", …
    public var model: String
    /// `tokenizer.ggml.pre`: the pre-tokenizer's name ("smollm", "llama-bpe", "qwen2", …).
    public var pre: String?
    public var tokens: [String]
    /// One llama.cpp token type per token (raw values; unknown values are kept).
    public var tokenTypes: [Int]?
    public var merges: [String]?
    /// SentencePiece scores, one per token (merges are derived from them when absent).
    public var scores: [Double]?
    public var bosTokenId: Int?
    public var eosTokenId: Int?
    public var padTokenId: Int?
    public var unkTokenId: Int?
    public var addBOSToken: Bool?
    public var addEOSToken: Bool?
    public var chatTemplate: String?

    /// Reads the keys from `metadata`; `source` names the file in errors.
    public init(_ metadata: GGUFMetadata, source: String) throws {
        func value(_ key: String) -> GGUFValue? { metadata[key] }
        func string(_ key: String) throws -> String? {
            guard let v = value(key) else { return nil }
            guard let s = v.string else { throw GGUFTokenizerError.wrongType(key: key, expected: "STRING", found: v.typeName, source: source) }
            return s
        }
        func strings(_ key: String) throws -> [String]? {
            guard let v = value(key) else { return nil }
            guard let s = v.strings else {
                throw GGUFTokenizerError.wrongType(key: key, expected: "ARRAY of STRING", found: Self.describe(v), source: source)
            }
            return s
        }
        func ints(_ key: String) throws -> [Int]? {
            guard let v = value(key) else { return nil }
            guard let s = v.ints else {
                throw GGUFTokenizerError.wrongType(key: key, expected: "ARRAY of integers", found: Self.describe(v), source: source)
            }
            return s
        }
        func bool(_ key: String) throws -> Bool? {
            guard let v = value(key) else { return nil }
            guard let b = v.bool else { throw GGUFTokenizerError.wrongType(key: key, expected: "BOOL", found: v.typeName, source: source) }
            return b
        }
        architecture = try string(Self.architectureKey)
        guard let model = try string(Self.modelKey) else { throw GGUFTokenizerError.missingKey(key: Self.modelKey, source: source) }
        self.model = model
        pre = try string(Self.preKey)
        guard let tokens = try strings(Self.tokensKey) else { throw GGUFTokenizerError.missingKey(key: Self.tokensKey, source: source) }
        self.tokens = tokens
        tokenTypes = try ints(Self.tokenTypeKey)
        if let tokenTypes, tokenTypes.count != tokens.count {
            throw GGUFTokenizerError.lengthMismatch(key: Self.tokenTypeKey, count: tokenTypes.count, expected: tokens.count, source: source)
        }
        merges = try strings(Self.mergesKey)
        if let v = value(Self.scoresKey) {
            guard let items = v.array, case let numbers = items.compactMap(\.double), numbers.count == items.count else {
                throw GGUFTokenizerError.wrongType(key: Self.scoresKey, expected: "ARRAY of FLOAT32", found: Self.describe(v), source: source)
            }
            guard numbers.count == tokens.count else {
                throw GGUFTokenizerError.lengthMismatch(key: Self.scoresKey, count: numbers.count, expected: tokens.count, source: source)
            }
            scores = numbers
        }
        func tokenId(_ key: String) throws -> Int? {
            guard let v = value(key) else { return nil }
            guard let id = v.int else { throw GGUFTokenizerError.wrongType(key: key, expected: "an integer", found: v.typeName, source: source) }
            guard id >= 0 && id < tokens.count else {
                throw GGUFTokenizerError.tokenIdOutOfRange(key: key, id: id, vocabularySize: tokens.count, source: source)
            }
            return id
        }
        bosTokenId = try tokenId(Self.bosKey)
        eosTokenId = try tokenId(Self.eosKey)
        padTokenId = try tokenId(Self.padKey)
        unkTokenId = try tokenId(Self.unkKey)
        addBOSToken = try bool(Self.addBOSKey)
        addEOSToken = try bool(Self.addEOSKey)
        chatTemplate = try string(Self.chatTemplateKey)
    }

    /// "ARRAY of INT32", "STRING", … for error messages.
    static func describe(_ value: GGUFValue) -> String {
        guard let items = value.array else { return value.typeName }
        guard let first = items.first else { return "an empty ARRAY" }
        if let odd = items.first(where: { $0.typeName != first.typeName }) {
            return "an ARRAY mixing \(first.typeName) and \(odd.typeName)"
        }
        return "ARRAY of \(first.typeName)"
    }
}
