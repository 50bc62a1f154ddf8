import Foundation

/// One chat message (`{"role": …, "content": …}`).
public struct ChatMessage: Codable, Equatable, Sendable {
    public var role: String
    public var content: String
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// Hand-written renderers for the chat templates this project meets, selected
/// by recognizing the Jinja source in a model folder's `tokenizer_config.json`
/// (no Jinja engine). `render` equals `transformers`'
/// `apply_chat_template(messages, tokenize=False, add_generation_prompt=…)`.
public struct ChatTemplate: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// `<|im_start|>role\ncontent<|im_end|>\n` turns; when the first message
        /// is not a system message, a system turn with `defaultSystemPrompt`
        /// comes first (SmolLM2: "You are a helpful AI assistant named SmolLM,
        /// trained by Hugging Face"; Qwen2: "You are a helpful assistant.").
        case chatML(defaultSystemPrompt: String?)
        /// `<|start_header_id|>role<|end_header_id|>\n\ncontent|trim<|eot_id|>`
        /// turns after `bos_token`; the assistant header as generation prompt,
        /// always (`LLaDA-8B-Instruct`) or when asked (`Meta-Llama-3-*-Instruct`).
        case llama3(alwaysAddsGenerationPrompt: Bool)
    }

    public let kind: Kind
    public let bosToken: String

    public init(kind: Kind, bosToken: String = "") {
        self.kind = kind
        self.bosToken = bosToken
    }

    // MARK: - Known template sources

    static let chatMLTurns = "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    static let chatMLSystemPrefix = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    static let chatMLSystemSuffix = "<|im_end|>\n' }}{% endif %}"
    static let llama3Body = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    static let llama3Optional = "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    static let llama3Always = "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"

    /// Recognizes a template source; nil when it is none of the known ones.
    public static func recognize(_ source: String) -> Kind? {
        let s = source.trimmingCharacters(in: .whitespacesAndNewlines)
        if s == llama3Body + llama3Optional { return .llama3(alwaysAddsGenerationPrompt: false) }
        if s == llama3Body + llama3Always { return .llama3(alwaysAddsGenerationPrompt: true) }
        if s == "{% for message in messages %}" + chatMLTurns { return .chatML(defaultSystemPrompt: nil) }
        if s.hasPrefix(chatMLSystemPrefix) && s.hasSuffix(chatMLSystemSuffix + chatMLTurns) {
            let inner = s.dropFirst(chatMLSystemPrefix.count).dropLast((chatMLSystemSuffix + chatMLTurns).count)
            // The prompt sits in a single-quoted Jinja literal; escapes are not handled.
            if !inner.contains("'") && !inner.contains("\\") && !inner.contains("{") {
                return .chatML(defaultSystemPrompt: String(inner))
            }
        }
        return nil
    }

    /// Reads `tokenizer_config.json` of a model folder and selects the renderer
    /// for its `chat_template`; an unknown or missing template is an error.
    public static func load(modelFolder: String) throws -> ChatTemplate {
        let path = URL(fileURLWithPath: modelFolder).appendingPathComponent("tokenizer_config.json").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw TokenizerError.unknownChatTemplate(folder: modelFolder, detail: "no tokenizer_config.json")
        }
        let config = try JSONFile.object(at: path)
        guard let source = config["chat_template"]?.stringValue else {
            throw TokenizerError.unknownChatTemplate(folder: modelFolder, detail: "tokenizer_config.json has no chat_template string")
        }
        guard let kind = recognize(source) else {
            let head = source.prefix(60).debugDescription
            throw TokenizerError.unknownChatTemplate(folder: modelFolder, detail: "template starting \(head) is not recognized")
        }
        // bos_token is a string or an AddedToken object with "content".
        let bos = config["bos_token"]?.stringValue ?? config["bos_token"]?["content"]?.stringValue ?? ""
        return ChatTemplate(kind: kind, bosToken: bos)
    }

    // MARK: - Rendering

    /// The prompt text for `messages` (`apply_chat_template` with `tokenize=False`).
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var out = ""
        switch kind {
        case .chatML(let defaultSystemPrompt):
            for (i, m) in messages.enumerated() {
                if i == 0, let defaultSystemPrompt, messages[0].role != "system" {
                    out += "<|im_start|>system\n" + defaultSystemPrompt + "<|im_end|>\n"
                }
                out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>" + "\n"
            }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        case .llama3(let always):
            for (i, m) in messages.enumerated() {
                if i == 0 { out += bosToken }
                out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + Self.pythonStrip(m.content) + "<|eot_id|>"
            }
            if always || addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        }
        return out
    }

    /// Jinja's `trim` filter, Python's `str.strip()`: removes leading and trailing
    /// characters for which `str.isspace()` holds (White_Space plus U+001C–U+001F).
    static func pythonStrip(_ s: String) -> String {
        func isSpace(_ u: Unicode.Scalar) -> Bool {
            u.properties.isWhitespace || (0x1C...0x1F).contains(u.value)
        }
        let scalars = Array(s.unicodeScalars)
        var a = 0, b = scalars.count
        while a < b && isSpace(scalars[a]) { a += 1 }
        while b > a && isSpace(scalars[b - 1]) { b -= 1 }
        var v = String.UnicodeScalarView()
        v.append(contentsOf: scalars[a..<b])
        return String(v)
    }
}
