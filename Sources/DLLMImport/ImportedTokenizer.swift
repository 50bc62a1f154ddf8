import DLLMTokenizers
import Foundation

/// A Hugging Face tokenizer built from foreign metadata (a GGUF file's): the
/// `tokenizer.json` text, the `tokenizer_config.json` entries, and the special
/// tokens they settle on.
public struct ImportedTokenizer: Sendable {
    /// A named special token (`bos_token`, …) with the id it has in the tokenizer.
    public struct SpecialToken: Sendable, Equatable {
        public let content: String
        public let id: UInt32
        public init(content: String, id: UInt32) {
            self.content = content
            self.id = id
        }
    }

    /// One `tokenizer_config.json` value.
    public enum ConfigValue: Sendable, Equatable {
        case null
        case bool(Bool)
        case string(String)
        /// A number as its JSON literal (`model_max_length` is 1e30 written as an integer).
        case number(String)

        var json: String {
            switch self {
            case .null: return "null"
            case let .bool(b): return b ? "true" : "false"
            case let .string(s): return JSONText.string(s)
            case let .number(n): return n
            }
        }
    }

    /// The `tokenizer.json` file's text (the Python `tokenizers` serialization).
    public let tokenizerJSON: String
    /// The `tokenizer_config.json` entries, keys sorted as `save_pretrained` writes them.
    public let tokenizerConfig: [(key: String, value: ConfigValue)]
    public let bosToken: SpecialToken?
    public let eosToken: SpecialToken?
    public let padToken: SpecialToken?
    public let unkToken: SpecialToken?
    /// Whether encoding adds BOS / EOS (the `tokenizer.json` post-processor does it).
    public let addsBOSToken: Bool
    public let addsEOSToken: Bool
    /// The Jinja chat template, if the source had one.
    public let chatTemplate: String?
    /// The added tokens of `tokenizer.json`, by id.
    public let addedTokens: [AddedToken]
    /// Distinct tokens: the BPE vocabulary plus added tokens not in it (`len(tokenizer)`).
    public let vocabularySize: Int
    /// Where the metadata came from (for messages and `Tokenizer.source`).
    public let source: String

    public init(tokenizerJSON: String, tokenizerConfig: [(key: String, value: ConfigValue)],
                bosToken: SpecialToken?, eosToken: SpecialToken?, padToken: SpecialToken?, unkToken: SpecialToken?,
                addsBOSToken: Bool, addsEOSToken: Bool, chatTemplate: String?, addedTokens: [AddedToken],
                vocabularySize: Int, source: String) {
        self.tokenizerJSON = tokenizerJSON
        self.tokenizerConfig = tokenizerConfig
        self.bosToken = bosToken
        self.eosToken = eosToken
        self.padToken = padToken
        self.unkToken = unkToken
        self.addsBOSToken = addsBOSToken
        self.addsEOSToken = addsEOSToken
        self.chatTemplate = chatTemplate
        self.addedTokens = addedTokens
        self.vocabularySize = vocabularySize
        self.source = source
    }

    /// The value of one `tokenizer_config.json` key.
    public func configValue(_ key: String) -> ConfigValue? {
        tokenizerConfig.first { $0.key == key }?.value
    }

    /// The `tokenizer_config.json` text (two-space indent, like `save_pretrained`).
    public var tokenizerConfigJSON: String {
        let lines = tokenizerConfig.map { "  \(JSONText.string($0.key)): \($0.value.json)" }
        return "{\n" + lines.joined(separator: ",\n") + "\n}\n"
    }

    /// Writes `tokenizer.json` and `tokenizer_config.json` into `directory` (created if needed).
    public func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(tokenizerJSON.utf8).write(to: directory.appendingPathComponent("tokenizer.json"), options: .atomic)
        try Data(tokenizerConfigJSON.utf8).write(to: directory.appendingPathComponent("tokenizer_config.json"), options: .atomic)
    }

    /// The tokenizer in memory, parsed from the same `tokenizer.json` text `write(to:)` writes.
    public func makeTokenizer() throws -> Tokenizer {
        try Tokenizer.fromTokenizerJSON(data: Data(tokenizerJSON.utf8), file: source)
    }
}
