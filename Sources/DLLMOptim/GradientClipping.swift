import RealModule
import DLLMCompute

/// Global-norm gradient clipping (`torch.nn.utils.clip_grad_norm_`).
public enum GradientClipping {
    /// Σ g² over `grads[range]`, accumulated in Double. Distributed training sums
    /// these partial squares across shards before taking the root.
    @inlinable
    public static func sumOfSquares<S: ComputeScalar>(_ grads: UnsafePointer<S>, range: Range<Int>) -> Double {
        var total = 0.0
        for i in range { let g = Double(grads[i]); total += g * g }
        return total
    }

    /// The factor torch applies: `min(1, maxNorm / (norm + 1e-6))`.
    @inlinable
    public static func clipCoefficient(norm: Double, maxNorm: Double) -> Double {
        min(1, maxNorm / (norm + 1e-6))
    }

    /// Scales `grads[range]` so that the global norm is at most `maxNorm`; returns the
    /// norm before clipping.
    @inlinable
    @discardableResult
    public static func clip<S: ComputeScalar>(_ grads: UnsafeMutablePointer<S>, range: Range<Int>, maxNorm: Double) -> Double {
        let norm = sumOfSquares(grads, range: range).squareRoot()
        let coefficient = clipCoefficient(norm: norm, maxNorm: maxNorm)
        if coefficient < 1 {
            let c = S(coefficient)
            for i in range { grads[i] *= c }
        }
        return norm
    }
}
