import DLLMJinja
import Foundation

/// One chat message (`{"role": …, "content": …}`).
public struct ChatMessage: Codable, Equatable, Sendable {
    public var role: String
    public var content: String
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    /// The dict a template sees (`{"role": …, "content": …}`, in that order).
    public var templateValue: JinjaValue { ["role": .string(role), "content": .string(content)] }
}

/// A model's chat template (`tokenizer_config.json`'s `chat_template`), interpreted by
/// DLLMJinja. `render` equals `transformers`' `apply_chat_template(messages, tokenize=False,
/// add_generation_prompt=…)`: the template sees `messages`, `add_generation_prompt`, `tools`,
/// `documents`, the tokenizer's special tokens (`bos_token`, `eos_token`, …) and any extra
/// keyword arguments (`enable_thinking`, `date_string`, …).
public struct ChatTemplate: Equatable, Sendable {
    /// Shapes of common templates, recognized from the source for information (rendering
    /// always interprets the source).
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

    /// The Jinja source.
    public let source: String
    /// The special tokens passed to the template (`bos_token`, `eos_token`, … as in
    /// `tokenizer.special_tokens_map`); absent ones are undefined in the template.
    public let specialTokens: [String: String]
    /// The recognized shape of `source`, or nil for any other template.
    public let kind: Kind?
    let template: Template

    /// `bos_token`, or "" when the tokenizer has none.
    public var bosToken: String { specialTokens["bos_token"] ?? "" }

    /// Parses `source`; a syntax error or a Jinja construct DLLMJinja does not implement
    /// throws `JinjaError` naming the line and column.
    public init(source: String, specialTokens: [String: String] = [:]) throws {
        self.source = source
        self.specialTokens = specialTokens
        self.template = try Template(source)
        self.kind = Self.recognize(source)
    }

    /// The template of a known shape (its canonical source).
    public init(kind: Kind, bosToken: String = "") {
        let source: String
        switch kind {
        case .chatML(let prompt?):
            let escaped = prompt.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
            source = Self.chatMLSystemPrefix + escaped + Self.chatMLSystemSuffix + Self.chatMLTurns
        case .chatML(nil): source = "{% for message in messages %}" + Self.chatMLTurns
        case .llama3(let always): source = Self.llama3Body + (always ? Self.llama3Always : Self.llama3Optional)
        }
        do {
            try self.init(source: source, specialTokens: bosToken.isEmpty ? [:] : ["bos_token": bosToken])
        } catch {
            preconditionFailure("the built-in \(kind) template does not parse: \(error)")
        }
    }

    public static func == (a: ChatTemplate, b: ChatTemplate) -> Bool {
        a.source == b.source && a.specialTokens == b.specialTokens
    }

    // MARK: - Known template sources

    static let chatMLTurns = "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    static let chatMLSystemPrefix = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    static let chatMLSystemSuffix = "<|im_end|>\n' }}{% endif %}"
    static let llama3Body = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    static let llama3Optional = "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    static let llama3Always = "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"

    /// The shape of a template source; nil when it is none of the known ones.
    public static func recognize(_ source: String) -> Kind? {
        let s = source.trimmingCharacters(in: .whitespacesAndNewlines)
        if s == llama3Body + llama3Optional { return .llama3(alwaysAddsGenerationPrompt: false) }
        if s == llama3Body + llama3Always { return .llama3(alwaysAddsGenerationPrompt: true) }
        if s == "{% for message in messages %}" + chatMLTurns { return .chatML(defaultSystemPrompt: nil) }
        if s.hasPrefix(chatMLSystemPrefix) && s.hasSuffix(chatMLSystemSuffix + chatMLTurns) {
            let inner = s.dropFirst(chatMLSystemPrefix.count).dropLast((chatMLSystemSuffix + chatMLTurns).count)
            if !inner.contains("'") && !inner.contains("\\") && !inner.contains("{") {
                return .chatML(defaultSystemPrompt: String(inner))
            }
        }
        return nil
    }

    static let specialTokenKeys = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]

    /// Reads a model folder's chat template as `transformers` loads it: `chat_template.jinja`
    /// when present (it takes priority), else `tokenizer_config.json`'s `chat_template` (a
    /// string, or the entry named "default" of a list of named templates); special tokens come
    /// from `tokenizer_config.json`. A missing template, or one that does not parse, is an error
    /// naming the folder.
    public static func load(modelFolder: String) throws -> ChatTemplate {
        let folder = URL(fileURLWithPath: modelFolder)
        let configPath = folder.appendingPathComponent("tokenizer_config.json").path
        let jinjaPath = folder.appendingPathComponent("chat_template.jinja").path
        let hasConfig = FileManager.default.fileExists(atPath: configPath)
        let hasJinja = FileManager.default.fileExists(atPath: jinjaPath)
        guard hasConfig || hasJinja else {
            throw TokenizerError.unknownChatTemplate(folder: modelFolder, detail: "no tokenizer_config.json or chat_template.jinja")
        }
        let config = hasConfig ? try JSONFile.object(at: configPath) : JSONObject(.object([]), file: configPath)
        var source: String?
        if hasJinja {
            guard let data = FileManager.default.contents(atPath: jinjaPath), let text = String(data: data, encoding: .utf8) else {
                throw TokenizerError.unknownChatTemplate(folder: modelFolder, detail: "chat_template.jinja is not readable UTF-8")
            }
            source = text
        } else if let text = config["chat_template"]?.stringValue {
            source = text
        } else if let named = config["chat_template"]?.arrayValue {
            source = named.first { $0["name"]?.stringValue == "default" }?["template"]?.stringValue
        }
        guard let source else {
            throw TokenizerError.unknownChatTemplate(folder: modelFolder, detail: "tokenizer_config.json has no chat_template string")
        }
        // Special tokens are strings or AddedToken objects with "content".
        var tokens: [String: String] = [:]
        for key in specialTokenKeys {
            if let t = config[key]?.stringValue ?? config[key]?["content"]?.stringValue { tokens[key] = t }
        }
        do {
            return try ChatTemplate(source: source, specialTokens: tokens)
        } catch let error as JinjaError {
            throw TokenizerError.unknownChatTemplate(folder: modelFolder, detail: error.description)
        }
    }

    // MARK: - Rendering

    /// The prompt text for `messages` (`apply_chat_template` with `tokenize=False`).
    /// Throws `JinjaError` when the template raises (`raise_exception`) or fails.
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        try render(conversation: messages.map(\.templateValue), addGenerationPrompt: addGenerationPrompt)
    }

    /// The general form: messages as template values (with `tool_calls`, `reasoning_content`,
    /// …), tool JSON schemas, documents and extra keyword arguments such as `enable_thinking`.
    public func render(conversation: [JinjaValue], addGenerationPrompt: Bool, tools: [JinjaValue]? = nil,
                       documents: [JinjaValue]? = nil, extra: [String: JinjaValue] = [:],
                       options: RenderOptions = RenderOptions()) throws -> String {
        var context: [String: JinjaValue] = [:]
        for (k, v) in specialTokens { context[k] = .string(v) }
        for (k, v) in extra { context[k] = v }
        return try template.renderChat(messages: conversation, addGenerationPrompt: addGenerationPrompt, tools: tools,
                                       documents: documents, extra: context, options: options)
    }
}
