import Foundation

// Conversation turns (`{"role": ..., "content": ...}` in a `messages` row) are the
// tokenizer library's `ChatMessage`, so rows go to chat templates unconverted.

/// What the data pipeline needs from a tokenizer (the slice of a Hugging Face
/// `PreTrainedTokenizer` that dLLM's data utilities call).
///
/// The real BPE tokenizers conform to this elsewhere; ``ByteLevelTokenizer`` is a dependency-free
/// fallback.
public protocol TextTokenizer {
    /// `tokenizer(text, add_special_tokens=...)["input_ids"]`.
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int32]
    var eosTokenID: Int32? { get }
    var bosTokenID: Int32? { get }
    var padTokenID: Int32? { get }
    /// `tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=...)`.
    ///
    /// The rendering of `messages.dropLast()` with `addGenerationPrompt: true` must be a prefix of
    /// the rendering of `messages` (true of the usual templates), since prompt masking relies on it.
    func renderChat(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String
}

extension TextTokenizer {
    /// The id used for padding: the pad token, or EOS when there is none (dLLM's `get_tokenizer`
    /// sets `pad_token = eos_token` when the tokenizer lacks one).
    public var effectivePadTokenID: Int32? { padTokenID ?? eosTokenID }
}

/// A byte-level tokenizer: token `b` (0…255) is the UTF-8 byte `b`; 256 is EOS, 257 is BOS and
/// padding uses EOS. It needs no files, so `dllm prepare --tokenizer bytes` and tests can run
/// before a trained vocabulary exists; it is not meant for real models.
///
/// `addSpecialTokens: true` prepends BOS (as LLaDA's tokenizer does). Its chat template is plain
/// text: each turn is `<role>: <trimmed content>\n\n`, the generation prompt is `assistant: `, so
/// a prompt rendering is always a prefix of the full rendering.
public struct ByteLevelTokenizer: TextTokenizer, Sendable {
    public static let eos: Int32 = 256
    public static let bos: Int32 = 257
    /// Number of token ids (bytes plus EOS and BOS).
    public static let vocabularySize = 258

    public init() {}

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        var ids: [Int32] = addSpecialTokens ? [Self.bos] : []
        ids.reserveCapacity(text.utf8.count + ids.count)
        for byte in text.utf8 { ids.append(Int32(byte)) }
        return ids
    }

    /// Inverse of ``encode(_:addSpecialTokens:)``; special tokens are dropped.
    public func decode(_ ids: [Int32]) -> String {
        String(decoding: ids.compactMap { (0...255).contains($0) ? UInt8($0) : nil }, as: UTF8.self)
    }

    public var eosTokenID: Int32? { Self.eos }
    public var bosTokenID: Int32? { Self.bos }
    public var padTokenID: Int32? { nil }

    public func renderChat(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        var text = ""
        for message in messages {
            text += "\(message.role): \(message.content.trimmingCharacters(in: .whitespacesAndNewlines))\n\n"
        }
        if addGenerationPrompt && messages.last?.role != "assistant" { text += "assistant: " }
        return text
    }
}
