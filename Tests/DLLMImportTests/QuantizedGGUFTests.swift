import DLLMCompute
import DLLMGGUF
import DLLMImport
import DLLMModels
import Foundation
import XCTest

/// The real SmolLM2-135M-Instruct Q4_1 GGUF kept quantized (``GGUFQuantizedImport``) against the same
/// file dequantised to fp32 (``GGUFModelImport``).
final class QuantizedGGUFTests: XCTestCase {
    /// "The capital of France is Paris. The capital of Germany is Berlin. Water boils at 100 degrees
    /// Celsius, and the largest planet in the solar system is", as transformers' tokenizer of this GGUF
    /// encodes it (AutoTokenizer.from_pretrained(dir, gguf_file=...)).
    static let prompt: [Int32] = [504, 3575, 282, 4649, 314, 7042, 30, 378, 3575, 282, 4521, 314, 11452, 30, 4643, 36411, 418, 216, 33,
                                  32, 32, 5027, 20590, 28, 284, 260, 3995, 3925, 281, 260, 3693, 817, 314]

    // nonisolated(unsafe): a per-process cache filled and read only by XCTest's one test thread.
    nonisolated(unsafe) private static var models: (quantized: LlamaModel<Float>, f32: LlamaModel<Float>)?
    private func models() throws -> (quantized: LlamaModel<Float>, f32: LlamaModel<Float>) {
        if let models = Self.models { return models }
        let file = try SmolLM2.file()
        let loaded = (try GGUFQuantizedImport.load(file).model, try GGUFModelImport.load(file).model)
        Self.models = loaded
        return loaded
    }

    /// Every block matrix, the embedding and the head are quantized, point into the file (but the
    /// un-permuted q/k copies), and dequantise to exactly the fp32 importer's values.
    func testQuantizedMatricesDequantiseToTheImportedWeights() throws {
        let (q, f) = try models()
        let weights = try XCTUnwrap(q.quantizedWeights)
        XCTAssertEqual(weights.layers.count, 30)
        XCTAssertEqual(weights.embedding?.type, .q8_0)
        XCTAssertEqual(weights.head?.data, weights.embedding?.data, "tied head is the embedding")
        var checked = 0
        for slot in f.layout.slots {
            guard let role = q.matrixRole(ofSlotAt: slot.offset) else { continue }
            let matrix: QuantizedMatrix?
            switch role {
            case .embedding: matrix = weights.embedding
            case .head: matrix = weights.head
            case let .q(l): matrix = weights.layers[l].q
            case let .k(l): matrix = weights.layers[l].k
            case let .v(l): matrix = weights.layers[l].v
            case let .o(l): matrix = weights.layers[l].o
            case let .gate(l): matrix = weights.layers[l].gate
            case let .up(l): matrix = weights.layers[l].up
            case let .down(l): matrix = weights.layers[l].down
            }
            let m = try XCTUnwrap(matrix, "\(slot.name) not quantized")
            XCTAssertEqual(m.type, slot.name.contains("embed") ? .q8_0 : .q4_1, slot.name)
            XCTAssertEqual([m.rows, m.cols], slot.shape, slot.name)
            var values = [Float](repeating: .nan, count: m.rows * m.cols)
            m.dequantize(into: &values)
            let reference = UnsafeBufferPointer(start: f.parameters.pointer + slot.offset, count: slot.count)
            let mismatches = zip(values, reference).filter { $0 != $1 }.count
            XCTAssertEqual(mismatches, 0, "\(slot.name): \(mismatches) elements differ from the fp32 import")
            checked += 1
        }
        XCTAssertEqual(checked, 1 + 30 * 7)
    }

    /// Logits of the prompt's last position (prefill: dequantise + sgemm) and of 8 greedy decoding steps
    /// (quantized dot kernels) against the fp32 model's.
    ///
    /// The weights are identical (previous test), so the only difference is the decoding kernels' 8-bit
    /// activations: each rounded to ≤ 1/254 of its 32-block's largest magnitude (≈0.1% RMS relative
    /// error per product), compounding over 30 layers to logit errors of about 1% of their spread.
    /// Cosine > 0.99 allows that with margin, while a wrong row order, scale or kernel gives
    /// unrelated logits (cosine well below 0.9); the greedy token may flip only on near-ties.
    func testLogitsCloseToTheDequantisedModel() throws {
        let (q, f) = try models()
        let V = q.vocabularySize, T = Self.prompt.count, steps = 8
        func run(_ m: LlamaModel<Float>, tokens: [Int32]?) -> (logits: [[Float]], tokens: [Int32]) {
            let cache = m.makeCache(batch: 1, capacity: T + steps)
            var out: [[Float]] = [], chosen: [Int32] = []
            var logits = m.inferenceForward(.full(ids: Self.prompt, B: 1, T: T, lengths: [T], causal: true, logitRows: [T - 1]), cache: cache)
            for step in 0...steps {
                let row = Array(UnsafeBufferPointer(start: logits, count: V))
                out.append(row)
                if step == steps { break }
                // Both models are fed the fp32 model's tokens, so every step compares the same context.
                let next = tokens?[step] ?? Int32(row.indices.max { row[$0] < row[$1] }!)
                chosen.append(next)
                logits = m.inferenceForward(InferenceStep(ids: [next], B: 1, Tq: 1, queryStart: [T + step], keyLength: [T + step + 1],
                                                          causal: true), cache: cache)
            }
            return (out, chosen)
        }
        let reference = run(f, tokens: nil)
        let quantized = run(q, tokens: reference.tokens)
        var sameArgmax = 0
        for (step, (r, g)) in zip(reference.logits, quantized.logits).enumerated() {
            var ab = 0.0, aa = 0.0, bb = 0.0
            for (x, y) in zip(r, g) { ab += Double(x) * Double(y); aa += Double(x) * Double(x); bb += Double(y) * Double(y) }
            let cosine = ab / (aa * bb).squareRoot()
            XCTAssertGreaterThan(cosine, 0.99, "step \(step)")
            if r.indices.max(by: { r[$0] < r[$1] }) == g.indices.max(by: { g[$0] < g[$1] }) { sameArgmax += 1 }
            print(String(format: "QuantizedGGUFTests: step %d cosine %.6f", step, cosine))
        }
        XCTAssertGreaterThanOrEqual(sameArgmax, steps, "greedy tokens agree on \(sameArgmax) of \(steps + 1) positions")
        XCTAssertNotEqual(reference.logits, quantized.logits, "the quantized kernels did not run")
    }
}
