import RealModule
import DLLMCompute

/// AdamW hyperparameters, named as Hugging Face `TrainingArguments` names them.
public struct AdamWConfig: Sendable, Equatable, Codable {
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double

    public init(learningRate: Double = 5e-5, beta1: Double = 0.9, beta2: Double = 0.999,
                epsilon: Double = 1e-8, weightDecay: Double = 0) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }
}

/// AdamW (Loshchilov & Hutter 2019) with bias correction, as `torch.optim.AdamW`
/// computes it: decoupled decay `θ ← θ·(1 − lr·λ)`, then
/// `θ ← θ − lr · m̂ / (√v̂ + ε)` with `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)`.
///
/// Parameters, gradients and moments share the flat layout, so one step is one
/// loop over a range; a ZeRO shard updates only its slice (`range`).
public enum AdamW {
    /// Applies step number `step` (1-based) to `params[range]`.
    /// `decayMask`, when given, is 1 where weight decay applies and 0 elsewhere.
    @inlinable
    public static func step<S: ComputeScalar>(
        params: UnsafeMutablePointer<S>, grads: UnsafePointer<S>,
        m: UnsafeMutablePointer<S>, v: UnsafeMutablePointer<S>,
        range: Range<Int>, step: Int, config: AdamWConfig, learningRate: Double? = nil,
        decayMask: UnsafePointer<UInt8>? = nil
    ) {
        precondition(step >= 1, "AdamW: steps count from 1")
        let lr = S(learningRate ?? config.learningRate)
        let b1 = S(config.beta1), b2 = S(config.beta2), eps = S(config.epsilon)
        let decay = S(config.weightDecay)
        let bc1 = 1 - S.pow(b1, S(step))
        let bc2 = 1 - S.pow(b2, S(step))
        let stepSize = lr / bc1
        let bc2Sqrt = S.sqrt(bc2)
        let lower = range.lowerBound
        parallelChunks(range.count, minimumPerThread: 1 << 14) { r in
            for j in r {
                let i = lower + j
                let g = grads[i]
                if decay != 0 && (decayMask == nil || decayMask![i] != 0) {
                    params[i] *= 1 - lr * decay
                }
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                let denom = S.sqrt(v[i]) / bc2Sqrt + eps
                params[i] -= stepSize * m[i] / denom
            }
        }
    }
}
