import DLLMTokenizers

/// `--apply_chat_template` (and `--system_instruction`) as lm-eval 0.4.13 builds requests with
/// them (`ConfigurableTask.fewshot_context` + `multiturn_to_singleturn`, HFLM `apply_chat_template`):
/// the task's description (with the system instruction before it, `maybe_delimit` by the few-shot
/// delimiter) becomes a system message; the few-shot examples and the question, as plain text,
/// one user message (with `fewshotAsMultiturn`, each example a user turn and its answer an
/// assistant turn, then the question a user turn); the template renders them with the
/// assistant's generation prompt.
/// Multiple-choice continuations then lose the target delimiter (`construct_requests` uses ""
/// without a `gen_prefix`); multiple-input contexts are each rendered; `loglikelihood`
/// continuations and `generate_until` kwargs are unchanged. The encoder then moves the rendered
/// context's trailing whitespace (the generation prompt's newline) to the continuation, as
/// `_encode_pair` does.
public struct ChatRequestRenderer {
    /// `tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)`.
    public var render: ([ChatMessage]) throws -> String
    public var systemInstruction: String?
    /// lm-eval's `--fewshot_as_multiturn`.
    public var fewshotAsMultiturn: Bool

    public init(systemInstruction: String? = nil, fewshotAsMultiturn: Bool = false, render: @escaping ([ChatMessage]) throws -> String) {
        self.render = render
        self.systemInstruction = systemInstruction
        self.fewshotAsMultiturn = fewshotAsMultiturn
    }

    /// lm-eval `maybe_delimit`: joined by `delimiter` unless either side has whitespace at the join.
    static func maybeDelimit(_ prefix: String?, _ suffix: String, delimiter: String) -> String {
        guard let prefix, !prefix.isEmpty else { return suffix }
        guard !suffix.isEmpty else { return prefix }
        let joinHasSpace = prefix.unicodeScalars.last.map(isPythonWhitespace) == true
            || suffix.unicodeScalars.first.map(isPythonWhitespace) == true
        return joinHasSpace ? prefix + suffix : prefix + delimiter + suffix
    }

    /// One plain context (description + examples + question, as `withFewShot` builds it) rendered as chat.
    /// `turns`: the document's few-shot examples (kept as turns with `fewshotAsMultiturn`).
    public func context(_ plain: String, task: EvalTask, turns: [FewShotTurn] = []) throws -> String {
        let multiturn = fewshotAsMultiturn && !turns.isEmpty
        let prefix = task.description + (multiturn ? turns.map(task.renderedExample).joined() : "")
        var user = Substring(plain)
        if !prefix.isEmpty, user.hasPrefix(prefix) { user = user.dropFirst(prefix.count) }
        let system = Self.maybeDelimit(systemInstruction, task.description, delimiter: task.fewshotDelimiter)
        var messages: [ChatMessage] = []
        if !system.isEmpty { messages.append(ChatMessage(role: "system", content: system)) }
        if multiturn {
            for turn in turns {
                messages.append(ChatMessage(role: "user", content: turn.question))
                if !turn.answer.isEmpty { messages.append(ChatMessage(role: "assistant", content: turn.answer)) }
            }
        }
        messages.append(ChatMessage(role: "user", content: String(user)))
        return try render(messages)
    }

    /// The task and documents whose requests are the chat-rendered ones.
    public func apply(to task: EvalTask, documents: [EvalDocument]) throws -> (task: EvalTask, documents: [EvalDocument]) {
        var chatTask = task
        if task.outputType == .multipleChoice { chatTask.targetDelimiter = "" }
        let rendered = try documents.map { document -> EvalDocument in
            var d = document
            if document.sharedContinuation != nil {
                d.choices = try document.choices.map { try context($0, task: task, turns: document.fewShotTurns) }
            } else {
                d.context = try context(document.context, task: task, turns: document.fewShotTurns)
            }
            return d
        }
        return (chatTask, rendered)
    }
}
