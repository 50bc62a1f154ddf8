import DLLMCompute
@testable import DLLMModels
import XCTest

/// The quantized inference path of `LlamaModel` against the fp32 path on the same (dequantised)
/// weights: prefill dequantises and runs sgemm, so it matches to float rounding; decoding
/// quantises activations to 8 bits, so it matches to that rounding.
final class QuantizedModelTests: XCTestCase {
    static let spec = LlamaSpec(
        modelType: "llama", naming: .huggingFace, hidden: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 16,
        intermediate: 96, vocab: 97, rmsNormEps: 1e-5, ropeTheta: 10_000, maxPositions: 64,
        tiedEmbeddings: true, qkvBias: false, maskTokenID: nil, initializerRange: 0.1)

    /// A model whose fp32 matrices are exactly the dequantised `type` matrices it also holds quantized.
    func model(_ type: QuantizedType) throws -> (LlamaModel<Float>, QuantizedLlamaWeights) {
        let m = LlamaModel<Float>(spec: Self.spec)
        Initialization.initialize(m, seed: 5)
        let q = try m.quantizedCopy(type, tableType: .q8_0)
        let p = m.parameters.pointer
        for (w, l) in zip(m.offsets.layers, q.layers) {
            for (offset, matrix) in [(w.q, l.q), (w.k, l.k), (w.v, l.v), (w.o, l.o), (w.gate, l.gate), (w.up, l.up), (w.down, l.down)] {
                matrix!.dequantize(into: p + offset)
            }
        }
        q.embedding!.dequantize(into: p + m.offsets.embedding)
        return (m, q)
    }

    /// Logits of a 12-token prefill (last row) then 6 decoding steps, one row each.
    func run(_ m: LlamaModel<Float>) -> [[Float]] {
        let V = Self.spec.vocab, T = 12
        var ids: [Int32] = (0..<T).map { Int32(($0 * 37 + 11) % V) }
        let cache = m.makeCache(batch: 1, capacity: T + 8)
        var out: [[Float]] = []
        var logits = m.inferenceForward(.full(ids: ids, B: 1, T: T, lengths: [T], causal: true, logitRows: [T - 1]), cache: cache)
        out.append(Array(UnsafeBufferPointer(start: logits, count: V)))
        for step in 0..<6 {
            let next = Int32((step * 13 + 3) % V)
            ids.append(next)
            logits = m.inferenceForward(InferenceStep(ids: [next], B: 1, Tq: 1, queryStart: [ids.count - 1], keyLength: [ids.count],
                                                      causal: true), cache: cache)
            out.append(Array(UnsafeBufferPointer(start: logits, count: V)))
        }
        return out
    }

    func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var ab = 0.0, aa = 0.0, bb = 0.0
        for (x, y) in zip(a, b) { ab += Double(x * y); aa += Double(x * x); bb += Double(y * y) }
        return ab / (aa * bb).squareRoot()
    }

    /// ``QuantizedLlamaWeights/packed()`` copies every matrix byte for byte into one buffer (a tied head
    /// stored once), so the quantized path's logits are unchanged.
    func testPackedWeightsGiveIdenticalLogits() throws {
        let (m, q) = try model(.q4_1)
        m.quantizedWeights = q
        let before = run(m)
        let packed = q.packed()
        XCTAssertEqual(packed.byteCount, q.byteCount)
        for (a, b) in zip(q.layers, packed.layers) {
            for (x, y) in [(a.q, b.q), (a.k, b.k), (a.v, b.v), (a.o, b.o), (a.gate, b.gate), (a.up, b.up), (a.down, b.down)] {
                let x = try XCTUnwrap(x), y = try XCTUnwrap(y)
                XCTAssertNotEqual(x.data, y.data)
                XCTAssertEqual([x.rows, x.cols, x.type.rawValue == y.type.rawValue ? 1 : 0], [y.rows, y.cols, 1])
                XCTAssertEqual(Array(UnsafeRawBufferPointer(start: x.data, count: x.byteCount)),
                               Array(UnsafeRawBufferPointer(start: y.data, count: y.byteCount)))
            }
        }
        XCTAssertEqual(packed.head?.data, packed.embedding?.data, "the tied head is stored once")
        m.quantizedWeights = packed
        XCTAssertEqual(run(m), before)
    }

    func testQuantizedPathMatchesDequantisedWeights() throws {
        for type in QuantizedType.allCases {
            let (m, q) = try model(type)
            let reference = run(m)
            m.quantizedWeights = q
            let quantized = run(m)
            // Prefill: dequantise + sgemm on the same numbers, the head's single row through the
            // Q8_0 kernel (activation rounding), so only the last projection differs.
            for (step, (r, g)) in zip(reference, quantized).enumerated() {
                let scale = Double(r.map(abs).max()!)
                let worst = zip(r, g).map { Double(abs($0 - $1)) }.max()!
                // 8-bit activations: each product is off by ≤ 1/254 of its block's largest input, relative
                // errors that add up in quadrature over a few layers to a few percent at most.
                XCTAssertGreaterThan(cosine(r, g), 0.999, "\(type) step \(step)")
                XCTAssertLessThan(worst, 0.05 * scale, "\(type) step \(step): worst logit difference \(worst) of \(scale)")
                // Same argmax, except on a near-tie: decoding also reads the KV cache's half copy, and at
                // one step of the Q4_0 model the reference's top two logits are 0.7% of the range apart.
                let ra = r.indices.max { r[$0] < r[$1] }!, ga = g.indices.max { g[$0] < g[$1] }!
                XCTAssertLessThanOrEqual(Double(r[ra] - r[ga]), 0.01 * scale, "\(type) step \(step): argmax \(ga), not a near-tie of \(ra)")
            }
            XCTAssertNotEqual(reference, quantized, "\(type): the quantized path did not run (identical logits)")
        }
    }
}
