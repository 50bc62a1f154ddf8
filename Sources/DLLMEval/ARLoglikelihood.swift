import DLLMModels
import Foundation

/// The answer to one `loglikelihood` request: lm-eval's `(logprob, is_greedy)`.
public struct LoglikelihoodResult: Equatable, Sendable {
    /// Sum over the continuation's tokens of log p(token | everything before it).
    public var logLikelihood: Double
    /// True when every continuation token is the argmax of its position's logits.
    public var isGreedy: Bool
    /// True when the request was longer than the model's positions and lost tokens on the left.
    public var truncated: Bool
}

/// Exact log-likelihoods from an autoregressive model's causal forward, in batches.
///
/// Mirrors lm-eval `HFLM._loglikelihood_tokens`: the input is
/// `(context + continuation)[-(max_length + 1):][:-1]`; the logits of its last
/// `len(continuation)` positions predict the continuation; each position contributes
/// `log_softmax(logits)[token]`, and the request is greedy when every token is its
/// position's argmax (first maximum on ties, as `torch.argmax`).
///
/// Batches hold requests sorted by length (longest first, ties by position), right-padded
/// to the batch's longest; a row attends only to its own slots (`keyLength`), so padding
/// never reaches the scores. Requests of one document that share a context (multiple-choice
/// choices) instead run the context once and their continuations against its cached keys and
/// values (`SharedContextScoring.swift`): the same quantities, summed in the same order.
public final class ARLoglikelihoodScorer: LoglikelihoodScorer {
    public let model: any InferenceModel<Float>
    /// lm-eval's `max_length`: the most tokens one forward sees.
    public let maxLength: Int
    /// lm-eval's `max_seq_len = max_length`: a window plus its one context token is `maxLength + 1`
    /// tokens, whose first `maxLength` are the input.
    public var rollingWindowLength: Int { maxLength }

    /// Whether the requests of a document that share a context run it once (``SharedContextGroup``);
    /// false scores every request by its own full forward.
    public let reuseContext: Bool
    /// The shared-context path's caches, reused from group to group, and the weight snapshot every
    /// cache shares (taken by the scorer's first forward: make a new scorer after changing the model's parameters).
    let sharedCaches = SharedContextCaches()

    public init(model: any InferenceModel<Float>, maxLength: Int? = nil, reuseContext: Bool = true) {
        self.model = model
        self.maxLength = min(maxLength ?? model.maxPositions, model.maxPositions)
        self.reuseContext = reuseContext
    }

    /// Scores `requests` (results in the same order), `batchSize` sequences per forward;
    /// `progress` is called with the number of requests done after each batch.
    public func score(_ requests: [EncodedRequest], batchSize: Int, progress: ((Int) -> Void)? = nil) -> [LoglikelihoodResult] {
        score(requests, addresses: [], batchSize: batchSize, shard: .whole, progress: progress).map { $0! }
    }

    /// The same, running only the units of work this shard owns (unit `g` belongs to rank
    /// `g mod count`), so each unit is the one a single process runs.
    ///
    /// With `reuseContext`, the requests of a document that share a context form a group; packs of
    /// `batchSize` whole groups run their contexts once (``scoreSharedContexts(_:)``). The other
    /// requests (single-request documents, left-truncated requests, distinct contexts) run in
    /// batches of `batchSize` full forwards as lm-eval does. No row of a forward reads another, so
    /// a request's numbers do not depend on its neighbours, `batchSize` or the ranks. Units: those
    /// batches longest first, then the packs longest first.
    public func score(_ requests: [EncodedRequest], addresses: [RequestAddress], batchSize: Int, shard: EvalShard,
                      progress: ((Int) -> Void)?, scored: ScoredUnitHandler? = nil) -> [LoglikelihoodResult?] {
        precondition(batchSize >= 1, "batch size must be positive")
        let groups = reuseContext
            ? SharedContextGroup.find(requests, addresses: addresses) { canShareContext($0, requests) }.sorted { $0.longest > $1.longest }
            : []
        var inGroup = [Bool](repeating: false, count: requests.count)
        for group in groups { for member in group.members { inGroup[member] = true } }
        let order = requests.indices.filter { !inGroup[$0] }.sorted { a, b in
            let la = requests[a].context.count + requests[a].continuation.count
            let lb = requests[b].context.count + requests[b].continuation.count
            return la != lb ? la > lb : a < b
        }
        var units: [[Int]] = stride(from: 0, to: order.count, by: batchSize).map { Array(order[$0..<min($0 + batchSize, order.count)]) }
        let batches = units.count
        let packs = packs(groups, requests, batchSize: batchSize)
        units += packs.map { $0.flatMap(\.members) }
        var results = [LoglikelihoodResult?](repeating: nil, count: requests.count)
        var done = 0
        for (unit, members) in units.enumerated() where shard.owns(unit) {
            let answers = unit < batches
                ? scoreBatch(members.map { requests[$0] })
                : scoreSharedContexts(packs[unit - batches].map { group in
                    (group.context, group.members.map { requests[$0].continuation })
                })
            for (slot, result) in zip(members, answers) { results[slot] = result }
            done += members.count
            scored?(members, answers)
            progress?(done)
        }
        return results
    }

    /// One forward over up to `batchSize` requests.
    func scoreBatch(_ batch: [EncodedRequest]) -> [LoglikelihoodResult] {
        let V = model.vocabularySize
        var inputs: [[Int32]] = []
        var targets: [[Int32]] = []
        var continuationLengths: [Int] = []
        var truncated: [Bool] = []
        for request in batch {
            let whole = request.context + request.continuation
            let kept = Array(whole.suffix(maxLength + 1))
            // An empty continuation scores 0 (lm-eval asserts it never happens for its tasks).
            let continuationLength = min(request.continuation.count, max(kept.count - 1, 0))
            inputs.append(Array(kept.dropLast()))
            targets.append(Array(kept.suffix(continuationLength)))
            continuationLengths.append(continuationLength)
            truncated.append(whole.count > maxLength + 1)
        }
        let B = batch.count
        let T = max(inputs.map(\.count).max() ?? 1, 1)
        var ids = [Int32](repeating: 0, count: B * T)  // (B, T) right-padded
        var logitRows: [Int] = []
        for b in 0..<B {
            for (t, id) in inputs[b].enumerated() { ids[b * T + t] = id }
            let length = inputs[b].count
            for t in (length - continuationLengths[b])..<length { logitRows.append(b * T + t) }
        }
        // The output head takes a direct kernel for a few rows and sgemm for more, which round
        // differently: pad to at least `minimumLogitRows` (repeating the last) so every request's
        // logits come from sgemm whatever else is in its batch.
        logitRows = Self.paddedLogitRows(logitRows)
        var results: [LoglikelihoodResult] = []
        if logitRows.isEmpty {
            return (0..<B).map { LoglikelihoodResult(logLikelihood: 0, isGreedy: true, truncated: truncated[$0]) }
        }
        let cache = model.makeCache(batch: B, capacity: T)
        sharedCaches.lendWeights(to: cache)
        let step = InferenceStep.full(ids: ids, B: B, T: T, lengths: inputs.map { max($0.count, 1) }, causal: true,
                                      logitRows: logitRows)
        let logits = model.inferenceForward(step, cache: cache)  // (logitRows.count, V)
        sharedCaches.keepWeights(of: cache, model: model)
        var row = 0
        for b in 0..<B {
            var total = 0.0
            var greedy = true
            for target in targets[b] {
                let scores = logits + row * V
                let (logProb, isArgmax) = Self.logSoftmax(scores, count: V, at: Int(target))
                total += logProb
                greedy = greedy && isArgmax
                row += 1
            }
            results.append(LoglikelihoodResult(logLikelihood: total, isGreedy: greedy, truncated: truncated[b]))
        }
        return results
    }

    /// More than DLLMModels' few-rows limit (4), so the head always runs through sgemm.
    static let minimumLogitRows = 8

    /// `rows` repeating its last until there are `minimumLogitRows` (empty stays empty).
    static func paddedLogitRows(_ rows: [Int]) -> [Int] {
        guard let last = rows.last, rows.count < minimumLogitRows else { return rows }
        return rows + [Int](repeating: last, count: minimumLogitRows - rows.count)
    }

    /// log_softmax(scores)[target] in double precision, and whether `target` is the first argmax.
    static func logSoftmax(_ scores: UnsafeMutablePointer<Float>, count V: Int, at target: Int) -> (Double, Bool) {
        var best = 0
        for v in 1..<V where scores[v] > scores[best] { best = v }
        let maxScore = Double(scores[best])
        var sum = 0.0
        for v in 0..<V { sum += Foundation.exp(Double(scores[v]) - maxScore) }
        let logProb = Double(scores[target]) - maxScore - Foundation.log(sum)
        return (logProb, best == target)
    }
}
