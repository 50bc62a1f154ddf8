/// Which diffusion sampler `dllm generate` and `dllm chat` run.
public enum DiffusionSamplerKind: String, Sendable, CaseIterable, Codable {
    /// Masked diffusion (LLaDA's `generate`, dLLM's `MDLMSampler`).
    case mdlm
    /// Block diffusion (dLLM's `BD3LMSampler`).
    case bd3lm
    /// Dream's `diffusion_generate` (``DreamSampler``): always right-shifted logits.
    case dream
    /// Edit Flows' τ-leaping (``EditFlowSampler``), for `editflow-*` models.
    case editflow
}

/// The parameters of block-diffusion sampling, in dLLM's `BD3LMSamplerConfig` terms
/// (dllm/core/samplers/bd3lm.py; command-line spellings in the comments).
public struct BD3LMSamplerConfig: Sendable, Hashable {
    /// `steps`: sampling steps over the whole generation; each block gets `ceil(steps / blocks)`.
    public var steps: Int
    /// `max_new_tokens` (`--gen-length`): tokens to generate, in blocks of `blockSize` (the last may be shorter).
    public var genLength: Int
    /// `block_size` (`--block-length`): the model's training block size.
    public var blockSize: Int
    /// `temperature`: 0 is greedy; otherwise Gumbel-max sampling at this temperature.
    public var temperature: Double
    /// `remasking`: `low_confidence` or `random`.
    public var remasking: Remasking
    /// `cfg_scale`: classifier-free guidance against the prompt masked; 0 disables it.
    public var cfgScale: Double
    /// `suppress_tokens`: ids whose logits are set to −∞ before sampling.
    public var suppressTokens: [Int32]
    /// `cache`: `prefix` keeps the committed blocks' keys and values (exact, bd3lms issue #26);
    /// `none` reruns the whole sequence every step (the exactness reference). `dual` does not apply.
    public var cache: CacheMode

    public init(steps: Int = 128, genLength: Int = 128, blockSize: Int = 32, temperature: Double = 0,
                remasking: Remasking = .lowConfidence, cfgScale: Double = 0, suppressTokens: [Int32] = [],
                cache: CacheMode = .prefix) {
        self.steps = steps
        self.genLength = genLength
        self.blockSize = blockSize
        self.temperature = temperature
        self.remasking = remasking
        self.cfgScale = cfgScale
        self.suppressTokens = suppressTokens
        self.cache = cache
    }

    /// The block-diffusion reading of a command line's diffusion settings: `block_length` is the
    /// block size (32 when unset), `threshold`, `right_shift_logits` and `stop_at_eos` are not carried.
    public init(_ options: MDLMSamplerConfig) {
        self.init(steps: options.steps, genLength: options.genLength, blockSize: options.blockLength ?? 32,
                  temperature: options.temperature, remasking: options.remasking, cfgScale: options.cfgScale,
                  suppressTokens: options.suppressTokens, cache: options.cache)
    }

    /// Checks every parameter; returns (blocks, steps per block).
    public func schedule(vocabularySize: Int) throws -> (blocks: Int, stepsPerBlock: Int) {
        guard blockSize >= 1 else { throw SamplingError.notPositive(parameter: "block_length", value: blockSize) }
        if cache == .dual {
            throw SamplingError.invalidValue(parameter: "cache", value: "dual",
                                             reason: "block diffusion attends to nothing after the block; use prefix (cached) or none")
        }
        // The shared checks (steps, temperature, cfg_scale, suppress_tokens) of the masked-diffusion config.
        let shared = MDLMSamplerConfig(steps: steps, genLength: genLength, blockLength: blockSize, temperature: temperature,
                                       remasking: remasking, cfgScale: cfgScale, suppressTokens: suppressTokens)
        let plan = try shared.schedule(span: genLength, vocabularySize: vocabularySize)
        return (plan.blocks, (steps + plan.blocks - 1) / plan.blocks)
    }

    /// The masked-diffusion config whose token choice (`MDLMSampler.choose`) a step shares.
    var choiceConfig: MDLMSamplerConfig {
        MDLMSamplerConfig(steps: steps, genLength: genLength, blockLength: blockSize, temperature: temperature,
                          remasking: remasking, cfgScale: cfgScale, suppressTokens: suppressTokens)
    }
}
