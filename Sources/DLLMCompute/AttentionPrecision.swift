/// The precision of attention's matrix products: forward's `Q·Kᵀ` and `P·V`, backward's
/// `dO·Vᵀ`, `Pᵀ·dO`, `dS·K` and `dSᵀ·Q`. Softmax, the mask, the running statistics and every
/// buffer stay in the model's scalar type either way.
public enum AttentionPrecision: Sendable, Equatable {
    /// Products in the model's scalar type (`gemm`).
    case native
    /// Both inputs of every product rounded to bfloat16 and multiplied with float32 accumulation
    /// (``bf16GemmOnThisThread(_:_:m:n:k:_:lda:_:ldb:beta:_:ldc:scratch:)``), as PyTorch's CPU
    /// autocast runs `scaled_dot_product_attention` and eager attention's `matmul`s. Float models only.
    case bfloat16

    /// UInt16 scratch one task needs for the bf16 products of attention over `T` keys with head
    /// size `HD` and query tiles of `rows` (the largest product is `(rows, T) · (T, max(T, HD))`
    /// or its transpose); none for ``native``.
    public func scratchCount(rows: Int, T: Int, HD: Int) -> Int {
        guard self == .bfloat16 else { return 0 }
        let wide = max(T, HD, rows)
        return bf16GemmScratchCount(m: wide, n: wide, k: wide)
    }
}

/// `C = alpha · op(A)·op(B) + beta · C` for one attention task, in `precision`. The bf16 product
/// takes `alpha` as a float32 scale of the product's result, so it allows only `beta == 0` with
/// any `alpha`, or `alpha == 1` with `beta == 1`; callers fold other scales into an operand first
/// (what autograd does for eager attention's `matmul(Q, Kᵀ) · scale`).
@inlinable @inline(__always)
func attentionProduct<S: ComputeScalar>(
    _ precision: AttentionPrecision, _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
    alpha: S = 1, _ a: UnsafePointer<S>, lda: Int, _ b: UnsafePointer<S>, ldb: Int,
    beta: S = 0, _ c: UnsafeMutablePointer<S>, ldc: Int, scratch: UnsafeMutablePointer<UInt16>?
) {
    guard precision == .bfloat16 else {
        gemm(transA, transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: ldc)
        return
    }
    precondition(S.self == Float.self, "attention: bf16 products need a Float model")
    precondition(beta == 0 || alpha == 1, "attention: a bf16 product cannot scale and accumulate at once")
    guard let scratch else { preconditionFailure("attention: bf16 products need scratch (AttentionPrecision.scratchCount)") }
    let fa = UnsafeRawPointer(a).assumingMemoryBound(to: Float.self)
    let fb = UnsafeRawPointer(b).assumingMemoryBound(to: Float.self)
    let fc = UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self)
    bf16GemmOnThisThread(transA, transB, m: m, n: n, k: k, fa, lda: lda, fb, ldb: ldb, beta: beta == 0 ? 0 : 1, fc, ldc: ldc,
                         scratch: scratch)
    if alpha != 1 {
        for i in 0..<m {
            let row = c + i * ldc
            for j in 0..<n { row[j] *= alpha }
        }
    }
}
