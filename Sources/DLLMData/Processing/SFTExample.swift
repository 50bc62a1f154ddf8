import DLLMTokenizers
import Foundation

/// Label value ignored by the loss (`-100`, PyTorch's `ignore_index`).
public let ignoreLabelID: Int32 = -100

/// One tokenized supervised example: dLLM's `{"input_ids", "labels", "prompt_len"}` row.
public struct SFTExample: Codable, Equatable, Sendable {
    public var inputIDs: [Int32]
    public var labels: [Int32]
    /// Tokens of the prompt (the conversation up to the last turn plus the generation prompt);
    /// `nil` when the prompt was not masked, as dLLM omits `prompt_len` then.
    public var promptLength: Int?

    public init(inputIDs: [Int32], labels: [Int32], promptLength: Int?) {
        self.inputIDs = inputIDs
        self.labels = labels
        self.promptLength = promptLength
    }

    enum CodingKeys: String, CodingKey {
        case inputIDs = "input_ids"
        case labels
        case promptLength = "prompt_len"
    }
}

/// Turning SFT rows into token sequences: dLLM's `default_mdlm_sft_map_fn`, the alpaca
/// conversion of `dllm/data/alpaca.py`, and `post_process_dataset`.
public enum SFTProcessing {
    /// dLLM's `_build_alpaca_prompt`: the stripped instruction, then a blank line and the
    /// stripped input when there is one.
    public static func alpacaPrompt(instruction: String, input: String?) -> String {
        let instruction = instruction.trimmingCharacters(in: .whitespacesAndNewlines)
        let input = (input ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        return input.isEmpty ? instruction : "\(instruction)\n\n\(input)"
    }

    /// The conversation of a row: its `messages` list, or an alpaca row (`instruction`, optional
    /// `input`, `output`) as a user turn and an assistant turn (`load_dataset_alpaca`'s map).
    ///
    /// Difference from dLLM: an alpaca row without `instruction` or `output` is an error naming
    /// the field and row (dLLM's `.get(..., "")` would silently train on an empty turn).
    public static func messages(of row: DataRow) throws -> [ChatMessage] {
        if let value = row["messages"] {
            guard case let .list(items) = value else {
                throw DataError.wrongFieldType(field: "messages", expected: "list of {role, content} objects",
                                               found: value.kindName, origin: row.origin)
            }
            var messages: [ChatMessage] = []
            for (i, item) in items.enumerated() {
                guard let object = item.objectValue, let role = object["role"]?.stringValue else {
                    throw DataError.invalidConversation(origin: row.origin, detail: "message \(i) lacks a string \"role\"")
                }
                let content: String
                switch object["content"] {
                case let .string(s)?: content = s
                case .null?, nil: content = ""
                case let other?:
                    throw DataError.invalidConversation(
                        origin: row.origin, detail: "message \(i) has \"content\" of type \(other.kindName), not a string")
                }
                messages.append(ChatMessage(role: role, content: content))
            }
            return messages
        }
        if row["instruction"] != nil || row["output"] != nil {
            let instruction = try row.string("instruction")
            let output = try row.string("output")
            let input = try row.optionalString("input")
            return [
                ChatMessage(role: "user", content: alpacaPrompt(instruction: instruction, input: input)),
                ChatMessage(role: "assistant", content: output.trimmingCharacters(in: .whitespacesAndNewlines)),
            ]
        }
        throw DataError.missingField(field: "messages", origin: row.origin, available: row.values.keys.sorted())
    }

    /// dLLM's `default_mdlm_sft_map_fn`: the whole conversation rendered without generation
    /// prompt and tokenized (no extra special tokens: the template carries them); with
    /// `maskPromptLoss`, labels of the first `prompt_len` tokens (all turns but the last, rendered
    /// with the generation prompt) become -100.
    public static func example(
        messages: [ChatMessage], tokenizer: some TextTokenizer, maskPromptLoss: Bool, origin: RowOrigin
    ) throws -> SFTExample {
        guard !messages.isEmpty else {
            throw DataError.invalidConversation(origin: origin, detail: "the messages list is empty")
        }
        let full = tokenizer.encode(try tokenizer.renderChat(messages, addGenerationPrompt: false), addSpecialTokens: false)
        var labels = full
        guard maskPromptLoss else { return SFTExample(inputIDs: full, labels: labels, promptLength: nil) }
        guard messages.count >= 2 else {
            throw DataError.invalidConversation(
                origin: origin, detail: "prompt masking needs at least a prompt turn and a response turn")
        }
        let prompt = tokenizer.encode(
            try tokenizer.renderChat(Array(messages.dropLast()), addGenerationPrompt: true), addSpecialTokens: false)
        let masked = min(prompt.count, labels.count)
        for i in 0..<masked { labels[i] = ignoreLabelID }
        return SFTExample(inputIDs: full, labels: labels, promptLength: prompt.count)
    }

    /// Reads rows that are already tokenized (`input_ids`, optional `labels` and `prompt_len`), as
    /// dLLM does with `load_preprocessed_data=True` on a `save_to_disk` folder written by its
    /// preprocessing tools. Missing `labels` default to the input ids.
    public static func preprocessedExamples(_ dataset: Dataset) throws -> [SFTExample] {
        try dataset.rows.map { row in
            let inputs = try row.tokenIDs("input_ids")
            let labels = row["labels"] == nil ? inputs : try row.tokenIDs("labels")
            guard labels.count == inputs.count else {
                throw DataError.wrongFieldType(field: "labels", expected: "list as long as input_ids (\(inputs.count))",
                                               found: "list of \(labels.count)", origin: row.origin)
            }
            var promptLength: Int? = nil
            if let value = row["prompt_len"], !value.isNull {
                guard let p = value.intValue, p >= 0 else {
                    throw DataError.wrongFieldType(field: "prompt_len", expected: "non-negative integer",
                                                   found: value.kindName, origin: row.origin)
                }
                promptLength = Int(p)
            }
            return SFTExample(inputIDs: inputs, labels: labels, promptLength: promptLength)
        }
    }

    /// Maps every row of `dataset` (messages or alpaca) to an ``SFTExample``.
    public static func examples(
        _ dataset: Dataset, tokenizer: some TextTokenizer, maskPromptLoss: Bool = true
    ) throws -> [SFTExample] {
        try dataset.rows.map {
            try example(messages: messages(of: $0), tokenizer: tokenizer, maskPromptLoss: maskPromptLoss, origin: $0.origin)
        }
    }

    /// Counts from ``postProcess(_:maxLength:truncation:)``.
    public struct PostProcessStats: Codable, Equatable, Sendable {
        public var kept = 0
        /// Rows dropped: longer than `maxLength` (`filter`), or prompt longer than it (`right`).
        public var dropped = 0
        /// Rows cut to `maxLength` (`right`).
        public var truncated = 0

        public init(kept: Int = 0, dropped: Int = 0, truncated: Int = 0) {
            self.kept = kept
            self.dropped = dropped
            self.truncated = truncated
        }
    }

    /// dLLM's `post_process_dataset`.
    ///
    /// - `filter`: drop rows whose `input_ids` exceed `maxLength`.
    /// - `right`: when rows carry `prompt_len`, first drop rows whose prompt alone exceeds
    ///   `maxLength`; then cut `input_ids` and `labels` to `maxLength`.
    public static func postProcess(
        _ examples: [SFTExample], maxLength: Int, truncation: SFTTruncation
    ) throws -> (examples: [SFTExample], stats: PostProcessStats) {
        guard maxLength > 0 else {
            throw DataError.invalidParameter(name: "max_length", value: "\(maxLength)", detail: "must be at least 1")
        }
        var stats = PostProcessStats()
        var out: [SFTExample] = []
        out.reserveCapacity(examples.count)
        for var example in examples {
            switch truncation {
            case .filter:
                guard example.inputIDs.count <= maxLength else { stats.dropped += 1; continue }
            case .right:
                if let p = example.promptLength, p > maxLength { stats.dropped += 1; continue }
                if example.inputIDs.count > maxLength {
                    example.inputIDs.removeLast(example.inputIDs.count - maxLength)
                    example.labels.removeLast(max(0, example.labels.count - maxLength))
                    stats.truncated += 1
                }
            }
            stats.kept += 1
            out.append(example)
        }
        return (out, stats)
    }
}

/// How SFT rows longer than `max_length` are handled (dLLM's `truncation` data argument).
public enum SFTTruncation: String, Codable, Sendable, CaseIterable {
    /// Cut to `max_length` (rows whose prompt alone is longer are dropped).
    case right
    /// Drop rows longer than `max_length`.
    case filter
}
