import DLLMModels
import Foundation

/// Which share of the work this process does: forward `g` of the run's plan belongs to rank
/// `g mod count`. Every forward is the one a single process runs, so results are the same bits.
public struct EvalShard: Equatable, Sendable {
    public var rank: Int
    public var count: Int

    public init(rank: Int, count: Int) {
        precondition(count >= 1 && (0..<count).contains(rank), "shard \(rank) of \(count)")
        self.rank = rank
        self.count = count
    }

    public static let whole = EvalShard(rank: 0, count: 1)

    public func owns(_ unit: Int) -> Bool { unit % count == rank }
}

/// Scores `loglikelihood` requests; `addresses` name each request for the scorers whose
/// answer is random (the Monte Carlo masks), so that answer never depends on the batch.
/// With a shard, only the owned forwards run; the other requests' answers are nil.
public protocol LoglikelihoodScorer {
    /// lm-eval's `max_length`: the most tokens one sequence holds.
    var maxLength: Int { get }
    /// The `max_seq_len` of `loglikelihood_rolling` windows: what a window predicts at most.
    var rollingWindowLength: Int { get }
    /// `progress` gets the number of requests answered so far, `scored` each unit of work's
    /// requests (indices into `requests`) and answers as soon as they are known.
    func score(_ requests: [EncodedRequest], addresses: [RequestAddress], batchSize: Int, shard: EvalShard,
               progress: ((Int) -> Void)?, scored: ScoredUnitHandler?) -> [LoglikelihoodResult?]
}

/// Called after each unit of work of a ``LoglikelihoodScorer`` with its requests and their answers.
public typealias ScoredUnitHandler = (_ requests: [Int], _ answers: [LoglikelihoodResult]) -> Void

extension LoglikelihoodScorer {
    public func score(_ requests: [EncodedRequest], addresses: [RequestAddress], batchSize: Int, shard: EvalShard,
                      progress: ((Int) -> Void)?) -> [LoglikelihoodResult?] {
        score(requests, addresses: addresses, batchSize: batchSize, shard: shard, progress: progress, scored: nil)
    }
}

/// The settings of LLaDA's Monte Carlo log-likelihood, as its eval harness names them.
public struct MonteCarloSettings: Equatable, Sendable {
    /// `mc_num`: masked copies of the sequence per request (LLaDA's default 128).
    public var mcNum: Int
    /// LLaDA's `batch_size`: copies per mini-batch, over which the mask counts are stratified.
    public var miniBatch: Int
    /// `cfg`: unsupervised classifier-free guidance scale (0 = none).
    public var cfg: Double
    /// Shift models (DiffuLLaMA, dLLM's `right_shift_logits`): position t is predicted by the
    /// logits of position t − 1 (position 0 by its own).
    public var shift: Bool
    /// `is_check_greedy`: run `suffix_greedy_prediction`; when false every answer is not greedy.
    public var checkGreedy: Bool

    public init(mcNum: Int = 128, miniBatch: Int = 32, cfg: Double = 0, shift: Bool = false, checkGreedy: Bool = false) {
        self.mcNum = mcNum
        self.miniBatch = miniBatch
        self.cfg = cfg
        self.shift = shift
        self.checkGreedy = checkGreedy
    }

    public var iterations: Int { mcNum / miniBatch }
}

/// A request cut to the scorer's `maxLength`: prompt then continuation, and what was dropped.
struct PreparedSequence {
    /// (P + L) prompt then continuation.
    var ids: [Int32]
    var promptLength: Int
    var truncated: Bool
    var continuationLength: Int { ids.count - promptLength }
}

/// Monte Carlo log-likelihood of a masked-diffusion model, mirrors LLaDA `get_log_likelihood.py`
/// (`get_log_likelihood`, `forward_process`, `get_logits`) and `eval_llada.py`
/// (`get_loglikelihood`, `suffix_greedy_prediction`):
///
/// for each of `mc_num / b` mini-batches, `b` copies of prompt + continuation (length L) have
/// `x_i` continuation tokens masked (`stratifiedMaskCounts`, positions from the draw's
/// permutations; the prompt is never masked); the loss of the mini-batch is
/// `Σ_i Σ_{masked t} −log p(token_t | noisy_i) / (x_i / L)`, divided by `b`; the
/// log-likelihood is minus the mean of the mini-batch losses. With `cfg > 0` each copy also
/// runs with every prompt token masked and the logits are `un + (cfg + 1)(cond − un)`.
///
/// Draws come from a `MaskDrawSource` keyed by the request's address, so the estimate of
/// a request is the same whatever the forward packing (`batchSize` mini-batches per forward),
/// the order of requests or the rank that scores it.
public final class DiffusionLoglikelihoodScorer: LoglikelihoodScorer {
    public let model: any InferenceModel<Float>
    public let maskID: Int32
    public let settings: MonteCarloSettings
    public let draws: any MaskDrawSource
    public let maxLength: Int
    /// One less than `maxLength`: a window's prefix or context token plus its predictions fit one
    /// bidirectional sequence, so nothing is truncated.
    public var rollingWindowLength: Int { maxLength - 1 }

    public init(model: any InferenceModel<Float>, maskID: Int32, settings: MonteCarloSettings,
                draws: any MaskDrawSource, maxLength: Int? = nil) {
        precondition(settings.miniBatch >= 1 && settings.mcNum >= settings.miniBatch && settings.mcNum % settings.miniBatch == 0,
                     "mc_num must be a positive multiple of the mini-batch")
        self.model = model
        self.maskID = maskID
        self.settings = settings
        self.draws = draws
        self.maxLength = max(2, min(maxLength ?? model.maxPositions, model.maxPositions))
    }

    /// Keeps the last `maxLength` tokens, and under `shift` at least one prompt token when
    /// the request had one (it predicts the first continuation token).
    func prepare(_ request: EncodedRequest) -> PreparedSequence {
        let whole = request.context + request.continuation
        let minPrompt = settings.shift && !request.context.isEmpty ? 1 : 0
        let keptContinuation = min(request.continuation.count, maxLength - minPrompt)
        let keptPrompt = min(request.context.count, maxLength - keptContinuation)
        let ids = Array(request.context.suffix(keptPrompt)) + Array(request.continuation.suffix(keptContinuation))
        return PreparedSequence(ids: ids, promptLength: keptPrompt, truncated: ids.count < whole.count)
    }

    /// Scores the requests this shard owns (request `r` belongs to rank `r mod count`), one
    /// forward per mini-batch: a forward never mixes requests, so its bits do not depend on
    /// the other requests of the run. `batchSize` is unused (the mini-batch is `settings.miniBatch`).
    public func score(_ requests: [EncodedRequest], addresses: [RequestAddress], batchSize: Int = 1, shard: EvalShard = .whole,
                      progress: ((Int) -> Void)? = nil, scored: ScoredUnitHandler? = nil) -> [LoglikelihoodResult?] {
        precondition(requests.count == addresses.count, "one address per request")
        var results = [LoglikelihoodResult?](repeating: nil, count: requests.count)
        var done = 0
        for r in requests.indices where shard.owns(r) {
            let p = prepare(requests[r])
            if p.continuationLength == 0 {
                results[r] = LoglikelihoodResult(logLikelihood: 0, isGreedy: true, truncated: p.truncated)
            } else {
                var loss = 0.0
                for j in 0..<settings.iterations { loss += miniBatchLoss(p, address: addresses[r], iteration: j) }
                results[r] = LoglikelihoodResult(logLikelihood: -loss / Double(settings.iterations),
                                                 isGreedy: settings.checkGreedy ? isSuffixGreedy(p) : false, truncated: p.truncated)
            }
            done += 1
            scored?([r], [results[r]!])
            progress?(done)
        }
        return results
    }

    /// The loss of one mini-batch (`loss.sum() / batch_size` of `get_log_likelihood`), one forward.
    func miniBatchLoss(_ sequence: PreparedSequence, address: RequestAddress, iteration: Int) -> Double {
        let b = settings.miniBatch
        let V = model.vocabularySize
        let P = sequence.promptLength, L = sequence.continuationLength
        let draw = draws.draw(address, iteration: iteration, rows: b, length: L)
        let counts = stratifiedMaskCounts(k: draw.k, length: L, rows: b)
        var rows: [[Int32]] = []     // (b, P + L) noisy copies
        var masked: [[Int]] = []     // masked positions of each copy
        for i in 0..<b {
            var ids = sequence.ids
            var positions: [Int] = []
            for j in 0..<L where draw.permutations[i][j] < counts[i] {
                ids[P + j] = maskID
                positions.append(P + j)
            }
            rows.append(ids)
            masked.append(positions)
        }
        var logits = guidedLogits(rows: rows, promptLengths: [Int](repeating: P, count: b), positions: masked)
        var loss = 0.0
        for i in 0..<b {
            let weight = Double(L) / Double(counts[i])  // 1 / p_mask
            logits[i].withUnsafeMutableBufferPointer { buffer in
                for (n, t) in masked[i].enumerated() {
                    let (logProb, _) = ARLoglikelihoodScorer.logSoftmax(buffer.baseAddress! + n * V, count: V, at: Int(sequence.ids[t]))
                    loss += -logProb * weight
                }
            }
        }
        return loss / Double(b)
    }

    /// LLaDA `suffix_greedy_prediction`: from prompt + L masks, L steps each fill the one masked
    /// position whose argmax has the highest probability; greedy when the result is the continuation.
    func isSuffixGreedy(_ p: PreparedSequence) -> Bool {
        var ids = p.ids
        for t in p.promptLength..<ids.count { ids[t] = maskID }
        for _ in 0..<p.continuationLength {
            let positions = (p.promptLength..<ids.count).filter { ids[$0] == maskID }
            let logits = guidedLogits(rows: [ids], promptLengths: [p.promptLength], positions: [positions])[0]
            var bestPosition = positions[0], bestToken = 0, bestProbability = -1.0
            let V = model.vocabularySize
            for (n, t) in positions.enumerated() {
                let (token, probability) = Self.argmaxProbability(Array(logits[(n * V)..<((n + 1) * V)]))
                if probability > bestProbability { (bestPosition, bestToken, bestProbability) = (t, token, probability) }
            }
            ids[bestPosition] = Int32(bestToken)
        }
        return ids == p.ids
    }

    /// (argmax, its softmax probability), the first maximum on ties.
    static func argmaxProbability(_ scores: [Float]) -> (Int, Double) {
        var best = 0
        for v in scores.indices where scores[v] > scores[best] { best = v }
        var sum = 0.0
        for s in scores { sum += Foundation.exp(Double(s) - Double(scores[best])) }
        return (best, 1 / sum)
    }

    /// The (guided) logits of `positions[r]` of each row, row by row as (count, V) float32 arrays:
    /// one bidirectional forward over the rows, plus their prompt-masked copies when cfg > 0
    /// (`get_logits`); under `shift` position t reads the logits of max(t − 1, 0).
    func guidedLogits(rows: [[Int32]], promptLengths: [Int], positions: [[Int]]) -> [[Float]] {
        let V = model.vocabularySize
        let guided = settings.cfg > 0
        var all = rows
        if guided {
            for (ids, P) in zip(rows, promptLengths) {
                var un = ids
                for t in 0..<P { un[t] = maskID }
                all.append(un)
            }
        }
        let B = all.count
        let T = max(all.map(\.count).max() ?? 1, 1)
        var flat = [Int32](repeating: maskID, count: B * T)  // (B, T) right-padded
        for (b, ids) in all.enumerated() { for (t, id) in ids.enumerated() { flat[b * T + t] = id } }
        var logitRows: [Int] = []
        for copy in 0..<(guided ? 2 : 1) {
            for (r, list) in positions.enumerated() {
                let b = copy * rows.count + r
                for t in list { logitRows.append(b * T + (settings.shift ? max(t - 1, 0) : t)) }
            }
        }
        if logitRows.isEmpty { return rows.map { _ in [] } }
        let cache = model.makeCache(batch: B, capacity: T)
        let step = InferenceStep.full(ids: flat, B: B, T: T, lengths: all.map { max($0.count, 1) }, causal: false,
                                      logitRows: logitRows)
        let logits = model.inferenceForward(step, cache: cache)  // (logitRows.count, V)
        let conditionalCount = logitRows.count / (guided ? 2 : 1)
        let scale = Float(settings.cfg + 1)
        var out: [[Float]] = []
        var row = 0
        for list in positions {
            var values = [Float](repeating: 0, count: list.count * V)
            for n in 0..<list.count {
                let cond = logits + (row + n) * V
                if guided {
                    let un = logits + (conditionalCount + row + n) * V
                    for v in 0..<V { values[n * V + v] = un[v] + scale * (cond[v] - un[v]) }
                } else {
                    for v in 0..<V { values[n * V + v] = cond[v] }
                }
            }
            out.append(values)
            row += list.count
        }
        return out
    }
}
