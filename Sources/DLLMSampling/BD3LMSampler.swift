import DLLMCompute
import DLLMModels

/// The generated sequences and what they cost.
public struct BD3LMOutput: Sendable {
    /// Each row's prompt followed by its generated tokens (no padding).
    public let sequences: [[Int32]]
    /// Each row's generated tokens: whole blocks, up to the block where every row had an EOS.
    public let answers: [[Int32]]
    public let stats: SamplingStats
}

/// Block-diffusion sampling (BD3LM) with dLLM's `BD3LMSampler.sample` semantics
/// (dllm/core/samplers/bd3lm.py), with an exact key/value cache of the committed blocks.
///
/// - Prompts are left-padded to a multiple of the block size `P`; a token's position counts the
///   non-pad tokens before it; padding is never attended (`InferenceStep.keyStart`).
/// - Attention is block-causal over the padded slots (`_prepare_for_sampling`): a query attends to its
///   own block and every block before it (`InferenceStep.blockSize`).
/// - Blocks of masks are appended one at a time; each gets `ceil(steps / blocks)` steps committing
///   `numTransferTokens` tokens each, by `low_confidence` or `random` remasking (`MDLMSampler.choose`).
/// - `cache: prefix`: the prompt's keys and values are computed once; a step runs the current block
///   only, over the cached prefix; once a block is final one more forward appends its keys and values.
///   Because attention is block-causal, a committed block's keys never change, so this is exact
///   (bd3lms issue #26): it gives the same tokens as `cache: none`, which reruns the whole sequence
///   every step (dLLM recomputes the prefix once per block; the result is the same).
/// - Classifier-free guidance runs a second set of cache rows with the prompt masked.
/// - Generation stops after a block once every row has an EOS in some block (dLLM's `done`).
///
/// Deviations, none of which changes a committed token: a step whose schedule commits nothing is
/// skipped; logits are computed for the block's masked positions only; the mask token is never sampled.
public final class BD3LMSampler<S: ComputeScalar> {
    public let model: any InferenceModel<S>
    public let maskID: Int32
    public let eosID: Int32?
    /// The masked-diffusion sampler whose per-position token choice (Gumbel-max, confidence) a step shares.
    let chooser: MDLMSampler<S>

    public init(model: any InferenceModel<S>, maskID: Int32, eosID: Int32?) throws {
        chooser = try MDLMSampler(model: model, maskID: maskID, eosID: eosID)
        self.model = model
        self.maskID = maskID
        self.eosID = eosID
    }

    /// Generates up to `config.genLength` tokens after each prompt. `sampleKeys` name each row's noise
    /// stream (default: its index); the noise of generated token `i` is keyed by `i`, not by its slot.
    public func generate(prompts: [[Int32]], config: BD3LMSamplerConfig, noise: any NoiseSource = CounterNoise(seed: 0),
                         sampleKeys: [UInt64]? = nil) throws -> BD3LMOutput {
        guard !prompts.isEmpty else { throw SamplingError.emptyInput(parameter: "prompt", reason: "no prompts to generate from") }
        let plan = try config.schedule(vocabularySize: model.vocabularySize)
        let longest = prompts.map(\.count).max()!
        guard longest + config.genLength <= model.maxPositions else {
            throw SamplingError.promptTooLong(promptTokens: longest, genLength: config.genLength, maxPositions: model.maxPositions)
        }
        for prompt in prompts {
            if let bad = prompt.first(where: { $0 < 0 || Int($0) >= model.vocabularySize }) {
                throw SamplingError.invalidValue(parameter: "prompt", value: "token \(bad)", reason: "outside the vocabulary of \(model.vocabularySize)")
            }
            if prompt.contains(maskID) {
                throw SamplingError.invalidValue(parameter: "prompt", value: "mask token \(maskID)",
                                                 reason: "a prompt cannot hold masks when generating")
            }
        }
        var run = BD3LMRun(sampler: self, prompts: prompts, config: config, noise: noise,
                           keys: sampleKeys ?? (0..<prompts.count).map(UInt64.init))
        return run.generate(blocks: plan.blocks, stepsPerBlock: plan.stepsPerBlock)
    }
}

/// One generation's state: the left-padded canvas, its cache and the bookkeeping of the block loop.
struct BD3LMRun<S: ComputeScalar> {
    let sampler: BD3LMSampler<S>
    let config: BD3LMSamplerConfig
    let noise: any NoiseSource
    let keys: [UInt64]
    let B: Int
    /// Prompt slots, a multiple of the block size; the answer starts there.
    let P: Int
    /// (B) left padding of each row.
    let pads: [Int]
    /// Canvas rows: slots `0 ..< total`.
    let total: Int
    /// (B·total) token ids; padding holds EOS (or the mask id), never read as a key.
    var tokens: [Int32]
    let rows: Int
    let cache: KVCache<S>
    var stats = SamplingStats()

    init(sampler: BD3LMSampler<S>, prompts: [[Int32]], config: BD3LMSamplerConfig, noise: any NoiseSource, keys: [UInt64]) {
        self.sampler = sampler
        self.config = config
        self.noise = noise
        self.keys = keys
        B = prompts.count
        let bs = config.blockSize
        let P = (prompts.map(\.count).max()! + bs - 1) / bs * bs, total = P + config.genLength
        let pads = prompts.map { P - $0.count }
        var tokens = [Int32](repeating: sampler.maskID, count: B * total)
        for (b, prompt) in prompts.enumerated() {
            for t in 0..<pads[b] { tokens[b * total + t] = sampler.eosID ?? sampler.maskID }
            for (i, id) in prompt.enumerated() { tokens[b * total + pads[b] + i] = id }
        }
        self.P = P
        self.pads = pads
        self.total = total
        self.tokens = tokens
        rows = config.cfgScale > 0 ? 2 * B : B
        cache = sampler.model.makeCache(batch: rows, capacity: total)
    }

    /// The token model row `row` sees at `slot`: the unconditional rows (`row ≥ B`) see the prompt masked.
    func token(row: Int, slot: Int) -> Int32 {
        let b = row % B
        if row >= B && slot >= pads[b] && slot < P { return sampler.maskID }
        return tokens[b * total + slot]
    }

    /// Runs slots `start ..< end` of every row over the cached slots before them and returns the logits
    /// of `logitRows` (indices into the (rows, end − start) queries).
    mutating func forward(from start: Int, to end: Int, logitRows: [Int]) -> UnsafeMutablePointer<S> {
        let Tq = end - start
        var ids = [Int32](repeating: 0, count: rows * Tq), positions = [Int32](repeating: 0, count: rows * Tq)
        for row in 0..<rows {
            for i in 0..<Tq {
                ids[row * Tq + i] = token(row: row, slot: start + i)
                positions[row * Tq + i] = Int32(max(0, start + i - pads[row % B]))
            }
        }
        var step = InferenceStep(ids: ids, B: rows, Tq: Tq, queryStart: [Int](repeating: start, count: rows),
                                 keyLength: [Int](repeating: end, count: rows), logitRows: logitRows)
        step.keyStart = (0..<rows).map { pads[$0 % B] }
        step.blockSize = config.blockSize
        step.explicitPositions = positions
        stats.modelEvaluations += 1
        stats.evaluatedPositions += rows * Tq
        return sampler.model.inferenceForward(step, cache: cache)
    }

    mutating func generate(blocks: Int, stepsPerBlock: Int) -> BD3LMOutput {
        let start = monotonicSeconds()
        let cached = config.cache != .none, guided = config.cfgScale > 0
        let V = sampler.model.vocabularySize, mask = sampler.maskID
        var suppressed = Set(config.suppressTokens.map(Int.init))
        suppressed.insert(Int(mask))
        let suppressList = suppressed.sorted()
        let choice = config.choiceConfig
        if cached && P > 0 { _ = forward(from: 0, to: P, logitRows: [0]) }  // the prompt's keys and values, once
        var done = [Bool](repeating: false, count: B)
        var generated = 0, stepIndex = 0
        for k in 0..<blocks {
            let blockStart = P + k * config.blockSize
            let blockEnd = min(blockStart + config.blockSize, total)
            let quotas = numTransferTokens(maskCount: blockEnd - blockStart, steps: stepsPerBlock)
            for s in 0..<stepsPerBlock {
                let candidates = (0..<B).map { b in (blockStart..<blockEnd).filter { tokens[b * total + $0] == mask } }
                if candidates.allSatisfy(\.isEmpty) { break }
                if quotas[s] == 0 { continue }
                let from = cached ? blockStart : 0
                let Tq = blockEnd - from
                var logitRows: [Int] = []
                for copy in 0..<(guided ? 2 : 1) {
                    for b in 0..<B { logitRows += candidates[b].map { (copy * B + b) * Tq + $0 - from } }
                }
                let logits = forward(from: from, to: blockEnd, logitRows: logitRows)
                let R = candidates.map(\.count).reduce(0, +)
                if guided { classifierFreeGuidance(logits, logits + R * V, count: R * V, scale: config.cfgScale) }
                // Noise is keyed by the generated token's index, the same whatever the padding.
                let flat = candidates.enumerated().flatMap { b, slots in slots.map { (b, $0 - P) } }
                let choices = sampler.chooser.choose(logits, rows: flat, V: V, suppress: suppressList, config: choice,
                                                     noise: noise, step: stepIndex, keys: keys)
                var offset = 0
                for b in 0..<B {
                    let slots = candidates[b]
                    let scored = slots.indices.map { (position: slots[$0], confidence: choices[offset + $0].confidence) }
                    for slot in topConfidence(scored, count: min(quotas[s], slots.count)) {
                        tokens[b * total + slot] = choices[offset + slots.firstIndex(of: slot)!].token
                        stats.committedTokens += 1
                    }
                    offset += slots.count
                }
                stats.steps += 1
                stepIndex += 1
            }
            generated = blockEnd - P
            if let eos = sampler.eosID {
                for b in 0..<B where (blockStart..<blockEnd).contains(where: { tokens[b * total + $0] == eos }) { done[b] = true }
            }
            if done.allSatisfy({ $0 }) { break }
            // The final block's keys and values join the cache before the next block opens.
            if cached && k + 1 < blocks { _ = forward(from: blockStart, to: blockEnd, logitRows: [0]) }
        }
        stats.seconds = monotonicSeconds() - start
        let answers = (0..<B).map { b in Array(tokens[(b * total + P)..<(b * total + P + generated)]) }
        let sequences = (0..<B).map { b in Array(tokens[(b * total + pads[b])..<(b * total + P)]) + answers[b] }
        return BD3LMOutput(sequences: sequences, answers: answers, stats: stats)
    }
}
