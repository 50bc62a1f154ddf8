import RealModule
/// Tile sizes of the tiled attention: query rows and key columns per score tile.
public struct AttentionTiles: Sendable {
    public var queries: Int, keys: Int

    public init(queries: Int, keys: Int) {
        precondition(queries > 0 && keys > 0, "AttentionTiles: tile sizes must be positive")
        self.queries = queries
        self.keys = keys
    }

    /// (64, 256): a 64 KiB fp32 score tile, which stays in L2.
    public static let standard = AttentionTiles(queries: 64, keys: 256)
}

/// Attention without the (T, T) matrix (FlashAttention-2, Dao 2023, Algorithm 1, on the CPU):
/// the same result as ``attentionForward`` (`out = softmax(Q·Kᵀ/√HD + mask)·V` per sequence
/// and query head, key/value head `h / (NH/NKV)`), computed over (64, 256) score tiles with an
/// online softmax. Each query row keeps a running maximum `m` and sum `l`; a new tile with
/// maximum `m'` rescales the row's partial output and sum by `exp(m − m')`.
///
/// Only `lse` (B, NH, T), the per-row log-sum-exp `m + log l`, is kept for backward
/// (`+∞` for a row with no allowed key, whose output is zeros). Memory per task is one
/// score tile; strides and head columns are those of ``attentionForward``.
@inlinable
public func tiledAttentionForward<S: ComputeScalar>(
    _ out: UnsafeMutablePointer<S>, ldo: Int,
    _ lse: UnsafeMutablePointer<S>,
    _ q: UnsafePointer<S>, ldq: Int, _ k: UnsafePointer<S>, ldk: Int, _ v: UnsafePointer<S>, ldv: Int,
    mask: AttentionMask, B: Int, T: Int, NH: Int, NKV: Int, HD: Int, tiles: AttentionTiles = .standard,
    precision: AttentionPrecision = .native
) {
    precondition(NH % NKV == 0, "attention: \(NH) query heads do not group into \(NKV) key/value heads")
    precondition(mask.B == B && mask.T == T, "attention: mask is for (\(mask.B), \(mask.T)), batch is (\(B), \(T))")
    let group = NH / NKV
    let scale = 1 / S.sqrt(S(HD))
    let Br = tiles.queries, Bc = tiles.keys
    mask.withView { view in
        withSingleThreadedBLAS {
            parallelChunks(B * NH) { tasks in
                let tile = UnsafeMutablePointer<S>.allocate(capacity: Br * Bc)     // (Br, Bc) scores, then probabilities
                let stats = UnsafeMutablePointer<S>.allocate(capacity: 2 * Br)     // running max, running sum
                let packCount = precision.scratchCount(rows: Br, T: Bc, HD: HD)
                let pack = packCount > 0 ? UnsafeMutablePointer<UInt16>.allocate(capacity: packCount) : nil
                defer { tile.deallocate(); stats.deallocate(); pack?.deallocate() }
                let runningMax = stats, runningSum = stats + Br
                for task in tasks {
                    let b = task / NH, h = task % NH, g = h / group
                    let qbh = q + b * T * ldq + h * HD
                    let kbg = k + b * T * ldk + g * HD
                    let vbg = v + b * T * ldv + g * HD
                    let obh = out + b * T * ldo + h * HD
                    let lsebh = lse + (b * NH + h) * T
                    for i0 in stride(from: 0, to: T, by: Br) {
                        let rows = min(Br, T - i0)
                        let o = obh + i0 * ldo                                       // (rows, HD), row stride ldo
                        for r in 0..<rows {
                            runningMax[r] = -S.infinity
                            runningSum[r] = 0
                            (o + r * ldo).update(repeating: 0, count: HD)
                        }
                        // A causal base hides every key after the tile's last query.
                        let keyEnd = view.causal ? i0 + rows : T
                        for j0 in stride(from: 0, to: keyEnd, by: Bc) {
                            let cols = min(Bc, keyEnd - j0)
                            // scores (rows, cols) = scale · Q_i (rows, HD) · K_jᵀ (HD, cols)
                            attentionProduct(precision, .none, .transpose, m: rows, n: cols, k: HD, alpha: scale, qbh + i0 * ldq, lda: ldq,
                                             kbg + j0 * ldk, ldb: ldk, tile, ldc: cols, scratch: pack)
                            for r in 0..<rows {
                                let row = tile + r * cols
                                maskScoreRow(row, b: b, i: i0 + r, j0: j0, cols: cols, view: view)
                                let newMax = max(runningMax[r], S.maximum(row, count: cols))
                                if newMax == -S.infinity {
                                    // Nothing allowed yet: the tile adds nothing to this row.
                                    row.update(repeating: 0, count: cols)
                                    continue
                                }
                                let correction = S.fastExp(runningMax[r] - newMax)
                                for c in 0..<cols { row[c] = S.fastExp(row[c] - newMax) }
                                runningSum[r] = runningSum[r] * correction + S.sum(row, count: cols)
                                runningMax[r] = newMax
                                if correction != 1 {
                                    let orow = o + r * ldo
                                    for d in 0..<HD { orow[d] *= correction }
                                }
                            }
                            // O_i (rows, HD) += P (rows, cols) · V_j (cols, HD)
                            attentionProduct(precision, .none, .none, m: rows, n: HD, k: cols, tile, lda: cols, vbg + j0 * ldv, ldb: ldv,
                                             beta: 1, o, ldc: ldo, scratch: pack)
                        }
                        for r in 0..<rows {
                            let orow = o + r * ldo
                            if runningSum[r] == 0 {
                                for d in 0..<HD { orow[d] = 0 }
                                lsebh[i0 + r] = S.infinity
                            } else {
                                let inv = 1 / runningSum[r]
                                for d in 0..<HD { orow[d] *= inv }
                                lsebh[i0 + r] = runningMax[r] + S.log(runningSum[r])
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Sets the disallowed scores of query `i`'s keys `j0 ..< j0 + cols` to −∞.
@inlinable @inline(__always)
func maskScoreRow<S: ComputeScalar>(_ row: UnsafeMutablePointer<S>, b: Int, i: Int, j0: Int, cols: Int, view: AttentionMaskView) {
    if view.isBaseOnly {
        // Keys after `keyEnd(i)` only (a causal base); a bidirectional one allows them all.
        let allowed = max(0, min(cols, view.keyEnd(i) - j0))
        for c in allowed..<cols { row[c] = -S.infinity }
        return
    }
    for c in 0..<cols where !view.allows(b, i, j0 + c) { row[c] = -S.infinity }
}

/// Backward of ``tiledAttentionForward`` (FlashAttention-2, Algorithm 2), accumulating into
/// `dq`, `dk`, `dv`. Each score tile is recomputed as `P = exp(scale·Q·Kᵀ − lse)` (0 where
/// masked), then with `D_i = Σ_d dO·O` per query row:
/// `dV += Pᵀ·dO`, `dP = dO·Vᵀ`, `dS = P ⊙ (dP − D)`, `dQ += scale·dS·K`, `dK += scale·dSᵀ·Q`.
/// `out` is the forward's output (same stride `ldo` as `dout`), `lse` its (B, NH, T) log-sum-exp.
/// One task per (sequence, key/value head), as ``attentionBackward``, so writes never race.
/// With bf16 products the scale multiplies `dS` before it is rounded, as in ``attentionBackward``.
@inlinable
public func tiledAttentionBackward<S: ComputeScalar>(
    _ dq: UnsafeMutablePointer<S>, _ dk: UnsafeMutablePointer<S>, _ dv: UnsafeMutablePointer<S>,
    _ dout: UnsafePointer<S>, _ out: UnsafePointer<S>, ldo: Int,
    _ lse: UnsafePointer<S>,
    _ q: UnsafePointer<S>, ldq: Int, _ k: UnsafePointer<S>, ldk: Int, _ v: UnsafePointer<S>, ldv: Int,
    mask: AttentionMask, B: Int, T: Int, NH: Int, NKV: Int, HD: Int, tiles: AttentionTiles = .standard,
    precision: AttentionPrecision = .native
) {
    precondition(NH % NKV == 0, "attention: \(NH) query heads do not group into \(NKV) key/value heads")
    precondition(mask.B == B && mask.T == T, "attention: mask is for (\(mask.B), \(mask.T)), batch is (\(B), \(T))")
    let group = NH / NKV
    let scale = 1 / S.sqrt(S(HD))
    let Br = tiles.queries, Bc = tiles.keys
    mask.withView { view in
        withSingleThreadedBLAS {
            parallelChunks(B * NKV) { tasks in
                let P = UnsafeMutablePointer<S>.allocate(capacity: Br * Bc)    // (Br, Bc) probabilities
                let dS = UnsafeMutablePointer<S>.allocate(capacity: Br * Bc)   // (Br, Bc) dP, then dS
                let D = UnsafeMutablePointer<S>.allocate(capacity: T)          // (T) rowsum(dO ⊙ O)
                let packCount = precision.scratchCount(rows: Br, T: Bc, HD: HD)
                let pack = packCount > 0 ? UnsafeMutablePointer<UInt16>.allocate(capacity: packCount) : nil
                defer { P.deallocate(); dS.deallocate(); D.deallocate(); pack?.deallocate() }
                let productScale = precision == .bfloat16 ? 1 : scale  // bf16: folded into dS
                for task in tasks {
                    let b = task / NKV, g = task % NKV
                    let kbg = k + b * T * ldk + g * HD, vbg = v + b * T * ldv + g * HD
                    let dkbg = dk + b * T * ldk + g * HD, dvbg = dv + b * T * ldv + g * HD
                    for h in (g * group)..<((g + 1) * group) {
                        let qbh = q + b * T * ldq + h * HD, dqbh = dq + b * T * ldq + h * HD
                        let dobh = dout + b * T * ldo + h * HD, obh = out + b * T * ldo + h * HD
                        let lsebh = lse + (b * NH + h) * T
                        for i in 0..<T { D[i] = S.dot(dobh + i * ldo, obh + i * ldo, count: HD) }
                        for i0 in stride(from: 0, to: T, by: Br) {
                            let rows = min(Br, T - i0)
                            let keyEnd = view.causal ? i0 + rows : T
                            for j0 in stride(from: 0, to: keyEnd, by: Bc) {
                                let cols = min(Bc, keyEnd - j0)
                                attentionProduct(precision, .none, .transpose, m: rows, n: cols, k: HD, alpha: scale, qbh + i0 * ldq,
                                                 lda: ldq, kbg + j0 * ldk, ldb: ldk, P, ldc: cols, scratch: pack)
                                for r in 0..<rows {
                                    let row = P + r * cols
                                    maskScoreRow(row, b: b, i: i0 + r, j0: j0, cols: cols, view: view)
                                    let l = lsebh[i0 + r]
                                    if l == S.infinity {
                                        row.update(repeating: 0, count: cols)
                                    } else {
                                        for c in 0..<cols { row[c] = S.fastExp(row[c] - l) }
                                    }
                                }
                                // dV_j (cols, HD) += Pᵀ · dO_i
                                attentionProduct(precision, .transpose, .none, m: cols, n: HD, k: rows, P, lda: cols, dobh + i0 * ldo,
                                                 ldb: ldo, beta: 1, dvbg + j0 * ldv, ldc: ldv, scratch: pack)
                                // dP (rows, cols) = dO_i · V_jᵀ
                                attentionProduct(precision, .none, .transpose, m: rows, n: cols, k: HD, dobh + i0 * ldo, lda: ldo,
                                                 vbg + j0 * ldv, ldb: ldv, dS, ldc: cols, scratch: pack)
                                for r in 0..<rows {
                                    let p = P + r * cols, d = dS + r * cols, Di = D[i0 + r]
                                    if precision == .bfloat16 {
                                        for c in 0..<cols { d[c] = p[c] * (d[c] - Di) * scale }
                                    } else {
                                        for c in 0..<cols { d[c] = p[c] * (d[c] - Di) }
                                    }
                                }
                                // dQ_i += scale · dS · K_j ;  dK_j += scale · dSᵀ · Q_i
                                attentionProduct(precision, .none, .none, m: rows, n: HD, k: cols, alpha: productScale, dS, lda: cols,
                                                 kbg + j0 * ldk, ldb: ldk, beta: 1, dqbh + i0 * ldq, ldc: ldq, scratch: pack)
                                attentionProduct(precision, .transpose, .none, m: cols, n: HD, k: rows, alpha: productScale, dS, lda: cols,
                                                 qbh + i0 * ldq, ldb: ldq, beta: 1, dkbg + j0 * ldk, ldc: ldk, scratch: pack)
                            }
                        }
                    }
                }
            }
        }
    }
}
