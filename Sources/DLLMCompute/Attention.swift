import RealModule
/// Scaled dot-product attention with grouped-query heads (Vaswani et al. 2017;
/// GQA, Ainslie et al. 2023), as HF's eager attention computes it:
/// for each sequence `b` and query head `h` (key/value head `g = h / (NH/NKV)`,
/// HF `repeat_kv`), `P = softmax(Q·Kᵀ/√HD + mask)`, `out = P·V`.
///
/// Buffers are row-major with explicit row strides so that fused layouts work
/// without copies: `q` is (B·T, ldq) with head `h` at columns `h·HD`, `k`/`v` are
/// (B·T, ldk/ldv) with head `g` at `g·HD`, `out` is (B·T, ldo).
/// `att` (B, NH, T, T) receives the probabilities and is kept for backward.
/// `precision` is that of the two products (``AttentionPrecision``; the softmax is always in `S`).
@inlinable
public func attentionForward<S: ComputeScalar>(
    _ out: UnsafeMutablePointer<S>, ldo: Int,
    _ att: UnsafeMutablePointer<S>,
    _ q: UnsafePointer<S>, ldq: Int, _ k: UnsafePointer<S>, ldk: Int, _ v: UnsafePointer<S>, ldv: Int,
    mask: AttentionMask, B: Int, T: Int, NH: Int, NKV: Int, HD: Int, precision: AttentionPrecision = .native
) {
    precondition(NH % NKV == 0, "attention: \(NH) query heads do not group into \(NKV) key/value heads")
    precondition(mask.B == B && mask.T == T, "attention: mask is for (\(mask.B), \(mask.T)), batch is (\(B), \(T))")
    let group = NH / NKV
    let scale = 1 / S.sqrt(S(HD))
    // One task per (sequence, head); BLAS runs single-threaded inside each task so
    // the cores split the heads instead of splitting each small product.
    withSingleThreadedBLAS {
        parallelChunks(B * NH) { tasks in
            let scratchCount = precision.scratchCount(rows: T, T: T, HD: HD)
            let scratch = scratchCount > 0 ? UnsafeMutablePointer<UInt16>.allocate(capacity: scratchCount) : nil
            defer { scratch?.deallocate() }
            for task in tasks {
                let b = task / NH, h = task % NH
                let g = h / group
                let qbh = q + b * T * ldq + h * HD
                let kbg = k + b * T * ldk + g * HD
                let vbg = v + b * T * ldv + g * HD
                let P = att + (b * NH + h) * T * T
                // S (T, T) = scale · Q_bh (T, HD) · K_bgᵀ (HD, T)
                attentionProduct(precision, .none, .transpose, m: T, n: T, k: HD, alpha: scale, qbh, lda: ldq, kbg, ldb: ldk, P, ldc: T,
                                 scratch: scratch)
                mask.withView { view in for i in 0..<T { maskedSoftmaxRow(P + i * T, b: b, i: i, T: T, mask: view) } }
                // out_bh (T, HD) = P (T, T) · V_bg (T, HD)
                attentionProduct(precision, .none, .none, m: T, n: HD, k: T, P, lda: T, vbg, ldb: ldv, out + b * T * ldo + h * HD, ldc: ldo,
                                 scratch: scratch)
            }
        }
    }
}

/// Softmax of one score row in place, disallowed keys set to exactly 0.
/// The common masks (bidirectional, causal) are contiguous key ranges and run
/// branch-free; only an explicit mask is consulted per element.
@inlinable
func maskedSoftmaxRow<S: ComputeScalar>(_ row: UnsafeMutablePointer<S>, b: Int, i: Int, T: Int, mask: AttentionMaskView) {
    if !mask.isBaseOnly {
        var maxv = -S.infinity
        for j in 0..<T where mask.allows(b, i, j) && row[j] > maxv { maxv = row[j] }
        if maxv == -S.infinity {
            for j in 0..<T { row[j] = 0 }
            return
        }
        var sum: S = 0
        for j in 0..<T {
            let e = mask.allows(b, i, j) ? S.fastExp(row[j] - maxv) : 0
            row[j] = e
            sum += e
        }
        let inv = 1 / sum
        for j in 0..<T { row[j] *= inv }
        return
    }
    let end = mask.keyEnd(i)
    let maxv = S.maximum(row, count: end)
    for j in 0..<end { row[j] = S.fastExp(row[j] - maxv) }
    let inv = 1 / S.sum(row, count: end)
    for j in 0..<end { row[j] *= inv }
    for j in end..<T { row[j] = 0 }
}

/// Backward of `attentionForward`, accumulating into `dq`, `dk`, `dv` (same strides as
/// the forward's `q`, `k`, `v`). `scratch` holds `attentionScratchCount(T:)` scalars.
/// `dP = dO·Vᵀ`, `dV += Pᵀ·dO`, `dS = P ⊙ (dP − rowsum(dP ⊙ P))`, `dQ += dS·K/√HD`, `dK += dSᵀ·Q/√HD`.
/// With bf16 products the scale multiplies `dS` before it is rounded (autograd's order for
/// `matmul(Q, Kᵀ) · scale`).
@inlinable
public func attentionBackward<S: ComputeScalar>(
    _ dq: UnsafeMutablePointer<S>, _ dk: UnsafeMutablePointer<S>, _ dv: UnsafeMutablePointer<S>,
    _ scratch: UnsafeMutableBufferPointer<S>,
    _ dout: UnsafePointer<S>, ldo: Int,
    _ att: UnsafePointer<S>,
    _ q: UnsafePointer<S>, ldq: Int, _ k: UnsafePointer<S>, ldk: Int, _ v: UnsafePointer<S>, ldv: Int,
    B: Int, T: Int, NH: Int, NKV: Int, HD: Int, precision: AttentionPrecision = .native
) {
    let group = NH / NKV
    let scale = 1 / S.sqrt(S(HD))
    // One task per (sequence, key/value head): the query heads of a group all add into
    // the same dK/dV slice, so grouping by key/value head keeps tasks free of races.
    let tasks = B * NKV
    precondition(scratch.count >= min(tasks, ComputeThreads.count) * T * T, "attention: scratch holds \(scratch.count), needs attentionScratchCount(T:)")
    withSingleThreadedBLAS {
        parallelChunks(tasks) { chunk, range in
            let dP = scratch.baseAddress! + chunk * T * T
            let packCount = precision.scratchCount(rows: T, T: T, HD: HD)
            let pack = packCount > 0 ? UnsafeMutablePointer<UInt16>.allocate(capacity: packCount) : nil
            defer { pack?.deallocate() }
            let productScale = precision == .bfloat16 ? 1 : scale  // bf16: folded into dS
            for task in range {
                let b = task / NKV, g = task % NKV
                let kbg = k + b * T * ldk + g * HD
                let vbg = v + b * T * ldv + g * HD
                let dkbg = dk + b * T * ldk + g * HD
                let dvbg = dv + b * T * ldv + g * HD
                for h in (g * group)..<((g + 1) * group) {
                    let qbh = q + b * T * ldq + h * HD
                    let dqbh = dq + b * T * ldq + h * HD
                    let dobh = dout + b * T * ldo + h * HD
                    let P = att + (b * NH + h) * T * T
                    // dP (T, T) = dO (T, HD) · Vᵀ
                    attentionProduct(precision, .none, .transpose, m: T, n: T, k: HD, dobh, lda: ldo, vbg, ldb: ldv, dP, ldc: T,
                                     scratch: pack)
                    // dV (T, HD) += Pᵀ (T, T) · dO (T, HD)
                    attentionProduct(precision, .transpose, .none, m: T, n: HD, k: T, P, lda: T, dobh, ldb: ldo, beta: 1, dvbg, ldc: ldv,
                                     scratch: pack)
                    // dS = P ⊙ (dP − Σⱼ dP⊙P), in place over dP (times the scale for bf16 products)
                    for i in 0..<T {
                        let p = P + i * T, d = dP + i * T
                        let dot = S.dot(p, d, count: T)
                        if precision == .bfloat16 {
                            for j in 0..<T { d[j] = p[j] * (d[j] - dot) * scale }
                        } else {
                            for j in 0..<T { d[j] = p[j] * (d[j] - dot) }
                        }
                    }
                    // dQ (T, HD) += scale · dS · K ;  dK (T, HD) += scale · dSᵀ · Q
                    attentionProduct(precision, .none, .none, m: T, n: HD, k: T, alpha: productScale, dP, lda: T, kbg, ldb: ldk,
                                     beta: 1, dqbh, ldc: ldq, scratch: pack)
                    attentionProduct(precision, .transpose, .none, m: T, n: HD, k: T, alpha: productScale, dP, lda: T, qbh, ldb: ldq,
                                     beta: 1, dkbg, ldc: ldk, scratch: pack)
                }
            }
        }
    }
}

/// Scalars of scratch `attentionBackward` needs: one (T, T) matrix per thread.
public func attentionScratchCount(T: Int) -> Int { ComputeThreads.count * T * T }
