import RealModule
// Dimension names used across the compute core (llm.c's convention):
//   B batch, T time (sequence), C channels, OC output channels, N = B·T rows,
//   V vocabulary, NH query heads, NKV key/value heads, HD head dimension, L layers.

/// How a linear layer's weight is stored.
public enum WeightLayout: Sendable {
    /// (OC, C), as `torch.nn.Linear` stores it: `y = x · Wᵀ + b`.
    case outIn
    /// (C, OC), as GPT-2's `Conv1D` stores it: `y = x · W + b`.
    case inOut
}

/// `out (N, OC) = inp (N, C) · W + bias`, W laid out per `layout`
/// (mirrors llm.c's `matmul_forward`, through BLAS).
@inlinable
public func linearForward<S: ComputeScalar>(
    _ out: UnsafeMutablePointer<S>,
    _ inp: UnsafePointer<S>, _ weight: UnsafePointer<S>, _ bias: UnsafePointer<S>?,
    N: Int, C: Int, OC: Int, layout: WeightLayout = .outIn
) {
    if let bias {
        for n in 0..<N { (out + n * OC).update(from: bias, count: OC) }
    }
    gemm(.none, layout == .outIn ? .transpose : .none, m: N, n: OC, k: C,
         inp, lda: C, weight, ldb: layout == .outIn ? C : OC,
         beta: bias == nil ? 0 : 1, out, ldc: OC)
}

/// Backward of `linearForward`; accumulates (`+=`) into `dinp`, `dweight`, `dbias`.
/// `dinp` may be nil when the input needs no gradient, `dweight` when the weight is frozen
/// (a LoRA base) (mirrors llm.c's `matmul_backward`).
@inlinable
public func linearBackward<S: ComputeScalar>(
    _ dinp: UnsafeMutablePointer<S>?, _ dweight: UnsafeMutablePointer<S>?, _ dbias: UnsafeMutablePointer<S>?,
    _ dout: UnsafePointer<S>, _ inp: UnsafePointer<S>, _ weight: UnsafePointer<S>,
    N: Int, C: Int, OC: Int, layout: WeightLayout = .outIn
) {
    if let dinp {
        // dinp (N, C) += dout (N, OC) · W(OC, C)   [or · Wᵀ for (C, OC) storage]
        gemm(.none, layout == .outIn ? .none : .transpose, m: N, n: C, k: OC,
             dout, lda: OC, weight, ldb: layout == .outIn ? C : OC, beta: 1, dinp, ldc: C)
    }
    guard let dweight else { return }
    switch layout {
    case .outIn:  // dW (OC, C) += doutᵀ · inp
        gemm(.transpose, .none, m: OC, n: C, k: N, dout, lda: OC, inp, ldb: C, beta: 1, dweight, ldc: C)
    case .inOut:  // dW (C, OC) += inpᵀ · dout
        gemm(.transpose, .none, m: C, n: OC, k: N, inp, lda: C, dout, ldb: OC, beta: 1, dweight, ldc: OC)
    }
    if let dbias {
        for n in 0..<N {
            let row = dout + n * OC
            for o in 0..<OC { dbias[o] += row[o] }
        }
    }
}
