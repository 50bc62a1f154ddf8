import Foundation

/// Options of a rendering.
public struct RenderOptions: Sendable {
    /// The clock `strftime_now` reads (transformers: `datetime.now()`).
    public var now: @Sendable () -> Date
    public init(now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
    }
}

/// A parsed Jinja template, rendered as jinja2's `ImmutableSandboxedEnvironment(trim_blocks=True,
/// lstrip_blocks=True, extensions=[loopcontrols])` with transformers' globals and `tojson` would
/// (`transformers.utils.chat_template_utils._cached_compile_jinja_template`).
///
/// ```swift
/// let t = try Template("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}")
/// let text = try t.render(["messages": [["role": "user", "content": "Hi"]]])
/// ```
public struct Template: Sendable {
    public let source: String
    let nodes: [Node]

    /// Parses `source`; a syntax error or an unsupported construct throws `JinjaError`
    /// with its line and column.
    public init(_ source: String) throws {
        self.source = source
        self.nodes = try Parser.parse(source)
    }

    /// Renders with the given variables (jinja2's `Template.render(**context)`).
    public func render(_ context: [String: JinjaValue], options: RenderOptions = RenderOptions()) throws -> String {
        let interpreter = Interpreter(options: options)
        let root = Scope(parent: nil)
        root.variables = context
        do {
            return try interpreter.render(nodes, scope: root)
        } catch let e as NestingError {
            throw JinjaError.runtime(message: e.message, line: interpreter.position.line, column: interpreter.position.column)
        }
    }

    /// Renders a conversation as transformers' `render_jinja_template` does for one chat
    /// (what `apply_chat_template(..., tokenize=False)` returns): `messages`, `tools`,
    /// `documents`, `add_generation_prompt`, plus `extra` (the tokenizer's special tokens
    /// such as `bos_token`/`eos_token`, and any other keyword argument like `enable_thinking`).
    /// Like `_alias_reasoning_fields`, a message carrying `reasoning_content`, `thinking` or
    /// `reasoning` gets `thinking` first and `reasoning_content` last with that text.
    public func renderChat(messages: [JinjaValue], addGenerationPrompt: Bool, tools: [JinjaValue]? = nil,
                           documents: [JinjaValue]? = nil, extra: [String: JinjaValue] = [:],
                           options: RenderOptions = RenderOptions()) throws -> String {
        var context = extra
        context["messages"] = .list(messages.map(Self.aliasReasoning))
        context["tools"] = tools.map { .list($0) } ?? JinjaValue.none
        context["documents"] = documents.map { .list($0) } ?? JinjaValue.none
        context["add_generation_prompt"] = .bool(addGenerationPrompt)
        return try render(context, options: options)
    }

    /// transformers' `_alias_reasoning_fields` for one message.
    static func aliasReasoning(_ message: JinjaValue) -> JinjaValue {
        guard case .dict(let d) = message else { return message }
        var reasoning: JinjaValue?
        for key in ["reasoning_content", "thinking", "reasoning"] {
            if let v = d[key], !v.isNone { reasoning = v; break }
        }
        guard let reasoning else { return message }
        var out = JinjaDict()
        out["thinking"] = reasoning
        for (k, v) in d.items { out[k] = v }
        out["reasoning_content"] = reasoning
        return .dict(out)
    }
}
