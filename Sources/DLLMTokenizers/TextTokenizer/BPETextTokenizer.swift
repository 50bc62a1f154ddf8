import DLLMJSON
import Foundation

/// A model folder's real tokenizer (`tokenizer.json` or `vocab.json` + `merges.txt`)
/// with its special tokens and chat template from `tokenizer_config.json`, as the
/// data pipeline sees it (HF `AutoTokenizer.from_pretrained(folder)`).
public final class BPETextTokenizer: TextTokenizer, Sendable {
    public let tokenizer: Tokenizer
    public let path: String
    public let eosTokenID: Int32?
    public let bosTokenID: Int32?
    public let padTokenID: Int32?
    public let maskTokenID: Int32?
    let chatTemplate: Result<ChatTemplate, Error>

    /// - Parameter path: a `tokenizer.json`, or a folder holding it (and `tokenizer_config.json`).
    public init(path: String) throws {
        self.path = path
        let tokenizer = try Tokenizer.load(from: path)
        self.tokenizer = tokenizer
        var isDirectory: ObjCBool = false
        FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let folder = isDirectory.boolValue ? path : URL(fileURLWithPath: path).deletingLastPathComponent().path
        let config = Self.readConfig(folder)
        func id(_ key: String, fallbacks: [String]) -> Int32? {
            let named: String? = {
                if let s = config[key]?.stringValue { return s }
                return config[key]?["content"]?.stringValue
            }()
            for name in [named].compactMap({ $0 }) + fallbacks {
                if let id = tokenizer.tokenToId(name) { return Int32(id) }
            }
            return nil
        }
        eosTokenID = id("eos_token", fallbacks: ["<|endoftext|>", "<|eot_id|>", "</s>"])
        bosTokenID = id("bos_token", fallbacks: [])
        padTokenID = id("pad_token", fallbacks: [])
        maskTokenID = id("mask_token", fallbacks: ["<|mdm_mask|>", "<|mask|>", "[MASK]"])
        chatTemplate = Result { try ChatTemplate.load(modelFolder: folder) }
    }

    /// `tokenizer_config.json`, or an empty object when the folder has none or it is not JSON.
    static func readConfig(_ folder: String) -> JSONValue {
        let url = URL(fileURLWithPath: folder).appendingPathComponent("tokenizer_config.json")
        guard let data = FileManager.default.contents(atPath: url.path),
              let value = try? JSONParser.parse(data, options: .init(duplicateKeys: .keepLast)) else { return .object([]) }
        return value
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        tokenizer.encode(text, addSpecialTokens: addSpecialTokens).map { Int32(bitPattern: $0) }
    }

    /// Unknown ids (negative, or past the vocabulary: a model's embedding may have more rows
    /// than its tokenizer has tokens) are dropped, or become U+FFFD with `replacingUnknown`.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false, replacingUnknown: Bool = false) -> String {
        tokenizer.decode(ids.map { UInt32(bitPattern: $0) }, skipSpecialTokens: skipSpecialTokens, replacingUnknown: replacingUnknown)
    }

    /// Renders through the folder's chat template; a folder without one is an error naming it.
    public func renderChat(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        let template = try chatTemplate.get()
        return try template.render(messages: messages,
                               addGenerationPrompt: addGenerationPrompt)
    }

    /// The files a checkpoint copies so that it loads as a tokenizer too.
    public var files: [URL] {
        var isDirectory: ObjCBool = false
        FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let folder = URL(fileURLWithPath: isDirectory.boolValue ? path : URL(fileURLWithPath: path).deletingLastPathComponent().path)
        return ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "chat_template.jinja"]
            .map { folder.appendingPathComponent($0) }
            .filter { FileManager.default.fileExists(atPath: $0.path) }
    }
}
