/// How the confidence that ranks masked positions is computed (LLaDA's `remasking`).
public enum Remasking: String, Sendable, CaseIterable, Codable {
    /// Softmax probability of the sampled token (`low_confidence`).
    case lowConfidence = "low_confidence"
    /// A uniform random score (`random`).
    case random
}

/// Which key/value cache the diffusion sampler keeps between the steps of a block
/// (Fast-dLLM, Wu et al. 2025).
public enum CacheMode: String, Sendable, CaseIterable, Codable {
    /// Every step runs the whole canvas (LLaDA's `generate`; exact).
    case none
    /// The keys/values of the positions before the current block are computed by the
    /// block's first step and reused by its other steps, which run the block and
    /// everything after it (`generate_with_prefix_cache`).
    case prefix
    /// As `prefix`, and the suffix after the block is reused too, so the later steps
    /// run the block only (`generate_with_dual_cache`).
    case dual
}

/// The parameters of masked-diffusion sampling, in LLaDA's `generate()` terms
/// (command-line spellings in the comments; errors name them so).
public struct MDLMSamplerConfig: Sendable, Hashable {
    /// `steps`: sampling steps over the whole generation, split evenly over the blocks.
    public var steps: Int
    /// `gen_length`: tokens to generate (mask tokens appended to the prompt).
    public var genLength: Int
    /// `block_length`: semi-autoregressive block size; nil = `genLength` (pure diffusion).
    /// For infilling, nil = the whole sequence as one block.
    public var blockLength: Int?
    /// `temperature`: 0 is greedy; otherwise Gumbel-max sampling at this temperature.
    public var temperature: Double
    /// `remasking`: how committed positions are chosen.
    public var remasking: Remasking
    /// `cfg_scale`: classifier-free guidance; 0 disables the unconditional pass.
    public var cfgScale: Double
    /// `suppress_tokens`: ids whose logits are set to −∞ before sampling (dLLM).
    public var suppressTokens: [Int32]
    /// `threshold`: Fast-dLLM parallel decoding; each step commits every masked position of
    /// the block whose confidence is at least this, and at least one. nil = LLaDA's schedule.
    public var threshold: Double?
    /// `cache`: the key/value cache between the steps of a block.
    public var cache: CacheMode
    /// Stop a sample once its answer is decided up to an EOS (see `MDLMSampler`).
    public var stopAtEOS: Bool
    /// `right_shift_logits` (dLLM's `MDLMSamplerConfig`; DiffuLLaMA's `shift`): the token committed
    /// at position i is read from the logits of position i − 1, as a model adapted from an
    /// autoregressive one with a shifted loss predicts it. Needs the exact forward (`cache: none`)
    /// and a token before every masked position.
    public var rightShiftLogits: Bool = false

    public init(steps: Int = 128, genLength: Int = 128, blockLength: Int? = nil, temperature: Double = 0,
                remasking: Remasking = .lowConfidence, cfgScale: Double = 0, suppressTokens: [Int32] = [],
                threshold: Double? = nil, cache: CacheMode = .none, stopAtEOS: Bool = false, rightShiftLogits: Bool = false) {
        self.steps = steps
        self.genLength = genLength
        self.blockLength = blockLength
        self.temperature = temperature
        self.remasking = remasking
        self.cfgScale = cfgScale
        self.suppressTokens = suppressTokens
        self.threshold = threshold
        self.cache = cache
        self.stopAtEOS = stopAtEOS
        self.rightShiftLogits = rightShiftLogits
    }

    /// Checks every parameter that does not depend on the prompt; `vocabularySize`
    /// bounds `suppress_tokens`. `span` is what the blocks divide: `genLength` when
    /// generating, the sequence length when infilling. Returns (block length, blocks, steps per block).
    public func schedule(span: Int, vocabularySize: Int) throws -> (blockLength: Int, blocks: Int, stepsPerBlock: Int) {
        guard steps >= 1 else { throw SamplingError.notPositive(parameter: "steps", value: steps) }
        guard span >= 1 else { throw SamplingError.notPositive(parameter: "gen_length", value: span) }
        let block = blockLength ?? span
        guard block >= 1 else { throw SamplingError.notPositive(parameter: "block_length", value: block) }
        guard temperature >= 0, temperature.isFinite else {
            throw SamplingError.invalidValue(parameter: "temperature", value: "\(temperature)", reason: "must be a finite number ≥ 0")
        }
        guard cfgScale >= 0, cfgScale.isFinite else {
            throw SamplingError.invalidValue(parameter: "cfg_scale", value: "\(cfgScale)", reason: "must be a finite number ≥ 0")
        }
        if let threshold, !(threshold > 0 && threshold <= 1) {
            throw SamplingError.invalidValue(parameter: "threshold", value: "\(threshold)", reason: "must be in (0, 1]")
        }
        for t in suppressTokens where t < 0 || Int(t) >= vocabularySize {
            throw SamplingError.invalidValue(parameter: "suppress_tokens", value: "\(t)", reason: "not a token id below \(vocabularySize)")
        }
        if Set(suppressTokens).count >= vocabularySize - 1 {
            throw SamplingError.invalidValue(parameter: "suppress_tokens", value: "\(suppressTokens.count) ids",
                                             reason: "leaves no token to sample")
        }
        if rightShiftLogits && cache != .none {
            throw SamplingError.invalidValue(parameter: "right_shift_logits", value: "true with cache \(cache.rawValue)",
                                             reason: "a shifted model reads each block's first token from the position before the block; use cache none")
        }
        let blocks = (span + block - 1) / block
        return (block, blocks, steps / blocks)
    }

    /// LLaDA's two assertions for generation: `gen_length % block_length == 0` and
    /// `steps % (gen_length / block_length) == 0`.
    public func validateGeneration(vocabularySize: Int) throws -> (blockLength: Int, blocks: Int, stepsPerBlock: Int) {
        guard genLength >= 1 else { throw SamplingError.notPositive(parameter: "gen_length", value: genLength) }
        let s = try schedule(span: genLength, vocabularySize: vocabularySize)
        guard genLength % s.blockLength == 0 else {
            throw SamplingError.notDivisible(parameter: "gen_length", value: genLength, divisor: "block_length", divisorValue: s.blockLength)
        }
        try checkSteps(blocks: s.blocks)
        return s
    }

    func checkSteps(blocks: Int) throws {
        guard steps % blocks == 0 else {
            throw SamplingError.notDivisible(parameter: "steps", value: steps, divisor: "the number of blocks", divisorValue: blocks)
        }
    }
}
