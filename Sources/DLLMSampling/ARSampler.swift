import DLLMCompute
import DLLMModels
import Foundation

/// The parameters of autoregressive sampling (Hugging Face `generate` names in comments).
public struct ARSamplerConfig: Sendable, Hashable {
    /// `max_new_tokens`.
    public var maxNewTokens: Int
    /// `temperature`: 0 is greedy.
    public var temperature: Double
    /// `top_k`: keep the k most likely tokens (nil or 0: all).
    public var topK: Int?
    /// `top_p`: keep the smallest most-likely set with probability ≥ p (nil or 1: all).
    public var topP: Double?
    /// `suppress_tokens`: ids that are never generated.
    public var suppressTokens: [Int32]
    /// Keep keys/values between steps (`use_cache`); false recomputes the whole sequence.
    public var useCache: Bool
    /// Stop a row at its first EOS.
    public var stopAtEOS: Bool

    public init(maxNewTokens: Int = 128, temperature: Double = 0, topK: Int? = nil, topP: Double? = nil,
                suppressTokens: [Int32] = [], useCache: Bool = true, stopAtEOS: Bool = true) {
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.suppressTokens = suppressTokens
        self.useCache = useCache
        self.stopAtEOS = stopAtEOS
    }

    public func validate(vocabularySize: Int) throws {
        guard maxNewTokens >= 1 else { throw SamplingError.notPositive(parameter: "gen_length", value: maxNewTokens) }
        guard temperature >= 0, temperature.isFinite else {
            throw SamplingError.invalidValue(parameter: "temperature", value: "\(temperature)", reason: "must be a finite number ≥ 0")
        }
        if let topK, topK < 0 { throw SamplingError.invalidValue(parameter: "top_k", value: "\(topK)", reason: "must be ≥ 0") }
        if let topP, !(topP > 0 && topP <= 1) {
            throw SamplingError.invalidValue(parameter: "top_p", value: "\(topP)", reason: "must be in (0, 1]")
        }
        for t in suppressTokens where t < 0 || Int(t) >= vocabularySize {
            throw SamplingError.invalidValue(parameter: "suppress_tokens", value: "\(t)", reason: "not a token id below \(vocabularySize)")
        }
    }
}

/// Generated tokens and what they cost.
public struct AROutput: Sendable {
    /// Each row's prompt followed by its generated tokens (up to and including the first EOS when stopping at it).
    public let sequences: [[Int32]]
    /// Each row's generated tokens, without the EOS that ended it.
    public let answers: [[Int32]]
    public let stats: SamplingStats
}

/// Autoregressive decoding for causal checkpoints (LLaMA, Qwen2, GPT-2): greedy, or
/// temperature → top-k → top-p sampling as Hugging Face's logits warpers apply them,
/// with a key/value cache (prefill once, then one token per row per step).
///
/// Prompts of different lengths are right-padded; each row writes its next token at
/// its own slot, so padding is never attended to. The sampled token is the first id
/// whose cumulative (vocabulary-order) probability exceeds a uniform from the noise
/// source, keyed by (step, sample).
public final class ARSampler<S: ComputeScalar> {
    public let model: any InferenceModel<S>
    public let eosID: Int32?

    public init(model: any InferenceModel<S>, eosID: Int32?) {
        self.model = model
        self.eosID = eosID
    }

    ///
    /// `stopRow(b, answer)` is asked after each token a row appends (EOS aside); true ends that row
    /// there (stop strings, as lm-eval's `MultiTokenEOSCriteria`), its answer keeping the token.
    public func generate(prompts: [[Int32]], config: ARSamplerConfig, noise: any NoiseSource = CounterNoise(seed: 0),
                         sampleKeys: [UInt64]? = nil, observer: ((Int, [[Int32]]) -> Void)? = nil,
                         stopRow: ((Int, [Int32]) -> Bool)? = nil) throws -> AROutput {
        guard !prompts.isEmpty else { throw SamplingError.emptyInput(parameter: "prompt", reason: "no prompts to generate from") }
        try config.validate(vocabularySize: model.vocabularySize)
        for prompt in prompts where prompt.isEmpty {
            throw SamplingError.emptyInput(parameter: "prompt", reason: "an autoregressive model needs at least one prompt token")
        }
        let longest = prompts.map(\.count).max()!
        guard longest + config.maxNewTokens <= model.maxPositions else {
            throw SamplingError.promptTooLong(promptTokens: longest, genLength: config.maxNewTokens, maxPositions: model.maxPositions)
        }
        let keys = sampleKeys ?? (0..<prompts.count).map(UInt64.init)
        let start = monotonicSeconds()
        let B = prompts.count, V = model.vocabularySize
        let capacity = longest + config.maxNewTokens
        let cache = model.makeCache(batch: B, capacity: capacity)
        let pad = eosID ?? 0
        var rows = prompts
        var answers = [[Int32]](repeating: [], count: B)
        var done = [Bool](repeating: false, count: B)
        var endedByEOS = [Bool](repeating: false, count: B)
        var stats = SamplingStats()

        for step in 0..<config.maxNewTokens {
            let lengths = rows.map(\.count)
            let logits: UnsafeMutablePointer<S>
            if step > 0 && config.useCache {
                // Decode: each row's newest token at its own slot, attending to everything before it.
                let ids = rows.map { $0.last! }
                let queryStart = lengths.map { $0 - 1 }
                logits = model.inferenceForward(InferenceStep(ids: ids, B: B, Tq: 1, queryStart: queryStart, keyLength: lengths,
                                                              causal: true), cache: cache)
                stats.evaluatedPositions += B
            } else {
                // Prefill (or, without a cache, the whole sequence every step), right-padded.
                let T = lengths.max()!
                var ids = [Int32](repeating: pad, count: B * T)
                for b in 0..<B { for (t, id) in rows[b].enumerated() { ids[b * T + t] = id } }
                let last = (0..<B).map { $0 * T + lengths[$0] - 1 }
                logits = model.inferenceForward(.full(ids: ids, B: B, T: T, lengths: lengths, causal: true, logitRows: last), cache: cache)
                stats.evaluatedPositions += B * T
            }
            stats.modelEvaluations += 1
            stats.steps += 1
            for b in 0..<B {
                let token: Int32
                if done[b] {
                    token = pad
                } else {
                    token = Int32(sampleToken(logits + b * V, V: V, config: config,
                                              uniform: config.temperature > 0 ? noise.tokenUniform(step: step, sample: keys[b]) : 0))
                    stats.committedTokens += 1
                    if config.stopAtEOS, let eos = eosID, token == eos {
                        done[b] = true
                        endedByEOS[b] = true
                    } else {
                        answers[b].append(token)
                        if let stopRow, stopRow(b, answers[b]) { done[b] = true }
                    }
                }
                rows[b].append(token)
            }
            observer?(step, answers)
            if done.allSatisfy({ $0 }) { break }
        }
        stats.seconds = monotonicSeconds() - start
        let sequences = (0..<B).map { b in Array(rows[b].prefix(prompts[b].count + answers[b].count + (endedByEOS[b] ? 1 : 0))) }
        return AROutput(sequences: sequences, answers: answers, stats: stats)
    }

    /// One token from a row of logits: argmax at temperature 0, else the first id whose
    /// cumulative probability after temperature, top-k and top-p exceeds `uniform`
    /// (HF's `TemperatureLogitsWarper`, `TopKLogitsWarper`, `TopPLogitsWarper`, then `multinomial`).
    func sampleToken(_ logits: UnsafeMutablePointer<S>, V: Int, config: ARSamplerConfig, uniform: Double) -> Int {
        suppress(logits, tokens: config.suppressTokens.map(Int.init))
        if config.temperature == 0 { return gumbelArgmax(logits, V: V, temperature: 0, noise: nil) }
        return sampleFromWarpedLogits(scaledScores(logits, count: V, temperature: config.temperature),
                                      topK: config.topK, topP: config.topP, uniform: uniform)
    }
}

/// Top-k then top-p filtering of temperature-scaled logits (in Float64), softmax, and
/// inverse-CDF sampling in vocabulary order. Top-k keeps every score ≥ the k-th largest;
/// top-p drops, in ascending probability order, tokens whose cumulative probability
/// is ≤ 1 − p (always keeping the most likely), as `TopPLogitsWarper` does.
public func sampleFromWarpedLogits(_ scores: [Double], topK: Int?, topP: Double?, uniform: Double) -> Int {
    var s = scores
    let V = s.count
    if let k = topK, k > 0, k < V {
        let kth = s.sorted(by: >)[k - 1]
        for v in 0..<V where s[v] < kth { s[v] = -.infinity }
    }
    if let p = topP, p < 1 {
        let probs = softmax(s)
        let ascending = (0..<V).sorted { probs[$0] != probs[$1] ? probs[$0] < probs[$1] : $0 < $1 }
        var cumulative = 0.0
        for (rank, v) in ascending.enumerated() where rank < V - 1 {
            cumulative += probs[v]
            if cumulative <= 1 - p { s[v] = -.infinity }
        }
    }
    let probs = softmax(s)
    var cumulative = 0.0
    var last = 0
    for v in 0..<V where probs[v] > 0 {
        cumulative += probs[v]
        last = v
        if cumulative > uniform { return v }
    }
    return last
}

/// `logits / temperature` in Float64 (HF's `TemperatureLogitsWarper`).
@_specialize(where S == Float)
@_specialize(where S == Double)
func scaledScores<S: ComputeScalar>(_ logits: UnsafePointer<S>, count: Int, temperature: Double) -> [Double] {
    (0..<count).map { Double(logits[$0]) / temperature }
}

/// Softmax in Float64 (−∞ scores get probability 0).
func softmax(_ s: [Double]) -> [Double] {
    let m = s.max() ?? 0
    let e = s.map { Foundation.exp($0 - m) }
    let z = e.reduce(0, +)
    return e.map { $0 / z }
}
