import DLLMCompute

/// Attention of `Tq` new queries per sequence over keys and values held in a cache
/// (the inference counterpart of `attentionForward`; nothing is saved for backward).
///
/// For row `b`, query head `h` (key/value head `g = h / (NH/NKV)`) and query `i` at
/// slot `s = queryStart[b] + i`: `out = softmax(q·Kᵀ/√HD) · V` over the key slots
/// `j < keyLength[b]` (and `j ≤ s` when `causal`).
/// `q` is (B·Tq, ldq) with head `h` at column `h·HD`; `keys`/`values` are
/// (B, capacity, NKV·HD); `out` is (B·Tq, ldo). `scratch` holds
/// `cachedAttentionScratchCount(Tq:capacity:)` scalars.
public func cachedAttentionForward<S: ComputeScalar>(
    _ out: UnsafeMutablePointer<S>, ldo: Int,
    _ q: UnsafePointer<S>, ldq: Int,
    keys: UnsafePointer<S>, values: UnsafePointer<S>, capacity: Int,
    scratch: UnsafeMutablePointer<S>,
    queryStart: [Int], keyLength: [Int], causal: Bool,
    B: Int, Tq: Int, NH: Int, NKV: Int, HD: Int
) {
    precondition(NH % NKV == 0, "cached attention: \(NH) query heads do not group into \(NKV) key/value heads")
    let group = NH / NKV, KVD = NKV * HD
    let scale = 1 / S(HD).squareRoot()
    withSingleThreadedBLAS {
        if Tq == 1 && group > 1 {
            // Decoding: the `group` query heads that share a key/value head are one (group, HD)
            // block of q (heads are HD apart), so K and V are read once per group, in one product each.
            parallelChunks(B * NKV) { chunk, tasks in
                let P = scratch + chunk * group * capacity  // (group, n)
                for task in tasks {
                    let b = task / NKV, g = task % NKV
                    let n = keyLength[b]
                    precondition(n > 0 && n <= capacity, "cached attention: key length \(n) outside 1...\(capacity)")
                    let end = causal ? min(n, queryStart[b] + 1) : n
                    let kbg = keys + b * capacity * KVD + g * HD
                    let vbg = values + b * capacity * KVD + g * HD
                    // P (group, n) = scale · Q_bg (group, HD) · K_bgᵀ (HD, n)
                    gemm(.none, .transpose, m: group, n: n, k: HD, alpha: scale, q + b * ldq + g * group * HD, lda: HD,
                         kbg, ldb: KVD, P, ldc: n)
                    for r in 0..<group { softmaxPrefix(P + r * n, count: end, total: n) }
                    // out_bg (group, HD) = P (group, n) · V_bg (n, HD)
                    gemm(.none, .none, m: group, n: HD, k: n, P, lda: n, vbg, ldb: KVD,
                         out + b * ldo + g * group * HD, ldc: HD)
                }
            }
            return
        }
        parallelChunks(B * NH) { chunk, tasks in
            let P = scratch + chunk * Tq * capacity
            for task in tasks {
                let b = task / NH, h = task % NH, g = h / group
                let n = keyLength[b]
                precondition(n > 0 && n <= capacity, "cached attention: key length \(n) outside 1...\(capacity)")
                let qbh = q + b * Tq * ldq + h * HD
                let kbg = keys + b * capacity * KVD + g * HD
                let vbg = values + b * capacity * KVD + g * HD
                // P (Tq, n) = scale · Q_bh (Tq, HD) · K_bgᵀ (HD, n)
                gemm(.none, .transpose, m: Tq, n: n, k: HD, alpha: scale, qbh, lda: ldq, kbg, ldb: KVD, P, ldc: n)
                for i in 0..<Tq {
                    let end = causal ? min(n, queryStart[b] + i + 1) : n
                    softmaxPrefix(P + i * n, count: end, total: n)
                }
                // out_bh (Tq, HD) = P (Tq, n) · V_bg (n, HD)
                gemm(.none, .none, m: Tq, n: HD, k: n, P, lda: n, vbg, ldb: KVD, out + b * Tq * ldo + h * HD, ldc: ldo)
            }
        }
    }
}

/// Scalars of scratch `cachedAttentionForward` needs: one (max(Tq, group), capacity) score matrix
/// per thread, where `group` = query heads per key/value head (decoding scores a whole group at once).
public func cachedAttentionScratchCount(Tq: Int, capacity: Int, group: Int = 1) -> Int {
    ComputeThreads.count * max(Tq, group) * capacity
}

/// Softmax of `row[0 ..< count]` in place, `row[count ..< total]` set to 0
/// (an empty prefix gives all zeros).
func softmaxPrefix<S: ComputeScalar>(_ row: UnsafeMutablePointer<S>, count: Int, total: Int) {
    if count > 0 {
        let maxv = S.maximum(row, count: count)
        for j in 0..<count { row[j] = S.fastExp(row[j] - maxv) }
        let inv = 1 / S.sum(row, count: count)
        for j in 0..<count { row[j] *= inv }
    }
    for j in max(count, 0)..<total { row[j] = 0 }
}
