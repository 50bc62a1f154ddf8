import DLLMCheckpoint
import DLLMCompute
import DLLMTraining
import Foundation
import XCTest

/// The objectives' targets and weights, through the real cross-entropy kernel,
/// against dLLM's `MDLMTrainer.compute_loss` and transformers' causal-LM loss
/// evaluated by PyTorch on the same logits, t and mask draw
/// (Tests/Fixtures/generate_objective_fixtures.py).
final class ObjectiveTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    struct Fixture {
        let file: SafeTensorsFile
        let B: Int, T: Int, V: Int
        let logits: [Float]
        let batch: CleanBatch
        let t: [Double]
        let masked: [Bool]
        init() throws {
            file = try SafeTensorsFile(contentsOf: ObjectiveTests.fixtures.appendingPathComponent("objective.safetensors"))
            let shape = file.info("logits")!.shape
            B = shape[0]; T = shape[1]; V = shape[2]
            logits = try file.floats("logits")
            batch = CleanBatch(B: B, T: T, inputIDs: try file.int64s("input_ids").map { Int32($0) },
                               labels: try file.int64s("labels").map { Int32($0) }, sampleIndices: Array(0..<B))
            t = try file.doubles("t")
            masked = try file.int64s("masked").map { $0 != 0 }
        }
    }

    func loss(_ fixture: Fixture, _ prepared: ObjectiveBatch) -> Double {
        var losses = [Float](repeating: 0, count: fixture.B * fixture.T), lse = losses
        return crossEntropyForward(&losses, &lse, fixture.logits, prepared.targets, prepared.weights, N: fixture.B * fixture.T, V: fixture.V)
    }

    func testMaskedDiffusionLossMatchesDLLMForEveryWeightingAndNormalisation() throws {
        let f = try Fixture()
        for weighting in [MaskedDiffusionObjective.Weighting.scheduler, .uniform] {
            for norm in [MaskedDiffusionObjective.Normalization.token, .sequence, .batch] {
                let objective = MaskedDiffusionObjective(maskTokenID: 22, weighting: weighting, normalization: norm)
                let prepared = objective.prepare(f.batch, t: f.t, masked: f.masked)
                let expected = Double(try f.file.floats("mdlm_\(weighting.rawValue)_\(norm.rawValue)")[0])
                XCTAssertEqual(loss(f, prepared), expected, accuracy: 1e-5 * expected, "\(weighting) / \(norm)")
            }
        }
    }

    func testPromptIsNeverMaskedOrScoredAndMaskedPositionsCarryTheMaskToken() throws {
        let f = try Fixture()
        let prepared = MaskedDiffusionObjective(maskTokenID: 22).prepare(f.batch, t: f.t, masked: f.masked)
        for n in 0..<(f.B * f.T) {
            if f.batch.labels[n] == ignoreIndex {
                XCTAssertEqual(prepared.inputs.ids[n], f.batch.inputIDs[n], "prompt token \(n) changed")
                XCTAssertEqual(prepared.targets[n], ignoreIndex)
                XCTAssertEqual(prepared.weights[n], 0)
            } else if f.masked[n] {
                XCTAssertEqual(prepared.inputs.ids[n], 22)
                XCTAssertEqual(prepared.targets[n], f.batch.inputIDs[n])
                XCTAssertGreaterThan(prepared.weights[n], 0)
            } else {
                XCTAssertEqual(prepared.inputs.ids[n], f.batch.inputIDs[n])
                XCTAssertEqual(prepared.targets[n], ignoreIndex)
            }
        }
        XCTAssertEqual(prepared.mask.base, .bidirectional)
    }

    func testAutoregressiveLossMatchesTransformers() throws {
        let f = try Fixture()
        let prepared = AutoregressiveObjective().prepare(f.batch, step: 0, seed: 0)
        let expected = Double(try f.file.floats("ar")[0])
        XCTAssertEqual(loss(f, prepared), expected, accuracy: 1e-5 * expected)
        XCTAssertEqual(prepared.mask.base, .causal)
    }

    func testNoiseIsKeyedBySeedStepAndSampleNotByBatchLayout() {
        let T = 64
        let ids = (0..<(4 * T)).map { Int32($0 % 50) }
        let whole = CleanBatch(B: 4, T: T, inputIDs: ids, labels: ids, sampleIndices: [0, 1, 2, 3])
        let objective = MaskedDiffusionObjective(maskTokenID: 99)
        let together = objective.prepare(whole, step: 3, seed: 42)
        // The same samples split over two "ranks".
        let first = CleanBatch(B: 2, T: T, inputIDs: Array(ids[0..<(2 * T)]), labels: Array(ids[0..<(2 * T)]), sampleIndices: [0, 1])
        let second = CleanBatch(B: 2, T: T, inputIDs: Array(ids[(2 * T)...]), labels: Array(ids[(2 * T)...]), sampleIndices: [2, 3])
        let split = objective.prepare(first, step: 3, seed: 42).inputs.ids + objective.prepare(second, step: 3, seed: 42).inputs.ids
        XCTAssertEqual(together.inputs.ids, split)
        XCTAssertNotEqual(objective.prepare(whole, step: 4, seed: 42).inputs.ids, together.inputs.ids)
        XCTAssertNotEqual(objective.prepare(whole, step: 3, seed: 43).inputs.ids, together.inputs.ids)
        // The masking rate follows t: over many samples about half the tokens are masked.
        let many = CleanBatch(B: 64, T: T, inputIDs: [Int32](repeating: 1, count: 64 * T), labels: [Int32](repeating: 1, count: 64 * T),
                              sampleIndices: Array(0..<64))
        let fraction = Double(objective.prepare(many, step: 0, seed: 1).lossTokens) / Double(64 * T)
        XCTAssertEqual(fraction, 0.5, accuracy: 0.1)
    }
}
