import DLLMCompute
@testable import DLLMModels
import XCTest

/// ``LanguageModel/forwardBackwardOnWeightedRows(_:mask:targets:weights:dloss:)``: the head on the
/// rows a masked-diffusion loss weights gives the loss and gradients of the head on every row, and
/// ``LanguageModel/lossOnWeightedRows(_:mask:targets:weights:)`` (evaluation) its loss.
final class WeightedRowsHeadTests: XCTestCase {
    func testHeadOnWeightedRowsGivesTheFullHeadsLossAndGradients() throws {
        for name in ["llama_gqa", "qwen3"] {
            let folder = PyTorchParityTests.fixtures.appendingPathComponent(name)
            let ref = try PyTorchParityTests.Reference(folder)
            let model = try XCTUnwrap(try ModelFolder.load(folder, as: Float.self).model as? LlamaModel<Float>, name)
            let N = ref.B * ref.T
            for bf16 in [false, true] {
                model.setBF16Matmuls(bf16)
                var acts: LlamaActivations<Float>?
                // Two different masked sets (a masked-diffusion batch's count changes step to step), then none masked.
                let masks: [(Int) -> Bool] = [{ $0 % 3 != 1 }, { $0 % 2 == 0 }, { _ in true }]
                for (round, keep) in masks.enumerated() {
                    let weights = ref.weights.enumerated().map { keep($0.offset) ? $0.element : 0 }
                    let scored = weights.filter { $0 != 0 }.count
                    XCTAssertGreaterThan(scored, 0)
                    model.gradients.zero()
                    let full = model.forwardBackward(ref.batch, mask: ref.mask, targets: ref.targets, weights: weights)
                    XCTAssertEqual(model.logitRowCount, N)
                    let fullGradients = model.gradients.array
                    model.gradients.zero()
                    let partial = model.forwardBackwardOnWeightedRows(ref.batch, mask: ref.mask, targets: ref.targets, weights: weights)
                    let label = "\(name), bf16 \(bf16), round \(round)"
                    XCTAssertEqual(model.logitRowCount, scored, "\(label): the head ran on the weighted rows")
                    XCTAssertEqual(partial, full, accuracy: 1e-6 * abs(full), label)
                    let gradients = model.gradients.array
                    let scale = fullGradients.map(abs).max()!
                    let worst = zip(gradients, fullGradients).map { abs($0 - $1) }.max()!
                    XCTAssertLessThan(worst, 1e-5 * scale, "\(label): gradients")
                    XCTAssertGreaterThan(scale, 0)
                    if round == 1 { XCTAssertTrue(model.acts === acts, "\(label): a new row count reuses the activations") }
                    acts = model.acts
                    // Evaluation: the loss alone, the head on the same rows, leaves the gradients alone.
                    let evaluated = model.lossOnWeightedRows(ref.batch, mask: ref.mask, targets: ref.targets, weights: weights)
                    XCTAssertEqual(model.logitRowCount, scored, "\(label): evaluation's head ran on the weighted rows")
                    XCTAssertEqual(evaluated, full, accuracy: 1e-6 * abs(full), "\(label): evaluation loss")
                    XCTAssertEqual(model.gradients.array, gradients, "\(label): evaluation touched the gradients")
                }
            }
        }
    }
}
