/// DLLMJinja: an interpreter for the subset of Jinja2 that Hugging Face chat templates
/// use (`tokenizer_config.json`'s `chat_template`), rendering as `transformers`'
/// `apply_chat_template` does (jinja2 with `trim_blocks` and `lstrip_blocks`).
///
/// Layout (lexer → parser → tree → evaluator):
/// - `Lexer.swift`, `Token.swift`: text and tags with jinja2's whitespace rules.
/// - `Parser.swift`, `AST.swift`: statements and expressions with jinja2's precedence.
/// - `Interpreter.swift`, `Scope.swift`, `Access.swift`, `Operators.swift`: evaluation
///   with Python semantics; `Filters.swift`, `TestFunctions.swift`, `Methods.swift`,
///   `Globals.swift`: the built-ins; `PythonFormatting.swift`, `JSONEncoding.swift`:
///   Python's `str`/`repr` and transformers' `tojson`.
/// - `JinjaValue.swift`: the values a template sees (JSON context parsed by DLLMJSON).
/// - `Template.swift`: the public entry points; `JinjaError.swift`: errors with positions.
///
/// Usage:
/// ```swift
/// let template = try Template(source)                       // JinjaError on bad or unsupported Jinja
/// let text = try template.renderChat(messages: [["role": "user", "content": "Hi"]],
///                                    addGenerationPrompt: true, tools: nil,
///                                    extra: ["bos_token": "<s>", "enable_thinking": false])
/// ```
public enum DLLMJinja {}
