import DLLMCompute
import DLLMModels
import Foundation

/// One prompt's result: the whole sequence (prompt and answer) and what it cost.
public struct DreamOutput: Sendable {
    /// Each row's prompt followed by its `max_new_tokens` tokens (a position left masked keeps the mask id).
    public let sequences: [[Int32]]
    public let promptLengths: [Int]
    public let stats: SamplingStats

    /// Each row's generated tokens.
    public var answers: [[Int32]] { zip(sequences, promptLengths).map { Array($0[$1...]) } }
}

/// Dream's sampler: `DreamGenerationMixin._sample` of Dream's `generation_utils.py`.
///
/// The canvas is the prompt followed by `max_new_tokens` mask tokens. Step `i` of `steps` runs the
/// model on the whole canvas, reads position `j`'s distribution from logit row `j − 1` (Dream's
/// right-shifted logits; row 0 serves position 0) and, with `t = ts[i]`, `s = ts[i + 1]` from
/// `ts = linspace(1, eps, steps + 1)`:
/// - `origin`: every masked position is revealed with probability `1 − s/t` (1 at the last step) by
///   a token sampled from its distribution;
/// - `maskgit_plus`, `topk_margin`, `entropy`: a token and a confidence are computed for every masked
///   position (the token's probability, the top-two gap, the negative entropy), and the
///   `int(masked · (1 − s/t))` most confident (all at the last step) are revealed, or, with
///   `alg_temp > 0`, that many drawn without replacement in proportion to `softmax(confidence / alg_temp)`.
/// Tokens are the argmax at temperature 0, else sampled from `softmax(logits / temperature)` after
/// `top_p`, then `top_k` filtering (Dream's `sample_tokens`). Every mask on the canvas counts,
/// and a sampled mask token stays a mask, as in Dream.
///
/// Randomness comes from a ``NoiseSource`` keyed by (step, sample, position), so a reference script
/// can replay it (`Tests/Fixtures/generate_dream.py`): a categorical draw is Gumbel-max over the V
/// uniforms of `gumbelUniforms` (the token maximising `p_v / −log u_v`), an `origin` reveal is
/// `remaskUniform < 1 − s/t`, and a draw without replacement is Gumbel-top-k (the positions
/// maximising `confidence / alg_temp − log(−log u)`, u from `remaskUniform`), each the same
/// distribution as Dream's `torch` call. Rows are sampled one by one, each as Dream samples a batch
/// of one (Dream averages the masked count over a batch, which equals each row's count when the
/// rows are alike).
public final class DreamSampler<S: ComputeScalar> {
    public let model: any InferenceModel<S>
    public let maskID: Int32

    public init(model: any InferenceModel<S>, maskID: Int32) throws {
        guard maskID >= 0 && Int(maskID) < model.vocabularySize else {
            throw SamplingError.invalidValue(parameter: "mask_token_id", value: "\(maskID)",
                                             reason: "not a token id below the vocabulary size \(model.vocabularySize)")
        }
        self.model = model
        self.maskID = maskID
    }

    /// Generates `config.maxNewTokens` tokens after each prompt. `sampleKeys` name each row's noise
    /// stream (default: its index).
    public func generate(prompts: [[Int32]], config: DreamSamplerConfig, noise: any NoiseSource = CounterNoise(seed: 0),
                         sampleKeys: [UInt64]? = nil) throws -> DreamOutput {
        try config.validate()
        guard !prompts.isEmpty else { throw SamplingError.emptyInput(parameter: "prompt", reason: "no prompts to generate from") }
        let keys = sampleKeys ?? (0..<prompts.count).map(UInt64.init)
        guard keys.count == prompts.count else {
            throw SamplingError.invalidValue(parameter: "sampleKeys", value: "\(keys.count) keys", reason: "need one per prompt (\(prompts.count))")
        }
        for prompt in prompts {
            guard prompt.count + config.maxNewTokens <= model.maxPositions else {
                throw SamplingError.promptTooLong(promptTokens: prompt.count, genLength: config.maxNewTokens, maxPositions: model.maxPositions)
            }
            if let bad = prompt.first(where: { $0 < 0 || Int($0) >= model.vocabularySize }) {
                throw SamplingError.invalidValue(parameter: "prompt", value: "token \(bad)", reason: "outside the vocabulary of \(model.vocabularySize)")
            }
        }
        let start = monotonicSeconds()
        var stats = SamplingStats()
        var sequences: [[Int32]] = []
        for (prompt, key) in zip(prompts, keys) {
            sequences.append(sample(prompt, config: config, noise: noise, key: key, stats: &stats))
        }
        stats.seconds = monotonicSeconds() - start
        return DreamOutput(sequences: sequences, promptLengths: prompts.map(\.count), stats: stats)
    }

    /// `_sample` for one row.
    func sample(_ prompt: [Int32], config: DreamSamplerConfig, noise: any NoiseSource, key: UInt64,
                stats: inout SamplingStats) -> [Int32] {
        var x = prompt + [Int32](repeating: maskID, count: config.maxNewTokens)  // (T)
        let T = x.count, V = model.vocabularySize
        let ts = config.timesteps
        let cache = model.makeCache(batch: 1, capacity: T)
        var uniforms = [Double](repeating: 0, count: V)
        for i in 0..<config.steps {
            let masked = (0..<T).filter { x[$0] == maskID }
            let logits = masked.isEmpty ? nil : model.inferenceForward(
                .full(ids: x, B: 1, T: T, lengths: [T], logitRows: masked.map { max($0 - 1, 0) }), cache: cache)
            stats.modelEvaluations += 1
            stats.evaluatedPositions += T
            stats.steps += 1
            guard let logits else { continue }  // Dream still runs the model; nothing can change
            let t = ts[i], s = ts[i + 1]
            let last = i == config.steps - 1
            let keep: Float = 1 - s / t  // float32, as `1 - s / t` on Dream's tensors
            // Token (and confidence) of every masked position, drawn when asked.
            func draw(_ m: Int) -> DreamTokenChoice {
                let row = UnsafePointer(logits + m * V)
                if config.temperature > 0 {
                    uniforms.withUnsafeMutableBufferPointer { noise.gumbelUniforms(step: i, sample: key, position: masked[m], into: $0) }
                }
                return dreamSampleToken(row, V: V, config: config, uniforms: config.temperature > 0 ? uniforms : nil)
            }
            if config.alg == .origin {
                for (m, position) in masked.enumerated() {
                    let reveal = last || noise.remaskUniform(step: i, sample: key, position: position) < Double(keep)
                    if reveal {
                        x[position] = Int32(draw(m).token)
                        if x[position] != maskID { stats.committedTokens += 1 }
                    }
                }
                continue
            }
            let choices = masked.indices.map(draw)
            let count = last ? masked.count : Int(Float(masked.count) * keep)
            guard count > 0 else { continue }
            let scores: [Double] = choices.enumerated().map { m, choice in
                guard let algTemp = config.algTemp, algTemp > 0 else { return choice.confidence }
                // Gumbel-top-k: k draws without replacement from softmax(confidence / alg_temp).
                let u = noise.remaskUniform(step: i, sample: key, position: masked[m])
                return Double(Float(choice.confidence) / Float(algTemp)) - Foundation.log(-Foundation.log(u))
            }
            // The `count` best scores; ties go to the earlier position.
            let order = masked.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
            for m in order.prefix(count) {
                x[masked[m]] = Int32(choices[m].token)
                if x[masked[m]] != maskID { stats.committedTokens += 1 }
            }
        }
        return x
    }
}

/// A token and Dream's confidence in it.
struct DreamTokenChoice {
    var token: Int
    var confidence: Double
}

/// Dream's `sample_tokens` on one row of logits: `logits / temperature` (float32) when the
/// temperature is positive, `top_p` then `top_k` filtering, `softmax`; the token is the argmax, or
/// (temperature > 0) a categorical draw by Gumbel-max over `uniforms`; the confidence is the
/// token's probability, or for `topk_margin` the top-two gap, or for `entropy` `Σ p·log(p + 1e-10)`.
/// Probabilities are computed in Float64.
func dreamSampleToken<S: ComputeScalar>(_ row: UnsafePointer<S>, V: Int, config: DreamSamplerConfig, uniforms: [Double]?) -> DreamTokenChoice {
    var l = (0..<V).map { Float(row[$0]) }  // (V)
    if config.temperature > 0 {
        let temperature = Float(config.temperature)
        for v in 0..<V { l[v] /= temperature }
    }
    let removed = -Float.greatestFiniteMagnitude  // torch.finfo(float32).min
    if let p = config.topP, p < 1 {
        // Remove a token once the probability mass before and including it exceeds p, keeping the first.
        let order = (0..<V).sorted { l[$0] > l[$1] || (l[$0] == l[$1] && $0 < $1) }
        let probs = softmax(order.map { l[$0] })
        var cumulative = 0.0
        var remove = [Bool](repeating: false, count: V)
        for (rank, v) in order.enumerated() {
            if rank > 0 { remove[v] = cumulative > p }
            cumulative += probs[rank]
        }
        for v in 0..<V where remove[v] { l[v] = removed }
    }
    if let k = config.topK {
        let kth = l.sorted(by: >)[min(k, V) - 1]
        for v in 0..<V where l[v] < kth { l[v] = removed }
    }
    let probs = softmax(l)
    var token = 0
    if let uniforms {
        var best = -Double.infinity
        for v in 0..<V where probs[v] > 0 {
            let score = probs[v] / -Foundation.log(uniforms[v])
            if score > best { best = score; token = v }
        }
    } else {
        for v in 1..<V where probs[v] > probs[token] { token = v }
    }
    switch config.alg {
    case .topkMargin:
        let sorted = probs.sorted(by: >)
        return DreamTokenChoice(token: token, confidence: sorted[0] - (V > 1 ? sorted[1] : 0))
    case .entropy:
        return DreamTokenChoice(token: token, confidence: probs.reduce(0) { $0 + $1 * Foundation.log($1 + 1e-10) })
    case .origin, .maskgitPlus:
        return DreamTokenChoice(token: token, confidence: probs[token])
    }
}

/// `softmax(x)` in Float64.
private func softmax(_ x: [Float]) -> [Double] {
    let m = Double(x.max() ?? 0)
    let e = x.map { Foundation.exp(Double($0) - m) }
    let sum = e.reduce(0, +)
    return e.map { $0 / sum }
}
