/// Which confidence Dream's sampler ranks masked positions by (`DreamGenerationConfig.alg`).
public enum DreamAlgorithm: String, Sendable, CaseIterable, Hashable {
    /// Each masked position is revealed with probability `1 − s/t` (the reverse process as derived).
    case origin
    /// The probability of the sampled token (MaskGIT).
    case maskgitPlus = "maskgit_plus"
    /// The gap between the two most probable tokens.
    case topkMargin = "topk_margin"
    /// The negative entropy of the token distribution.
    case entropy
}

/// The parameters of Dream's `diffusion_generate` (`DreamGenerationConfig`), in its names.
public struct DreamSamplerConfig: Sendable, Hashable {
    /// Denoising steps; each runs the model once.
    public var steps: Int
    /// Tokens generated after the prompt (`max_new_tokens`).
    public var maxNewTokens: Int
    /// The last time step of `linspace(1, eps, steps + 1)`.
    public var eps: Double
    public var alg: DreamAlgorithm
    /// With a positive value, positions are drawn in proportion to `softmax(confidence / alg_temp)`
    /// instead of taking the most confident ones (not used by `origin`).
    public var algTemp: Double?
    /// 0 takes the most probable token; otherwise tokens are sampled at this temperature.
    public var temperature: Double
    public var topP: Double?
    public var topK: Int?

    public init(steps: Int = 512, maxNewTokens: Int = 128, eps: Double = 1e-3, alg: DreamAlgorithm = .origin, algTemp: Double? = nil,
                temperature: Double = 0, topP: Double? = nil, topK: Int? = nil) {
        self.steps = steps
        self.maxNewTokens = maxNewTokens
        self.eps = eps
        self.alg = alg
        self.algTemp = algTemp
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
    }

    /// Rejects values Dream's sampler cannot run, naming the parameter.
    public func validate() throws {
        if steps < 1 { throw SamplingError.notPositive(parameter: "steps", value: steps) }
        if maxNewTokens < 1 { throw SamplingError.notPositive(parameter: "max_new_tokens", value: maxNewTokens) }
        if !(eps > 0 && eps < 1) { throw SamplingError.invalidValue(parameter: "eps", value: "\(eps)", reason: "must be in (0, 1)") }
        if !(temperature.isFinite && temperature >= 0) {
            throw SamplingError.invalidValue(parameter: "temperature", value: "\(temperature)", reason: "must be a finite number ≥ 0")
        }
        if let t = algTemp, !(t.isFinite && t >= 0) {
            throw SamplingError.invalidValue(parameter: "alg_temp", value: "\(t)", reason: "must be a finite number ≥ 0")
        }
        if let p = topP, !(p > 0 && p <= 1) { throw SamplingError.invalidValue(parameter: "top_p", value: "\(p)", reason: "must be in (0, 1]") }
        if let k = topK, k < 1 { throw SamplingError.notPositive(parameter: "top_k", value: k) }
    }

    /// `torch.linspace(1, eps, steps + 1)` in float32 as PyTorch's CPU kernel computes it: a float32
    /// step, the first half counted from the start and the second back from the end, each value one
    /// fused multiply-add (`start + i·step`, `end − (n − 1 − i)·step`; equal to torch for every
    /// `steps` up to 1024 at eps 1e-2, 1e-3, 1e-4).
    public var timesteps: [Float] {
        let n = steps + 1, start: Float = 1, end = Float(eps)
        let step = Double((end - start) / Float(n - 1))
        return (0..<n).map { i in
            i < n / 2 ? Float(Double(start) + step * Double(i)) : Float(Double(end) - step * Double(n - 1 - i))
        }
    }
}
