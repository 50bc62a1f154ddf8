import DLLMCompute
import DLLMRandom
@testable import DLLMModels
import XCTest

/// The inference path's own kernels against the training kernels they stand in for.
final class InferenceKernelTests: XCTestCase {
    func testFewRowsLinearMatchesBLAS() {
        var rng = SeededGenerator(seed: 3)
        for layout in [WeightLayout.outIn, .inOut] {
            for N in 1...4 {
                let C = 37, OC = 300
                let x = (0..<(N * C)).map { _ in rng.nextGaussian() }
                let w = (0..<(C * OC)).map { _ in rng.nextGaussian() }
                let b = (0..<OC).map { _ in rng.nextGaussian() }
                var expected = [Double](repeating: 0, count: N * OC), got = expected
                linearForward(&expected, x, w, b, N: N, C: C, OC: OC, layout: layout)
                fewRowsLinearForward(&got, x, w, b, N: N, C: C, OC: OC, layout: layout)
                XCTAssertLessThan(zip(got, expected).map { abs($0 - $1) }.max()!, 1e-12, "\(layout), N \(N)")
                linearForward(&expected, x, w, nil, N: N, C: C, OC: OC, layout: layout)
                fewRowsLinearForward(&got, x, w, nil, N: N, C: C, OC: OC, layout: layout)
                XCTAssertLessThan(zip(got, expected).map { abs($0 - $1) }.max()!, 1e-12, "\(layout), N \(N), no bias")
            }
        }
    }

    func testCachedAttentionMatchesTrainingAttention() {
        var rng = SeededGenerator(seed: 4)
        let B = 2, T = 7, NH = 4, NKV = 2, HD = 3, QD = NH * HD, KVD = NKV * HD
        let q = (0..<(B * T * QD)).map { _ in rng.nextGaussian() }
        let k = (0..<(B * T * KVD)).map { _ in rng.nextGaussian() }
        let v = (0..<(B * T * KVD)).map { _ in rng.nextGaussian() }
        for causal in [false, true] {
            let lengths = [7, 5]
            let pad = lengths.flatMap { n in (0..<T).map { $0 < n } }
            let mask = AttentionMask(causal ? .causal : .bidirectional, B: B, T: T, keyPadding: pad)
            var expected = [Double](repeating: 0, count: B * T * QD)
            var att = [Double](repeating: 0, count: B * NH * T * T)
            attentionForward(&expected, ldo: QD, &att, q, ldq: QD, k, ldk: KVD, v, ldv: KVD, mask: mask, B: B, T: T, NH: NH, NKV: NKV, HD: HD)
            var got = [Double](repeating: 0, count: B * T * QD)
            var scratch = [Double](repeating: 0, count: cachedAttentionScratchCount(Tq: T, capacity: T))
            cachedAttentionForward(&got, ldo: QD, q, ldq: QD, keys: k, values: v, capacity: T, scratch: &scratch,
                                   queryStart: [0, 0], keyLength: lengths, causal: causal, B: B, Tq: T, NH: NH, NKV: NKV, HD: HD)
            for b in 0..<B {
                for t in 0..<lengths[b] {
                    for c in 0..<QD {
                        XCTAssertEqual(got[(b * T + t) * QD + c], expected[(b * T + t) * QD + c], accuracy: 1e-12, "causal \(causal)")
                    }
                }
            }
            guard causal else { continue }
            // Decoding (Tq = 1): the query at slot s of each row, keys up to s.
            for s in 0..<T {
                if lengths.contains(where: { $0 <= s }) { continue }
                var q1: [Double] = []
                for b in 0..<B {
                    let start = (b * T + s) * QD
                    q1 += q[start..<(start + QD)]
                }
                var one = [Double](repeating: 0, count: B * QD)
                var scratch1 = [Double](repeating: 0, count: cachedAttentionScratchCount(Tq: 1, capacity: T))
                cachedAttentionForward(&one, ldo: QD, q1, ldq: QD, keys: k, values: v, capacity: T, scratch: &scratch1,
                                       queryStart: [s, s], keyLength: lengths, causal: true, B: B, Tq: 1, NH: NH, NKV: NKV, HD: HD)
                for b in 0..<B {
                    for c in 0..<QD {
                        XCTAssertEqual(one[b * QD + c], expected[(b * T + s) * QD + c], accuracy: 1e-12, "decode slot \(s)")
                    }
                }
            }
        }
    }
}
