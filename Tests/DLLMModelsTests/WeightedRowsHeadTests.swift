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

    /// GPT-2 (final LayerNorm and head on the rows) and BERT (head on the rows), float32 and bf16:
    /// the same loss and gradients as the head on every row, in training and evaluation, and the
    /// head on a range of positions gives those rows' loss.
    func testGPT2AndBertHeadOnWeightedRows() throws {
        let gpt2 = try XCTUnwrap(try ModelFolder.load(PyTorchParityTests.fixtures.appendingPathComponent("gpt2"), as: Float.self).model
            as? GPT2Model<Float>)
        let bert = try XCTUnwrap(try ModelFolder.load(PyTorchParityTests.fixtures.appendingPathComponent("bf16_bert"), as: Float.self).model
            as? BertModel<Float>)
        try check(gpt2, PyTorchParityTests.Reference(PyTorchParityTests.fixtures.appendingPathComponent("gpt2")), "gpt2",
                  rowCount: { gpt2.logitRowCount })
        try check(bert, PyTorchParityTests.Reference(PyTorchParityTests.fixtures.appendingPathComponent("bf16_bert")), "bert",
                  rowCount: { bert.logitRowCount })
    }

    func check<M: LanguageModel>(_ model: M, _ ref: PyTorchParityTests.Reference, _ name: String, rowCount: () -> Int) throws
        where M.Scalar == Float {
        XCTAssertTrue(model.supportsLogitPositions, name)
        let N = ref.B * ref.T
        for bf16 in [false, true] {
            model.setBF16Matmuls(bf16)
            let keeps: [(Int) -> Bool] = [{ $0 % 3 != 1 }, { $0 % 2 == 0 }, { _ in true }]
            for (round, keep) in keeps.enumerated() {
                let weights = ref.weights.enumerated().map { keep($0.offset) ? $0.element : 0 }
                let scored = weights.filter { $0 != 0 }.count
                model.gradients.zero()
                let full = model.forwardBackward(ref.batch, mask: ref.mask, targets: ref.targets, weights: weights)
                XCTAssertEqual(rowCount(), N)
                let fullGradients = model.gradients.array
                model.gradients.zero()
                let partial = model.forwardBackwardOnWeightedRows(ref.batch, mask: ref.mask, targets: ref.targets, weights: weights)
                let label = "\(name), bf16 \(bf16), round \(round)"
                XCTAssertEqual(rowCount(), scored == N ? N : scored, "\(label): the head ran on the weighted rows")
                XCTAssertEqual(partial, full, accuracy: 1e-6 * abs(full), label)
                let scale = fullGradients.map(abs).max()!
                let worst = zip(model.gradients.array, fullGradients).map { abs($0 - $1) }.max()!
                XCTAssertGreaterThan(scale, 0, label)
                XCTAssertLessThan(worst, 1e-5 * scale, "\(label): gradients")
                let evaluated = model.lossOnWeightedRows(ref.batch, mask: ref.mask, targets: ref.targets, weights: weights)
                XCTAssertEqual(evaluated, full, accuracy: 1e-6 * abs(full), "\(label): evaluation loss")
            }
            // Positions 2..<5 of every sequence: their rows' loss, as the full head gives it.
            let positions = 2..<5
            let kept = (0..<N).map { positions.contains($0 % ref.T) }
            let weights = zip(ref.weights, kept).map { $1 ? $0 : 0 }
            model.forward(ref.batch, mask: ref.mask)
            let full = model.loss(targets: ref.targets, weights: weights)
            model.forward(ref.batch, mask: ref.mask, logitPositions: positions)
            XCTAssertEqual(rowCount(), ref.B * positions.count, "\(name): rows of the positions")
            let narrowed = model.loss(targets: ref.targets.rows(at: positions, B: ref.B, T: ref.T),
                                      weights: weights.rows(at: positions, B: ref.B, T: ref.T))
            XCTAssertEqual(narrowed, full, accuracy: 1e-6 * abs(full), "\(name): loss on positions \(positions)")
        }
    }
}
