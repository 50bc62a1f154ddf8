import CQuantKernels
import DLLMCompute
import Foundation

/// Query rows per sequence up to which fp32 ``cachedAttentionForward`` runs ``decodeAttentionForward``
/// (decoding, as `fewRowsLimit` for the products); more rows share sgemm's packing better.
let decodeAttentionMaxRows = 4

/// False when `DLLM_DECODE_ATTENTION=blas`: every query count takes the sgemm path (for A/B benchmarks).
nonisolated(unsafe) var useDecodeAttention = ProcessInfo.processInfo.environment["DLLM_DECODE_ATTENTION"] != "blas"

/// Key slots below which a slot range is not split further across threads.
let decodeAttentionMinimumSlots = 128

/// `cachedAttentionForward` for fp32 and few query rows, without BLAS: CQuantKernels'
/// `cqk_attention_partial_f32` scores every query head of a row in one pass over a range of the
/// row's cache slots (each slot read once, in memory order); a row's slots are split into ranges when
/// that spreads the work evenly over the threads, and the ranges' online-softmax states are merged
/// (flash-decoding, Dao et al. 2023): with M = maxₚ mxₚ, out = Σₚ e^(mxₚ−M)·accₚ / Σₚ e^(mxₚ−M)·lₚ.
/// Shapes and masking as ``cachedAttentionForward``; `isa` picks the kernel path (tests force scalar),
/// `threads` the thread count the split plans for; with `half` the kernel reads the IEEE half copy
/// of the cache (`cqk_attention_partial_f16`) instead of `keys`/`values`.
func decodeAttentionForward(
    _ out: UnsafeMutablePointer<Float>, ldo: Int,
    _ q: UnsafePointer<Float>, ldq: Int,
    keys: UnsafePointer<Float>, values: UnsafePointer<Float>, capacity: Int,
    queryStart: [Int], keyLength: [Int], causal: Bool,
    B: Int, Tq: Int, NH: Int, NKV: Int, HD: Int,
    isa: Int32 = QuantizedKernels.isa, threads: Int = ComputeThreads.count, half: HalfKeyValues? = nil
) {
    precondition(NH % NKV == 0, "decode attention: \(NH) query heads do not group into \(NKV) key/value heads")
    let KVD = NKV * HD, vectors = Tq * NH
    let scale = 1 / Float(HD).squareRoot()
    let longest = keyLength.max() ?? 0
    // Ranges per row: enough for B·splits tasks to be a multiple of the threads, none shorter than the minimum.
    var splits = threads / greatestCommonDivisor(B, threads)
    splits = max(1, min(splits, longest / decodeAttentionMinimumSlots))
    let tasks = B * splits
    let stateWidth = vectors * (HD + 2)  // per task: mx (vectors), l (vectors), acc (vectors, HD)
    withUnsafeTemporaryAllocation(of: Int32.self, capacity: B * Tq) { ends in
        for b in 0..<B {
            let n = keyLength[b]
            precondition(n > 0 && n <= capacity, "decode attention: key length \(n) outside 1...\(capacity)")
            for i in 0..<Tq { ends[b * Tq + i] = Int32(causal ? min(n, queryStart[b] + i + 1) : n) }
        }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: tasks * stateWidth) { states in
            let state = states.baseAddress!
            let ends = UnsafePointer(ends.baseAddress!)
            parallelRows(tasks, minimumPerThread: 1, granule: 1) { range in
                for task in range {
                    let b = task / splits, part = task % splits, n = keyLength[b]
                    let mx = state + task * stateWidth, l = mx + vectors, acc = l + vectors
                    let j0 = Int32(n * part / splits), j1 = Int32(n * (part + 1) / splits), row = b * capacity * KVD
                    let status = if let half {
                        cqk_attention_partial_f16(isa, q + b * Tq * ldq, ldq, half.keys + row, half.values + row, KVD,
                                                  Int32(Tq), Int32(NH), Int32(NKV), Int32(HD), ends + b * Tq, j0, j1, scale, mx, l, acc)
                    } else {
                        cqk_attention_partial_f32(isa, q + b * Tq * ldq, ldq, keys + row, values + row, KVD,
                                                  Int32(Tq), Int32(NH), Int32(NKV), Int32(HD), ends + b * Tq, j0, j1, scale, mx, l, acc)
                    }
                    precondition(status == 0, "decode attention: kernel path \(isa) unavailable")
                }
            }
            for b in 0..<B {
                for v in 0..<vectors {
                    let i = v / NH, h = v % NH
                    let y = out + (b * Tq + i) * ldo + h * HD
                    var top = -Float.infinity
                    for part in 0..<splits { top = max(top, state[(b * splits + part) * stateWidth + v]) }
                    for d in 0..<HD { y[d] = 0 }
                    guard top > -Float.infinity else { continue }  // no slot seen: zeros, as softmaxPrefix
                    var total: Float = 0
                    for part in 0..<splits {
                        let mx = state + (b * splits + part) * stateWidth
                        let c = Float.fastExp(mx[v] - top), acc = mx + 2 * vectors + v * HD
                        total += c * mx[vectors + v]
                        for d in 0..<HD { y[d] += c * acc[d] }
                    }
                    let inverse = 1 / total
                    for d in 0..<HD { y[d] *= inverse }
                }
            }
        }
    }
}

private func greatestCommonDivisor(_ a: Int, _ b: Int) -> Int { b == 0 ? max(a, 1) : greatestCommonDivisor(b, a % b) }
