import DLLMCompute
import DLLMModels
import DLLMRandom
@testable import DLLMTraining
import XCTest

/// The BD3LM loss's backward through the 2L block mask and the repeated positions, against
/// central finite differences in Float64 on a tiny LLaDA-style model.
final class BlockDiffusionGradientTests: XCTestCase {
    func testGradientsThroughTheBlockMaskMatchFiniteDifferences() {
        let spec = LlamaSpec(modelType: "llada", naming: .llada, hidden: 8, layers: 2, heads: 4, kvHeads: 2, headDim: 2,
                             intermediate: 12, vocab: 11, rmsNormEps: 1e-5, ropeTheta: 10_000, maxPositions: 16,
                             tiedEmbeddings: false, qkvBias: true, maskTokenID: 10, initializerRange: 0.5)
        let model = LlamaModel<Double>(spec: spec)
        Initialization.initialize(model, seed: 3)
        let B = 2, L = 6
        var rng = SeededGenerator(seed: 17)
        let ids = (0..<(B * L)).map { _ in Int32(rng.next() % 9) }
        var labels = ids
        labels[L] = ignoreIndex  // a prompt token in row 1
        let batch = CleanBatch(B: B, T: L, inputIDs: ids, labels: labels, sampleIndices: [0, 1])
        let objective = BlockDiffusionObjective(maskTokenID: 10, eosTokenID: 9, blockSize: 3)
        let t = (0..<(B * L)).map { 0.3 + 0.1 * Double($0 / L) }
        let masked = (0..<(B * L)).map { $0 % 3 != 0 }
        let prepared = objective.prepare(batch, t: t, masked: masked)
        XCTAssertGreaterThan(prepared.lossTokens, 4)
        let weights = prepared.weights.map(Double.init)
        model.gradients.zero()
        // Analytic gradients with the head on the x_t half only (as the trainer runs BD3LM); the
        // finite differences below use the loss of the head on every position.
        model.forwardBackward(prepared.inputs, mask: prepared.mask, logitPositions: prepared.logitPositions!,
                              targets: prepared.targets, weights: weights)
        XCTAssertEqual(model.logitRowCount, B * L)
        let analytic = model.gradients.array
        func loss() -> Double {
            model.forward(prepared.inputs, mask: prepared.mask)
            return model.loss(targets: prepared.targets, weights: weights)
        }
        let h = 1e-6
        for slot in model.layout.slots {
            for _ in 0..<3 {
                let i = slot.offset + Int(rng.next() % UInt64(slot.count))
                let saved = model.parameters[i]
                model.parameters[i] = saved + h
                let plus = loss()
                model.parameters[i] = saved - h
                let minus = loss()
                model.parameters[i] = saved
                let numeric = (plus - minus) / (2 * h)
                let err = abs(numeric - analytic[i]) / max(1e-3, abs(numeric))
                XCTAssertLessThan(err, 1e-5, "\(slot.name) element \(i - slot.offset): analytic \(analytic[i]) numeric \(numeric)")
            }
        }
        // The clean half is context: changing an x_0 token of block 0 changes the loss of block 1 (M_OBC),
        // and changing one of the last block changes nothing (no x_t query may see it).
        let base = loss()
        var inputs = prepared.inputs
        inputs.ids[L + 1] = (inputs.ids[L + 1] + 1) % 9
        model.forward(inputs, mask: prepared.mask)
        XCTAssertGreaterThan(abs(model.loss(targets: prepared.targets, weights: weights) - base), 1e-9)
        inputs = prepared.inputs
        inputs.ids[2 * L - 1] = (inputs.ids[2 * L - 1] + 1) % 9
        model.forward(inputs, mask: prepared.mask)
        XCTAssertEqual(model.loss(targets: prepared.targets, weights: weights), base, accuracy: 1e-12)
    }
}
