import CQuantKernels
import DLLMCompute
@testable import DLLMModels
import XCTest

/// The decoding attention kernel (CQuantKernels `cqk_attention_partial_f32`, its slot ranges merged by
/// ``decodeAttentionForward``) against the sgemm + softmax path of ``cachedAttentionForward`` run in
/// Float64, on the scalar and the AVX-512 path, with split and unsplit slot ranges.
final class DecodeAttentionTests: XCTestCase {
    struct Case {
        var B: Int, Tq: Int, NH: Int, NKV: Int, HD: Int, capacity: Int
        var queryStart: [Int], keyLength: [Int], causal: Bool
    }

    let cases: [Case] = [
        // SmolLM2's heads, one decoding step at a slot count that is no multiple of the tile or of 4.
        Case(B: 1, Tq: 1, NH: 9, NKV: 3, HD: 64, capacity: 700, queryStart: [530], keyLength: [531], causal: true),
        // Two rows of different lengths, a block of 3 queries, causal and bidirectional.
        Case(B: 2, Tq: 3, NH: 4, NKV: 2, HD: 32, capacity: 300, queryStart: [200, 61], keyLength: [203, 64], causal: true),
        Case(B: 2, Tq: 3, NH: 4, NKV: 2, HD: 32, capacity: 300, queryStart: [200, 61], keyLength: [290, 77], causal: false),
        // Odd head width (scalar loop on every path), one key; eight query rows (48 query vectors).
        Case(B: 1, Tq: 1, NH: 2, NKV: 1, HD: 5, capacity: 9, queryStart: [0], keyLength: [1], causal: true),
        Case(B: 1, Tq: 8, NH: 6, NKV: 2, HD: 48, capacity: 400, queryStart: [250], keyLength: [258], causal: true),
        Case(B: 3, Tq: 2, NH: 3, NKV: 3, HD: 7, capacity: 150, queryStart: [0, 10, 140], keyLength: [2, 12, 142], causal: true),
    ]

    var paths: [Int32] {
        [Int32(CQK_ISA_SCALAR), Int32(CQK_ISA_AVX512)].filter { isa in
            let ok = cqk_isa_supported(isa) != 0
            if !ok { print("DecodeAttentionTests: this CPU has no \(String(cString: cqk_isa_name(isa))) path") }
            return ok
        }
    }

    func testMatchesCachedAttentionInDoublePrecision() {
        var rng = SeededGenerator(seed: 11)
        for (n, c) in cases.enumerated() {
            let QD = c.NH * c.HD, KVD = c.NKV * c.HD
            let q = (0..<(c.B * c.Tq * QD)).map { _ in Float(rng.nextGaussian()) * 2 }
            var k = (0..<(c.B * c.capacity * KVD)).map { _ in Float(rng.nextGaussian()) * 2 }
            var v = (0..<(c.B * c.capacity * KVD)).map { _ in Float(rng.nextGaussian()) }
            // Slots at or past a row's key length must not be read: NaN there would poison the output.
            for b in 0..<c.B {
                for j in c.keyLength[b]..<c.capacity {
                    for d in 0..<KVD { k[(b * c.capacity + j) * KVD + d] = .nan; v[(b * c.capacity + j) * KVD + d] = .nan }
                }
            }
            var expected = [Double](repeating: 0, count: c.B * c.Tq * QD)
            var scratch = [Double](repeating: 0, count: cachedAttentionScratchCount(Tq: c.Tq, capacity: c.capacity))
            cachedAttentionForward(&expected, ldo: QD, q.map(Double.init), ldq: QD, keys: k.map(Double.init), values: v.map(Double.init),
                                   capacity: c.capacity, scratch: &scratch, queryStart: c.queryStart, keyLength: c.keyLength,
                                   causal: c.causal, B: c.B, Tq: c.Tq, NH: c.NH, NKV: c.NKV, HD: c.HD)
            for isa in paths {
                for threads in [1, 2, 3] {
                    var got = [Float](repeating: .nan, count: c.B * c.Tq * QD)
                    decodeAttentionForward(&got, ldo: QD, q, ldq: QD, keys: k, values: v, capacity: c.capacity,
                                           queryStart: c.queryStart, keyLength: c.keyLength, causal: c.causal,
                                           B: c.B, Tq: c.Tq, NH: c.NH, NKV: c.NKV, HD: c.HD, isa: isa, threads: threads)
                    let worst = zip(got, expected).map { abs(Double($0) - $1) }.max()!
                    XCTAssertLessThan(worst, 2e-5, "case \(n), isa \(isa), \(threads) threads")
                }
            }
            // The public entry takes this kernel for Float and few rows.
            var viaEntry = [Float](repeating: .nan, count: c.B * c.Tq * QD)
            var floatScratch = [Float](repeating: 0, count: cachedAttentionScratchCount(Tq: c.Tq, capacity: c.capacity))
            cachedAttentionForward(&viaEntry, ldo: QD, q, ldq: QD, keys: k, values: v, capacity: c.capacity, scratch: &floatScratch,
                                   queryStart: c.queryStart, keyLength: c.keyLength, causal: c.causal,
                                   B: c.B, Tq: c.Tq, NH: c.NH, NKV: c.NKV, HD: c.HD)
            XCTAssertLessThan(zip(viaEntry, expected).map { abs(Double($0) - $1) }.max()!, 2e-5, "case \(n), cachedAttentionForward")
        }
    }

    /// A slot range a row cannot see (its causal end before the range) leaves the empty state, which the merge ignores.
    func testRangeBeyondACausalEndIsEmpty() {
        let HD = 16
        let q = [Float](repeating: 1, count: HD), k = [Float](repeating: 1, count: 8 * HD), v = k
        var mx: Float = 0, l: Float = 1, acc = [Float](repeating: 7, count: HD)
        var end: Int32 = 3
        for isa in paths {
            XCTAssertEqual(cqk_attention_partial_f32(isa, q, HD, k, v, HD, 1, 1, 1, Int32(HD), &end, 4, 8, 0.25, &mx, &l, &acc), 0)
            XCTAssertEqual(mx, -.infinity)
            XCTAssertEqual(l, 0)
            XCTAssertEqual(acc, [Float](repeating: 0, count: HD))
        }
        XCTAssertEqual(cqk_attention_partial_f32(0, q, HD, k, v, HD, 1, 1, 1, Int32(HD), &end, 5, 4, 0.25, &mx, &l, &acc), -1, "j1 < j0")
    }
}
