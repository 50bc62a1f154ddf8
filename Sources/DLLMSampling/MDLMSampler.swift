import DLLMCompute
import DLLMModels

/// One executed step, as an observer (a progress display, a test) sees it.
public struct MDLMStepEvent: Sendable {
    /// Index of the step in the run (also the step the noise is keyed by).
    public let step: Int
    public let block: Int
    /// The canvas after this step's commits.
    public let canvas: DiffusionCanvas
    /// Positions committed by this step, per row.
    public let committed: [[Int]]
    /// Tokens each row had to commit by the schedule (nil with a threshold).
    public let scheduled: [Int]?
}

/// The filled canvas and what it cost.
public struct MDLMOutput: Sendable {
    public let canvas: DiffusionCanvas
    public let stats: SamplingStats

    /// Each row's real tokens (prompt and answer).
    public var sequences: [[Int32]] { (0..<canvas.B).map(canvas.row) }
    /// Each row's answer region (the generated tokens, or the whole infilled text).
    public var answers: [[Int32]] { (0..<canvas.B).map(canvas.answer) }
}

/// Masked-diffusion sampling with LLaDA's `generate()` semantics, Fast-dLLM's caches
/// and threshold decoding, batched with right padding as dLLM's `MDLMSampler`.
///
/// The canvas is the prompt followed by `gen_length` masks, cut into blocks of
/// `block_length` decoded left to right; each block gets `steps / blocks` steps.
/// A step runs the model, samples a token for every masked position of the block
/// (Gumbel-max at `temperature`, on classifier-free-guided logits if `cfg_scale > 0`)
/// and commits the `numTransferTokens` most confident of them (or, with a
/// `threshold`, every one at least that confident and at least one). Positions
/// outside the block and committed ones are never candidates (LLaDA gives them −∞).
///
/// Deviations from LLaDA, none of which changes a committed token:
/// - steps whose schedule commits nothing in every row (more steps than masks) are
///   skipped instead of running a forward whose result is discarded;
/// - logits are computed for the block's masked positions only;
/// - the mask token is never sampled (its logit counts as −∞, like a suppressed token):
///   a trained model gives it ≈ 0 probability, an untrained one could otherwise commit
///   a mask and leave it on the canvas.
///
/// Early stop (`stopAtEOS`, dLLM-style): after a step, a row whose answer holds an EOS
/// with every position before it committed is finished — committed tokens never change,
/// so its text up to that EOS is final — and the rest of its answer is filled with EOS;
/// finished rows commit nothing more and the run ends when every row has finished.
public final class MDLMSampler<S: ComputeScalar> {
    public let model: any InferenceModel<S>
    public let maskID: Int32
    public let eosID: Int32?

    public init(model: any InferenceModel<S>, maskID: Int32, eosID: Int32?) throws {
        guard maskID >= 0 && Int(maskID) < model.vocabularySize else {
            throw SamplingError.invalidValue(parameter: "mask_token_id", value: "\(maskID)",
                                             reason: "not a token id below the vocabulary size \(model.vocabularySize)")
        }
        self.model = model
        self.maskID = maskID
        self.eosID = eosID
    }

    /// Generates `config.genLength` tokens after each prompt (LLaDA's `generate`, dLLM's
    /// `MDLMSampler.sample`). `sampleKeys` name each row's noise stream (default: its index),
    /// so a prompt gets the same noise whatever batch it is in.
    public func generate(prompts: [[Int32]], config: MDLMSamplerConfig, noise: any NoiseSource = CounterNoise(seed: 0),
                         sampleKeys: [UInt64]? = nil, observer: ((MDLMStepEvent) -> Void)? = nil) throws -> MDLMOutput {
        guard !prompts.isEmpty else { throw SamplingError.emptyInput(parameter: "prompt", reason: "no prompts to generate from") }
        let plan = try config.validateGeneration(vocabularySize: model.vocabularySize)
        let longest = prompts.map(\.count).max()!
        guard longest + config.genLength <= model.maxPositions else {
            throw SamplingError.promptTooLong(promptTokens: longest, genLength: config.genLength, maxPositions: model.maxPositions)
        }
        for prompt in prompts {
            if let bad = prompt.first(where: { $0 < 0 || Int($0) >= model.vocabularySize }) {
                throw SamplingError.invalidValue(parameter: "prompt", value: "token \(bad)", reason: "outside the vocabulary of \(model.vocabularySize)")
            }
            if config.rightShiftLogits && prompt.isEmpty {
                throw SamplingError.invalidValue(parameter: "prompt", value: "an empty prompt",
                                                 reason: "right_shift_logits reads the first answer token from the prompt's last logit; start the prompt with BOS (as dLLM does)")
            }
            if prompt.contains(maskID) {
                throw SamplingError.invalidValue(parameter: "prompt", value: "mask token \(maskID)",
                                                 reason: "a prompt cannot hold masks when generating; use infilling to fill masks inside a text")
            }
        }
        var canvas = DiffusionCanvas(prompts: prompts, genLength: config.genLength, maskID: maskID, padID: eosID ?? maskID)
        let answers = canvas.answers
        let windows: (Int, Int) -> Range<Int> = { block, b in
            let start = answers[b].lowerBound + block * plan.blockLength
            return start..<(start + plan.blockLength)
        }
        let stats = run(&canvas, blocks: plan.blocks, stepsPerBlock: plan.stepsPerBlock, window: windows, config: config,
                        noise: noise, keys: sampleKeys ?? (0..<prompts.count).map(UInt64.init),
                        earlyStop: config.stopAtEOS && eosID != nil, observer: observer)
        return MDLMOutput(canvas: canvas, stats: stats)
    }

    /// Fills the mask tokens of each sequence, wherever they are (dLLM's
    /// `MDLMSampler.infill`): blocks of `block_length` over the whole (padded) sequence,
    /// a single block when it is nil; `steps` split evenly over the blocks.
    public func infill(_ sequences: [[Int32]], config: MDLMSamplerConfig, noise: any NoiseSource = CounterNoise(seed: 0),
                       sampleKeys: [UInt64]? = nil, observer: ((MDLMStepEvent) -> Void)? = nil) throws -> MDLMOutput {
        guard !sequences.isEmpty else { throw SamplingError.emptyInput(parameter: "infill", reason: "no sequences to fill") }
        for (i, s) in sequences.enumerated() where !s.contains(maskID) {
            throw SamplingError.emptyInput(parameter: "infill", reason: "sequence \(i) holds no mask token to fill")
        }
        for (i, s) in sequences.enumerated() where config.rightShiftLogits && s.first == maskID {
            throw SamplingError.invalidValue(parameter: "infill", value: "sequence \(i) starts with a mask",
                                             reason: "right_shift_logits reads position i from logit i − 1; position 0 has none")
        }
        let T = sequences.map(\.count).max()!
        guard T <= model.maxPositions else {
            throw SamplingError.promptTooLong(promptTokens: T, genLength: 0, maxPositions: model.maxPositions)
        }
        let plan = try config.schedule(span: T, vocabularySize: model.vocabularySize)
        try config.checkSteps(blocks: plan.blocks)
        var canvas = DiffusionCanvas(infill: sequences, maskID: maskID, padID: eosID ?? maskID)
        let lengths = canvas.lengths
        let windows: (Int, Int) -> Range<Int> = { block, b in
            let start = block * plan.blockLength
            return min(start, lengths[b])..<min(start + plan.blockLength, lengths[b])
        }
        let stats = run(&canvas, blocks: plan.blocks, stepsPerBlock: plan.stepsPerBlock, window: windows, config: config,
                        noise: noise, keys: sampleKeys ?? (0..<sequences.count).map(UInt64.init), earlyStop: false, observer: observer)
        return MDLMOutput(canvas: canvas, stats: stats)
    }

    // MARK: - The block and step loops

    /// Which forward a step runs.
    enum Phase { case full, prefix, dual }

    func run(_ canvas: inout DiffusionCanvas, blocks: Int, stepsPerBlock: Int, window: (Int, Int) -> Range<Int>,
             config: MDLMSamplerConfig, noise: any NoiseSource, keys: [UInt64], earlyStop: Bool,
             observer: ((MDLMStepEvent) -> Void)?) -> SamplingStats {
        precondition(keys.count == canvas.B, "MDLMSampler: \(keys.count) sample keys for \(canvas.B) rows")
        let start = monotonicSeconds()
        let B = canvas.B, V = model.vocabularySize
        let guided = config.cfgScale > 0
        let cache = model.makeCache(batch: guided ? 2 * B : B, capacity: canvas.T)
        var suppressed = Set(config.suppressTokens.map(Int.init))
        suppressed.insert(Int(maskID))
        let suppressList = suppressed.sorted()
        var finished = [Bool](repeating: false, count: B)
        var stats = SamplingStats()
        var stepIndex = 0

        blockLoop: for k in 0..<blocks {
            let windows = (0..<B).map { window(k, $0) }
            let schedules = (0..<B).map { numTransferTokens(maskCount: canvas.maskCount($0, in: windows[$0], maskID: maskID), steps: stepsPerBlock) }
            var stepInBlock = 0
            var cacheFresh = false
            while true {
                let candidates: [[Int]] = (0..<B).map { b in
                    finished[b] ? [] : windows[b].filter { canvas[b, $0] == maskID }
                }
                if candidates.allSatisfy(\.isEmpty) { break }
                var quotas: [Int]? = nil
                if config.threshold == nil {
                    guard stepInBlock < stepsPerBlock else { break }
                    let q = (0..<B).map { candidates[$0].isEmpty ? 0 : schedules[$0][stepInBlock] }
                    stepInBlock += 1
                    if q.allSatisfy({ $0 == 0 }) { continue }
                    quotas = q
                }
                let phase: Phase = !cacheFresh || config.cache == .none ? .full : (config.cache == .prefix ? .prefix : .dual)
                let logits = evaluate(canvas, candidates: candidates, windows: windows, phase: phase, cache: cache,
                                      cfgScale: config.cfgScale, logitOffset: config.rightShiftLogits ? 1 : 0, stats: &stats)
                cacheFresh = config.cache != .none
                let flat = candidates.enumerated().flatMap { b, positions in positions.map { (b, $0) } }
                let choices = choose(logits, rows: flat, V: V, suppress: suppressList, config: config, noise: noise,
                                     step: stepIndex, keys: keys)
                var committed: [[Int]] = []
                var offset = 0
                for b in 0..<B {
                    let positions = candidates[b]
                    let scored = positions.indices.map { (position: positions[$0], confidence: choices[offset + $0].confidence) }
                    var tokenAt: [Int: Int32] = [:]
                    for j in positions.indices { tokenAt[positions[j]] = choices[offset + j].token }
                    offset += positions.count
                    let chosen = config.threshold.map { thresholdSelection(scored, threshold: $0) }
                        ?? topConfidence(scored, count: quotas![b])
                    for pos in chosen { canvas[b, pos] = tokenAt[pos]! }
                    committed.append(chosen)
                    stats.committedTokens += chosen.count
                }
                stats.steps += 1
                if earlyStop { markFinished(&canvas, &finished) }
                observer?(MDLMStepEvent(step: stepIndex, block: k, canvas: canvas, committed: committed, scheduled: quotas))
                stepIndex += 1
                if earlyStop && finished.allSatisfy({ $0 }) { break blockLoop }
            }
        }
        stats.seconds = monotonicSeconds() - start
        return stats
    }

    /// Finishes every row whose answer is decided up to an EOS (see the type's documentation).
    func markFinished(_ canvas: inout DiffusionCanvas, _ finished: inout [Bool]) {
        guard let eos = eosID else { return }
        for b in 0..<canvas.B where !finished[b] {
            let answer = canvas.answers[b]
            for t in answer {
                let id = canvas[b, t]
                if id == maskID { break }
                if id == eos {
                    for u in (t + 1)..<answer.upperBound { canvas[b, u] = eos }
                    finished[b] = true
                    break
                }
            }
        }
    }

    /// Runs the model for one step and returns the (Σ candidates, V) logits of the
    /// candidate positions, row by row, guided when `cfgScale > 0`.
    ///
    /// `.full` is LLaDA's `model(x)` (and Fast-dLLM's block-opening `model(x, use_cache=True)`,
    /// which fills the cache); `.prefix` is `model(x[:, start:], past_key_values=prefix)` of
    /// `generate_with_prefix_cache`; `.dual` is `model(x[:, start:end], past_key_values,
    /// replace_position)` of `generate_with_dual_cache`. With CFG the unconditional rows are
    /// appended to the batch, as LLaDA concatenates them. With `logitOffset` 1 (`right_shift_logits`)
    /// candidate position i reads the logits of position i − 1 (dLLM: `cat([logits[:, :1], logits[:, :-1]])`).
    func evaluate(_ canvas: DiffusionCanvas, candidates: [[Int]], windows: [Range<Int>], phase: Phase, cache: KVCache<S>,
                  cfgScale: Double, logitOffset: Int = 0, stats: inout SamplingStats) -> UnsafeMutablePointer<S> {
        let B = canvas.B, T = canvas.T
        let guided = cfgScale > 0
        let rowsB = guided ? 2 * B : B
        // Row b' < B is the canvas, row B + b its unconditional copy (given tokens masked).
        func token(_ row: Int, _ t: Int) -> Int32 {
            let b = row % B
            if row >= B && canvas.given[b * T + t] { return maskID }
            return canvas.tokens[b * T + t]
        }
        let lengths = (0..<rowsB).map { canvas.lengths[$0 % B] }
        var queryStart = [Int](repeating: 0, count: rowsB)
        var Tq = T
        switch phase {
        case .full:
            break
        case .prefix:
            Tq = max(1, (0..<B).map { canvas.lengths[$0] - windows[$0].lowerBound }.max()!)
            for row in 0..<rowsB { queryStart[row] = min(windows[row % B].lowerBound, T - Tq) }
        case .dual:
            Tq = max(1, windows.map(\.count).max()!)
            for row in 0..<rowsB { queryStart[row] = min(windows[row % B].lowerBound, T - Tq) }
        }
        var ids = [Int32](repeating: 0, count: rowsB * Tq)
        for row in 0..<rowsB {
            for i in 0..<Tq { ids[row * Tq + i] = token(row, queryStart[row] + i) }
        }
        var logitRows: [Int] = []
        for copy in 0..<(guided ? 2 : 1) {
            for b in 0..<B {
                let row = copy * B + b
                for pos in candidates[b] {
                    let i = pos - logitOffset - queryStart[row]
                    precondition(i >= 0 && i < Tq, "MDLMSampler: candidate \(pos) outside the evaluated window")
                    logitRows.append(row * Tq + i)
                }
            }
        }
        let step = InferenceStep(ids: ids, B: rowsB, Tq: Tq, queryStart: queryStart, keyLength: lengths, causal: false,
                                 logitRows: logitRows)
        let logits = model.inferenceForward(step, cache: cache)
        stats.modelEvaluations += 1
        stats.evaluatedPositions += rowsB * Tq
        if guided {
            // logits = un + (cfg + 1)·(cond − un)   (LLaDA, in the model's dtype)
            let R = logitRows.count / 2, V = model.vocabularySize
            classifierFreeGuidance(logits, logits + R * V, count: R * V, scale: cfgScale)
        }
        return logits
    }

    /// Samples a token and its confidence for each candidate row of `logits`.
    func choose(_ logits: UnsafeMutablePointer<S>, rows: [(Int, Int)], V: Int, suppress: [Int], config: MDLMSamplerConfig,
                noise: any NoiseSource, step: Int, keys: [UInt64]) -> [(token: Int32, confidence: Double)] {
        var out = [(token: Int32, confidence: Double)](repeating: (0, 0), count: rows.count)
        out.withUnsafeMutableBufferPointer { result in
            let result = result
            parallelChunks(rows.count, minimumPerThread: max(1, 4096 / max(V, 1))) { range in
                var uniforms = [Double](repeating: 0, count: config.temperature > 0 ? V : 0)
                uniforms.withUnsafeMutableBufferPointer { u in
                    for r in range {
                        let (b, pos) = rows[r]
                        let row = logits + r * V
                        DLLMSampling.suppress(row, tokens: suppress)
                        if config.temperature > 0 { noise.gumbelUniforms(step: step, sample: keys[b], position: pos, into: u) }
                        let token = gumbelArgmax(row, V: V, temperature: config.temperature, noise: config.temperature > 0 ? u : nil)
                        let confidence: Double
                        switch config.remasking {
                        case .lowConfidence: confidence = softmaxProbability(row, V: V, token: token)
                        case .random: confidence = noise.remaskUniform(step: step, sample: keys[b], position: pos)
                        }
                        result[r] = (Int32(token), confidence)
                    }
                }
            }
        }
        return out
    }
}
