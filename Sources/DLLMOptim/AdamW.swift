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
            var j = r.lowerBound
            if S.self == Float.self {
                // Sixteen lanes at a time with the scalar loop's operations in its order, so each
                // element gets the same correctly rounded result (vsqrtps/vdivps as vsqrtss/vdivss).
                let f = { (x: S) in SIMD16<Float>(repeating: Float(x)) }
                let b1v = f(b1), b2v = f(b2), c1 = f(1 - b1), c2 = f(1 - b2)
                let keep = f(1 - lr * decay), eps16 = f(eps), bc2Sqrt16 = f(bc2Sqrt), step16 = f(stepSize)
                let P = UnsafeMutableRawPointer(params).assumingMemoryBound(to: Float.self)
                let G = UnsafeRawPointer(grads).assumingMemoryBound(to: Float.self)
                let M = UnsafeMutableRawPointer(m).assumingMemoryBound(to: Float.self)
                let V = UnsafeMutableRawPointer(v).assumingMemoryBound(to: Float.self)
                let F = SIMD16<Float>.self
                while j + 16 <= r.upperBound {
                    let i = lower + j
                    let g = lanes(F, G, i)
                    var p = lanes(F, P, i)
                    if decay != 0 {
                        if let decayMask {
                            let bytes = UnsafeRawPointer(decayMask + i).loadUnaligned(as: SIMD16<UInt8>.self)
                            p.replace(with: p * keep, where: SIMD16<Int32>(truncatingIfNeeded: bytes) .!= 0)
                        } else {
                            p = p * keep
                        }
                    }
                    let mi = b1v * lanes(F, M, i) + c1 * g
                    let vi = b2v * lanes(F, V, i) + c2 * g * g
                    let denom = vi.squareRoot() / bc2Sqrt16 + eps16
                    p = p - step16 * mi / denom
                    storeLanes(mi, M, i); storeLanes(vi, V, i); storeLanes(p, P, i)
                    j += 16
                }
            }
            while j < r.upperBound {
                let i = lower + j
                let g = grads[i]
                if decay != 0 && (decayMask == nil || decayMask![i] != 0) {
                    params[i] *= 1 - lr * decay
                }
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                let denom = S.sqrt(v[i]) / bc2Sqrt + eps
                params[i] -= stepSize * m[i] / denom
                j += 1
            }
        }
    }
}

