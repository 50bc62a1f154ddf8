import CQuantKernels
import DLLMCompute
@testable import DLLMModels
import XCTest

/// The decoding attention kernel (CQuantKernels `cqk_attention_partial_f32`, its slot ranges merged by
/// ``decodeAttentionForward``) against the sgemm + softmax path of ``cachedAttentionForward`` run in
/// Float64, on the scalar and the AVX-512 path, with split and unsplit slot ranges; and its IEEE half
/// cache variant (`cqk_attention_partial_f16`) against it.
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

    /// The half-cache kernel equals the fp32 kernel run on the cache rounded to half, bit for bit (it
    /// widens each element on load, then does the same arithmetic), on every path and split; and the
    /// row converter rounds as `cqk_f32_to_f16`.
    func testHalfCacheEqualsTheFloatKernelOnRoundedValues() {
        var rng = SeededGenerator(seed: 12)
        for (n, c) in cases.enumerated() {
            let QD = c.NH * c.HD, KVD = c.NKV * c.HD, count = c.B * c.capacity * KVD
            let q = (0..<(c.B * c.Tq * QD)).map { _ in Float(rng.nextGaussian()) * 2 }
            let k = (0..<count).map { _ in Float(rng.nextGaussian()) * 2 }
            let v = (0..<count).map { _ in Float(rng.nextGaussian()) }
            var hk = [UInt16](repeating: 0, count: count), hv = hk
            cqk_f32_to_f16_row(k, &hk, Int32(count))
            cqk_f32_to_f16_row(v, &hv, Int32(count))
            XCTAssertEqual(hk, k.map(cqk_f32_to_f16), "case \(n): row conversion")
            let roundedK = hk.map(cqk_f16_to_f32), roundedV = hv.map(cqk_f16_to_f32)
            for isa in paths {
                for threads in [1, 2] {
                    var expected = [Float](repeating: .nan, count: c.B * c.Tq * QD), got = expected
                    decodeAttentionForward(&expected, ldo: QD, q, ldq: QD, keys: roundedK, values: roundedV, capacity: c.capacity,
                                           queryStart: c.queryStart, keyLength: c.keyLength, causal: c.causal,
                                           B: c.B, Tq: c.Tq, NH: c.NH, NKV: c.NKV, HD: c.HD, isa: isa, threads: threads)
                    hk.withUnsafeBufferPointer { hkp in
                        hv.withUnsafeBufferPointer { hvp in
                            // The fp32 arguments are poisoned: the half copy alone must be read.
                            let poison = [Float](repeating: .nan, count: count)
                            decodeAttentionForward(&got, ldo: QD, q, ldq: QD, keys: poison, values: poison, capacity: c.capacity,
                                                   queryStart: c.queryStart, keyLength: c.keyLength, causal: c.causal,
                                                   B: c.B, Tq: c.Tq, NH: c.NH, NKV: c.NKV, HD: c.HD, isa: isa, threads: threads,
                                                   half: HalfKeyValues(keys: hkp.baseAddress!, values: hvp.baseAddress!))
                        }
                    }
                    XCTAssertEqual(got, expected, "case \(n), isa \(isa), \(threads) threads")
                }
            }
        }
        // Rounding edge cases of the row converter: ties, subnormals, overflow, signed zero (a length
        // that leaves a scalar tail after the 16-wide steps).
        let edge: [Float] = [1 + 1.0 / 2048, 1 + 3.0 / 2048, 65519, 65520, 70000, -70000, 1e-7, -3e-8, 6e-5, 0, -0.0,
                             .infinity, -.infinity, 2.5e-8, 0.1, -1234.5, 33.3]
        var out = [UInt16](repeating: 0, count: edge.count)
        cqk_f32_to_f16_row(edge, &out, Int32(edge.count))
        XCTAssertEqual(out, edge.map(cqk_f32_to_f16))
    }

    /// A quantized model's cache keeps the half copy in step with its fp32 slots.
    func testQuantizedModelCacheKeepsAHalfCopy() throws {
        let spec = LlamaSpec(modelType: "llama", naming: .huggingFace, hidden: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 16,
                             intermediate: 96, vocab: 97, rmsNormEps: 1e-5, ropeTheta: 10_000, maxPositions: 64,
                             tiedEmbeddings: true, qkvBias: false, maskTokenID: nil, initializerRange: 0.1)
        let m = LlamaModel<Float>(spec: spec)
        Initialization.initialize(m, seed: 3)
        XCTAssertNil(m.makeCache(batch: 1, capacity: 8).halfCache(layer: 0), "an fp32 model keeps no half copy")
        m.quantizedWeights = try m.quantizedCopy(.q8_0)
        let cache = m.makeCache(batch: 1, capacity: 8)
        _ = m.inferenceForward(.full(ids: [1, 2, 3, 4, 5], B: 1, T: 5, lengths: [5], causal: true, logitRows: [4]), cache: cache)
        _ = m.inferenceForward(InferenceStep(ids: [6], B: 1, Tq: 1, queryStart: [5], keyLength: [6], causal: true), cache: cache)
        let width = cache.width
        for l in 0..<spec.layers {
            let half = try XCTUnwrap(cache.halfCache(layer: l))
            for slot in 0..<6 {
                for d in 0..<width {
                    XCTAssertEqual(half.keys[slot * width + d], cqk_f32_to_f16(cache.key(layer: l, row: 0, slot: slot)[d]))
                    XCTAssertEqual(half.values[slot * width + d], cqk_f32_to_f16(cache.value(layer: l, row: 0, slot: slot)[d]))
                }
            }
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
