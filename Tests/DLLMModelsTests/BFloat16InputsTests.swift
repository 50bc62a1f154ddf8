import DLLMCheckpoint
import DLLMCompute
@testable import DLLMModels
import Foundation
import XCTest

/// Under `bf16: true` the block linears' inputs (ln1, ln2, the SwiGLU output) are kept only as the
/// packed bf16 rows their products read (``LlamaActivations/bf16Inputs``). The rounding is the one
/// each product applied before, so a step must give bit for bit the logits, loss and gradients of
/// the path that keeps float32 inputs and packs them per product, with q/k/v biases (qwen2), per-head
/// q/k norms (qwen3) and gradient checkpointing, on both bf16 kernels.
final class BFloat16InputsTests: XCTestCase {
    struct Step: Equatable { var loss: UInt64, logits: [UInt32], gradients: [UInt32] }

    func step(_ model: LlamaModel<Float>, _ ref: PyTorchParityTests.Reference) -> Step {
        model.gradients.zero()
        model.forward(ref.batch, mask: ref.mask)
        let logits = UnsafeBufferPointer(start: model.logits, count: ref.B * ref.T * model.vocabularySize).map(\.bitPattern)
        let loss = model.loss(targets: ref.targets, weights: ref.weights)
        model.backward(targets: ref.targets, weights: ref.weights, dloss: 1)
        return Step(loss: loss.bitPattern, logits: logits, gradients: model.gradients.buffer.map(\.bitPattern))
    }

    /// How many elements differ (their bit patterns), and both arrays must be as long.
    func differing(_ a: [UInt32], _ b: [UInt32]) -> Int {
        a.count == b.count ? zip(a, b).filter { $0 != $1 }.count : max(a.count, b.count)
    }

    func testPackedInputsGiveTheSameStepBitForBit() throws {
        for name in ["llama_gqa", "qwen2", "qwen3"] {
            let folder = PyTorchParityTests.fixtures.appendingPathComponent(name)
            let ref = try PyTorchParityTests.Reference(folder)
            let model = try XCTUnwrap(try ModelFolder.load(folder, as: Float.self).model as? LlamaModel<Float>, name)
            model.setBF16Matmuls(true)
            let amxWasOn = BFloat16Matmul.usesAMX
            defer { BFloat16Matmul.usesAMX = amxWasOn }
            for useAMX in BFloat16Matmul.hasAMX ? [true, false] : [false] {
                BFloat16Matmul.usesAMX = useAMX
                let kernel = BFloat16Matmul.kernelName
                for checkpointed in [false, true] {
                    model.gradientCheckpointing = checkpointed
                    model.packsBF16Inputs = true
                    let packed = step(model, ref)
                    let acts = try XCTUnwrap(model.acts)
                    XCTAssertTrue(acts.bf16Inputs, "\(name): bf16 inputs kept packed")
                    XCTAssertEqual(acts.ln1Packed.count, model.spec.layers)
                    if model.spec.layers > 1 && !checkpointed {
                        XCTAssertTrue(acts.ln1[0] === acts.ln1[1] && acts.swiglu[0] === acts.swiglu[1], "\(name): float32 inputs are one shared scratch")
                        XCTAssertFalse(acts.ln1Packed[0] === acts.ln1Packed[1], "\(name): each layer keeps its packed rows")
                        XCTAssertTrue(acts.gate[0] === acts.gate[1] && acts.up[0] === acts.up[1], "\(name): float32 gate/up are one shared scratch")
                        XCTAssertFalse(acts.gateBF16[0] === acts.gateBF16[1], "\(name): each layer keeps its bf16 gate")
                    }
                    // The kept gate and up are the bf16 rounding of the layer's products: after a forward the
                    // shared float32 scratch holds the last layer's unrounded outputs.
                    model.forward(ref.batch, mask: ref.mask)
                    let last = model.spec.layers - 1, count = ref.B * ref.T * model.spec.intermediate
                    XCTAssertEqual(acts.gateBF16.count, model.spec.layers)
                    for (bits, values) in [(acts.gateBF16[last], acts.gate[last]), (acts.upBF16[last], acts.up[last])] {
                        let kept = UnsafeBufferPointer(start: bits.pointer, count: count)
                        XCTAssertEqual(zip(kept, values.buffer).filter { $0 != bf16Bits($1) }.count, 0,
                                       "\(name): kept bf16 gate/up differ from the rounded products")
                        XCTAssertFalse(kept.allSatisfy { $0 == 0 }, "\(name): gate/up kept")
                    }
                    model.packsBF16Inputs = false
                    let float32Inputs = step(model, ref)
                    XCTAssertFalse(try XCTUnwrap(model.acts).bf16Inputs)
                    XCTAssertEqual(packed.loss, float32Inputs.loss, "\(name), \(kernel), checkpointed \(checkpointed): loss")
                    XCTAssertEqual(differing(packed.logits, float32Inputs.logits), 0, "\(name), \(kernel), checkpointed \(checkpointed): logits differ")
                    XCTAssertEqual(differing(packed.gradients, float32Inputs.gradients), 0,
                                   "\(name), \(kernel), checkpointed \(checkpointed): gradients differ")
                    XCTAssertFalse(packed.gradients.allSatisfy { $0 == 0 }, "\(name): backward ran")
                }
            }
        }
    }
}
