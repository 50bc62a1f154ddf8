import DLLMCompute
@testable import DLLMModels
import Foundation
import XCTest

/// Under `bf16: true` the Edit Flows heads (substitution, insertion and rate) multiply bf16-rounded
/// inputs with float32 accumulation, as autocast runs their `nn.Linear`s: their outputs are the
/// float32 products of the rounded final-norm rows and rounded weights, and a whole step stays
/// within bf16 units of the float32 step without equalling it.
final class EditFlowBF16Tests: XCTestCase {
    static let folder = PyTorchParityTests.fixtures.appendingPathComponent("editflow_llama")

    func model(bf16: Bool) throws -> LlamaModel<Float> {
        let model = try XCTUnwrap(try ModelFolder.load(Self.folder, as: Float.self).model as? LlamaModel<Float>)
        model.setBF16Matmuls(bf16)
        return model
    }

    /// Runs forward and a backward from fixed output gradients; returns the three outputs and the gradients.
    func step(_ model: LlamaModel<Float>, _ batch: TokenBatch, _ mask: AttentionMask) -> [[Float]] {
        let N = batch.B * batch.T, V = model.spec.vocab
        model.gradients.zero()
        let out = model.editFlowForward(batch, mask: mask)
        let outputs = [Array(UnsafeBufferPointer(start: out.substitutionLogits, count: N * V)),
                       Array(UnsafeBufferPointer(start: out.insertionLogits, count: N * V)),
                       Array(UnsafeBufferPointer(start: out.rates, count: N * 3))]
        // The caller's gradients go into the outputs' buffers (EditFlowLoss does the same).
        for i in 0..<(N * V) {
            out.substitutionLogits[i] = Float(i % 7) / 7 - 0.4
            out.insertionLogits[i] = Float(i % 5) / 5 - 0.3
        }
        for i in 0..<(N * 3) { out.rates[i] = Float(i % 3) - 0.8 }
        model.editFlowBackward()
        return outputs + [Array(model.gradients.buffer)]
    }

    func testHeadsMultiplyInBF16AndTheStepTracksFloat32() throws {
        let B = 2, T = 6
        let ids: [Int32] = [1, 5, 9, 39, 12, 3, 1, 7, 39, 39, 22, 30]
        let batch = TokenBatch(ids: ids, B: B, T: T), mask = AttentionMask(.bidirectional, B: B, T: T)
        let bf16 = try model(bf16: true), fp32 = try model(bf16: false)
        let ours = step(bf16, batch, mask), reference = step(fp32, batch, mask)

        // The heads' outputs are products of rounded inputs: compare with float32 products of the
        // rounded final-norm output (the bf16 model's own) and the rounded head weights.
        let N = B * T, C = bf16.spec.hidden, V = bf16.spec.vocab
        let heads = try XCTUnwrap(bf16.offsets.editFlow)
        let hidden = UnsafeBufferPointer(start: try XCTUnwrap(bf16.acts).lnf.pointer, count: N * C).map(BFloat16Matmul.rounded)
        let p = bf16.parameters.pointer
        for (index, (offset, width)) in [(heads.substitution, V), (heads.insertion, V)].enumerated() {
            let weight = UnsafeBufferPointer(start: p + offset, count: width * C).map(BFloat16Matmul.rounded)
            var expected = [Float](repeating: 0, count: N * width)
            linearForward(&expected, hidden, weight, nil, N: N, C: C, OC: width)
            let error = zip(ours[index], expected).map { abs($0 - $1) }.max()! / expected.map(abs).max()!
            XCTAssertLessThan(error, 1e-5, "head \(index): bf16 products of the rounded rows and weights")
        }

        // The whole step: within bf16 units of float32 (2 blocks of roundings, as the LM-head
        // model's bound counts them), not equal to it.
        let bound = 28 * 0x1p-8
        for (index, name) in ["substitution logits", "insertion logits", "rates", "gradients"].enumerated() {
            let scale = Double(reference[index].map(abs).max()!)
            let error = Double(zip(ours[index], reference[index]).map { abs($0 - $1) }.max()!) / scale
            XCTAssertLessThan(error, bound, "\(name) vs float32")
            XCTAssertGreaterThan(error, 1e-6, "\(name) equal to float32's: bf16 not taken")
        }
    }
}
