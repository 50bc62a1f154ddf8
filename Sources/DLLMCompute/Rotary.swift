import RealModule
/// Rotary position embeddings (Su et al. 2021) in LLaMA's rotate-half convention
/// (HF `apply_rotary_pos_emb`): the head vector is split in halves `(x₁, x₂)` and
/// `y₁ = x₁·cos − x₂·sin`, `y₂ = x₂·cos + x₁·sin`, frequency `i` shared by both halves.
///
/// Angles are computed in the scalar type as HF does in float32:
/// `inv_freq[i] = 1 / theta^(2i/HD)`, `angle = position · inv_freq[i]`.
public struct RotaryTable<S: ComputeScalar>: Sendable {
    public let headDim: Int
    public let maxPositions: Int
    public let theta: Double
    @usableFromInline let cos: Buffer<S>  // (P, HD/2)
    @usableFromInline let sin: Buffer<S>  // (P, HD/2)

    public init(headDim: Int, maxPositions: Int, theta: Double) {
        precondition(headDim % 2 == 0, "rotary: head dimension \(headDim) must be even")
        self.headDim = headDim
        self.maxPositions = maxPositions
        self.theta = theta
        let half = headDim / 2
        cos = Buffer(count: maxPositions * half)
        sin = Buffer(count: maxPositions * half)
        for i in 0..<half {
            let invFreq = 1 / S.pow(S(theta), S(2 * i) / S(headDim))
            for p in 0..<maxPositions {
                let angle = S(p) * invFreq
                cos[p * half + i] = S.cos(angle)
                sin[p * half + i] = S.sin(angle)
            }
        }
    }

    /// Rotates, in place, `heads` head vectors of every row of `x`:
    /// `x` is (N, ld) with head `h` at columns `h·HD ..< (h+1)·HD`.
    /// `inverse` applies the transposed rotation, which is the backward pass.
    @inlinable
    public func apply(
        _ x: UnsafeMutablePointer<S>, positions: UnsafePointer<Int32>,
        N: Int, heads: Int, ld: Int, inverse: Bool = false
    ) {
        let half = headDim / 2
        let cosp = cos.pointer, sinp = sin.pointer
        let P = maxPositions, HD = headDim
        parallelChunks(N, minimumPerThread: 32) { rows in
            for n in rows {
                let p = Int(positions[n])
                precondition(p >= 0 && p < P, "rotary: position \(p) beyond table of \(P)")
                let c = cosp + p * half
                let s = sinp + p * half
                for h in 0..<heads {
                    let v = x + n * ld + h * HD
                    for i in 0..<half {
                        let x1 = v[i], x2 = v[i + half]
                        let si = inverse ? -s[i] : s[i]
                        v[i] = x1 * c[i] - x2 * si
                        v[i + half] = x2 * c[i] + x1 * si
                    }
                }
            }
        }
    }
}
