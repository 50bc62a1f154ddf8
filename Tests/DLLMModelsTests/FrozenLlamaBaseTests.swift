import DLLMCompute
import DLLMRandom
@testable import DLLMModels
import XCTest

/// The training pass of a LLaMA-family model over a frozen quantised base equals the same pass over
/// an fp32 model holding the dequantised matrices, reads none of the base's fp32 slots and writes
/// no weight gradient for them.
final class FrozenLlamaBaseTests: XCTestCase {
    static let spec = LlamaSpec(
        modelType: "llada", naming: .llada, hidden: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 16,
        intermediate: 128, vocab: 50, rmsNormEps: 1e-5, ropeTheta: 10_000, maxPositions: 16,
        tiedEmbeddings: false, qkvBias: true, maskTokenID: 49, initializerRange: 0.1)

    func testTrainingPassOverFrozenBaseEqualsDequantisedFloatModel() throws {
        for target in FrozenQuantizedMatrix.QuantizeTarget.allCases {
            let quantised = LlamaModel<Float>(spec: Self.spec), reference = LlamaModel<Float>(spec: Self.spec)
            Initialization.initialize(quantised, seed: 5)
            let base = try quantised.frozenBaseCopy(target)
            reference.parameters.pointer.update(from: quantised.parameters.pointer, count: quantised.layout.count)
            let slots = quantised.floatSlots(heldBy: base)
            let matrices = base.layers.flatMap(\.all).compactMap { $0 } + [base.embedding!, base.head!]
            XCTAssertEqual(slots.count, matrices.count)
            for (range, matrix) in zip(slots, matrices) {
                XCTAssertEqual(range.count, matrix.rows * matrix.cols)
                matrix.dequantizeRows(0..<matrix.rows, into: reference.parameters.pointer + range.lowerBound)
                // The quantised model must not read its fp32 copies: poison them.
                (quantised.parameters.pointer + range.lowerBound).update(repeating: .nan, count: range.count)
            }
            quantised.frozenBase = base

            let B = 2, T = 5
            let ids: [Int32] = [3, 7, 1, 49, 12, 40, 49, 2, 8, 9]
            let targets: [Int32] = [-100, -100, -100, 5, -100, -100, 11, -100, -100, -100]
            let batch = TokenBatch(ids: ids, B: B, T: T), mask = AttentionMask(.bidirectional, B: B, T: T)
            var losses: [Double] = []
            for model in [quantised, reference] {
                model.forward(batch, mask: mask)
                losses.append(model.loss(targets: targets, weights: nil))
                model.backward(targets: targets, weights: nil)
            }
            XCTAssertTrue(losses[0].isFinite, "\(target)")
            XCTAssertEqual(losses[0], losses[1], accuracy: 1e-5 * abs(losses[1]), "\(target) loss")

            // The norms' gradients flow back through every frozen product's input gradient.
            for name in quantised.normalizationParameterNames.sorted() {
                let slot = try XCTUnwrap(quantised.layout.slot(name))
                let got = Array(UnsafeBufferPointer(start: quantised.gradients.pointer + slot.offset, count: slot.count))
                let want = Array(UnsafeBufferPointer(start: reference.gradients.pointer + slot.offset, count: slot.count))
                let scale = want.map(abs).max()!
                XCTAssertGreaterThan(scale, 0, name)
                for (g, w) in zip(got, want) {
                    XCTAssertEqual(g, w, accuracy: 1e-4 * scale, "\(target) \(name)")
                }
            }
            for range in slots {
                let grads = UnsafeBufferPointer(start: quantised.gradients.pointer + range.lowerBound, count: range.count)
                XCTAssertTrue(grads.allSatisfy { $0 == 0 }, "\(target): a frozen matrix received a weight gradient")
            }
        }
    }
}
