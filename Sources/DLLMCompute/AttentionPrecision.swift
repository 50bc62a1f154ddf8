/// The precision of attention's matrix products: forward's `Q·Kᵀ` and `P·V`, backward's
/// `dO·Vᵀ`, `Pᵀ·dO`, `dS·K` and `dSᵀ·Q`. Softmax, the mask, the running statistics and every
/// buffer stay in the model's scalar type either way.
public enum AttentionPrecision: Sendable, Equatable {
    /// Products in the model's scalar type (`gemm`).
    case native
    /// Both inputs of every product rounded to bfloat16 and multiplied with float32 accumulation
    /// (``bf16MultiplyPackedOnThisThread(_:_:m:n:k:beta:_:ldc:)``), as PyTorch's CPU
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

/// UInt16s that operands packed ahead of their products take (``attentionPackRows`` and
/// ``attentionPackPanels``); none for ``AttentionPrecision/native``.
extension AttentionPrecision {
    public func packedRowsCount(m: Int, k: Int) -> Int { self == .bfloat16 ? bf16PackedRowsCount(N: m, C: k) : 0 }
    public func packedPanelsCount(k: Int, n: Int) -> Int { self == .bfloat16 ? bf16PackedPanelsCount(k: k, n: n) : 0 }
}

/// op(A) (m, k) packed for an ``attentionProduct(_:_:_:m:n:k:alpha:_:lda:_:ldb:beta:_:ldc:scratch:packedA:packedB:)``
/// `packedA`, so an operand that several products share (a query tile across key tiles) is
/// rounded once. Only for ``AttentionPrecision/bfloat16``.
@inlinable
func attentionPackRows<S: ComputeScalar>(_ transA: Transpose, m: Int, k: Int, _ a: UnsafePointer<S>, lda: Int,
                                         into packed: UnsafeMutablePointer<UInt16>) {
    precondition(S.self == Float.self, "attention: bf16 products need a Float model")
    bf16PackRowsOnThisThread(transA, m: m, k: k, UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), lda: lda, into: packed)
}

/// op(B) (k, n) packed for `packedB` (a key tile across query tiles and heads); it serves any
/// product with the same `k` over its first `n' ≤ n` columns. Only for ``AttentionPrecision/bfloat16``.
@inlinable
func attentionPackPanels<S: ComputeScalar>(_ transB: Transpose, k: Int, n: Int, _ b: UnsafePointer<S>, ldb: Int,
                                           into packed: UnsafeMutablePointer<UInt16>) {
    precondition(S.self == Float.self, "attention: bf16 products need a Float model")
    bf16PackPanelsOnThisThread(transB, k: k, n: n, UnsafeRawPointer(b).assumingMemoryBound(to: Float.self), ldb: ldb, into: packed)
}

/// `C = alpha · op(A)·op(B) + beta · C` for one attention task, in `precision`. The bf16 product
/// takes `alpha` as a float32 scale of the product's result, so it allows only `beta == 0` with
/// any `alpha`, or `alpha == 1` with `beta == 1`; callers fold other scales into an operand first
/// (what autograd does for eager attention's `matmul(Q, Kᵀ) · scale`). With bf16, `packedA` or
/// `packedB` (the same operand, packed ahead: ``attentionPackRows``, ``attentionPackPanels``)
/// stands in for `a` or `b`, and the result is the same bits.
@inlinable @inline(__always)
func attentionProduct<S: ComputeScalar>(
    _ precision: AttentionPrecision, _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
    alpha: S = 1, _ a: UnsafePointer<S>, lda: Int, _ b: UnsafePointer<S>, ldb: Int,
    beta: S = 0, _ c: UnsafeMutablePointer<S>, ldc: Int, scratch: UnsafeMutablePointer<UInt16>?,
    packedA: UnsafePointer<UInt16>? = nil, packedB: UnsafePointer<UInt16>? = nil
) {
    guard precision == .bfloat16 else {
        gemm(transA, transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: ldc)
        return
    }
    precondition(S.self == Float.self, "attention: bf16 products need a Float model")
    precondition(beta == 0 || alpha == 1, "attention: a bf16 product cannot scale and accumulate at once")
    guard let scratch else { preconditionFailure("attention: bf16 products need scratch (AttentionPrecision.scratchCount)") }
    if m == 0 || n == 0 { return }
    let pa = packedA ?? {
        attentionPackRows(transA, m: m, k: k, a, lda: lda, into: scratch)
        return UnsafePointer(scratch)
    }()
    let pb = packedB ?? {
        let panels = scratch + bf16PackedRowsCount(N: m, C: k)
        attentionPackPanels(transB, k: k, n: n, b, ldb: ldb, into: panels)
        return UnsafePointer(panels)
    }()
    let fc = UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self)
    bf16MultiplyPackedOnThisThread(pa, pb, m: m, n: n, k: k, beta: beta == 0 ? 0 : 1, fc, ldc: ldc)
    if alpha != 1 {
        for i in 0..<m {
            let row = c + i * ldc
            for j in 0..<n { row[j] *= alpha }
        }
    }
}
