import CQuantKernels
import DLLMCompute

/// Attention of `Tq` new queries per sequence over keys and values held in a cache
/// (the inference counterpart of `attentionForward`; nothing is saved for backward).
///
/// For row `b`, query head `h` (key/value head `g = h / (NH/NKV)`) and query `i` at
/// slot `s = queryStart[b] + i`: `out = softmax(q·Kᵀ/√HD) · V` over the key slots
/// `keyStart[b] ≤ j < keyLength[b]` (and `j ≤ s` when `causal`, `j < (s / blockSize + 1)·blockSize`
/// with a `blockSize`: BD3LM's block-causal attention).
/// `q` is (B·Tq, ldq) with head `h` at column `h·HD`; `keys`/`values` are
/// (B, capacity, NKV·HD); `out` is (B·Tq, ldo). `scratch` holds
/// `cachedAttentionScratchCount(Tq:capacity:)` scalars. `half`: the same keys and values as IEEE half,
/// which the decoding kernel reads instead when it runs (few Float query rows).
public func cachedAttentionForward<S: ComputeScalar>(
    _ out: UnsafeMutablePointer<S>, ldo: Int,
    _ q: UnsafePointer<S>, ldq: Int,
    keys: UnsafePointer<S>, values: UnsafePointer<S>, capacity: Int,
    scratch: UnsafeMutablePointer<S>,
    queryStart: [Int], keyLength: [Int], causal: Bool, keyStart: [Int]? = nil, blockSize: Int? = nil,
    B: Int, Tq: Int, NH: Int, NKV: Int, HD: Int, half: HalfKeyValues? = nil
) {
    precondition(NH % NKV == 0, "cached attention: \(NH) query heads do not group into \(NKV) key/value heads")
    if S.self == Float.self, Tq <= decodeAttentionMaxRows, useDecodeAttention, keyStart == nil, blockSize == nil {
        func f(_ p: UnsafePointer<S>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
        decodeAttentionForward(UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self), ldo: ldo, f(q), ldq: ldq,
                               keys: f(keys), values: f(values), capacity: capacity, queryStart: queryStart, keyLength: keyLength,
                               causal: causal, B: B, Tq: Tq, NH: NH, NKV: NKV, HD: HD, half: half)
        return
    }
    let group = NH / NKV, KVD = NKV * HD
    let scale = 1 / S(HD).squareRoot()
    withSingleThreadedBLAS {
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
                let start = keyStart?[b] ?? 0
                for i in 0..<Tq {
                    let s = queryStart[b] + i
                    var end = causal ? min(n, s + 1) : n
                    if let blockSize { end = min(end, (s / blockSize + 1) * blockSize) }
                    // Slots before `start` (left padding) get probability 0, as slots from `end` on.
                    for j in 0..<min(start, n) { P[i * n + j] = 0 }
                    if start < n { softmaxPrefix(P + i * n + start, count: end - start, total: n - start) }
                }
                // out_bh (Tq, HD) = P (Tq, n) · V_bg (n, HD)
                gemm(.none, .none, m: Tq, n: HD, k: n, P, lda: n, vbg, ldb: KVD, out + b * Tq * ldo + h * HD, ldc: ldo)
            }
        }
    }
}

/// Scalars of scratch `cachedAttentionForward` needs: one (Tq, capacity) score matrix per thread.
public func cachedAttentionScratchCount(Tq: Int, capacity: Int) -> Int { ComputeThreads.count * Tq * capacity }

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
