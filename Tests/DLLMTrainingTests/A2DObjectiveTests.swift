import DLLMCheckpoint
import DLLMCompute
import DLLMModels
@testable import DLLMTraining
import Foundation
import XCTest

/// The autoregressive-to-diffusion recipes against PyTorch transcriptions of their sources
/// (Tests/Fixtures/generate_a2d_objective_fixtures.py): DiffuLLaMA's `get_anneal_attn_mask` under
/// the same uniform draw, DiffuLLaMA's shifted loss and its gradients through the tiny `llama_gqa`
/// checkpoint, and dLLM's `right_shift_logits` loss.
final class A2DObjectiveTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let llama = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DLLMModelsTests/Fixtures/llama_gqa")

    func reference() throws -> (file: SafeTensorsFile, json: [String: Any]) {
        let file = try SafeTensorsFile(contentsOf: Self.fixtures.appendingPathComponent("a2d_objective.safetensors"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("a2d_objective.json"))) as! [String: Any]
        return (file, json)
    }

    func testAnnealedMaskEqualsDiffuLLaMAsUnderTheSameDraw() throws {
        let (file, json) = try reference()
        let anneal = json["anneal"] as! [String: Any]
        let T = anneal["T"] as! Int
        let annealing = AttentionAnnealing(steps: anneal["anneal_steps"] as! Int)
        let cases = anneal["cases"] as! [[String: Any]]
        XCTAssertEqual(cases.count, 5)
        for c in cases {
            let step = c["step"] as! Int
            XCTAssertEqual(annealing.ratio(step: step), (c["ratio"] as! NSNumber).doubleValue, "ratio at step \(step)")
            let uniforms = try file.doubles("anneal.uniforms.\(step)")
            let expected = try file.int64s("anneal.allowed.\(step)").map { $0 != 0 }
            let ours = AttentionAnnealing.allowed(T: T, ratio: annealing.ratio(step: step), uniforms: uniforms)
            XCTAssertEqual(ours, expected, "step \(step)")
            XCTAssertEqual(ours.filter { $0 }.count, c["open_pairs"] as! Int)
            // Strictly between causal (78 pairs at T = 12) and open (144) before the ratio reaches 1.
            if annealing.ratio(step: step) < 1 {
                XCTAssertGreaterThan(ours.filter { $0 }.count, T * (T + 1) / 2, "step \(step) adds no random pair")
                XCTAssertLessThan(ours.filter { $0 }.count, T * T, "step \(step) is fully open")
            } else {
                XCTAssertNil(annealing.allowed(T: T, step: step, seed: 1), "ratio 1 is plain bidirectional attention")
            }
        }
    }

    /// One draw per (seed, step): shared by every sequence, micro-batch and rank of the step.
    func testAnnealingDrawIsKeyedBySeedAndStepNotByBatchLayout() {
        let T = 10
        let ids = (0..<(4 * T)).map { Int32($0 % 30) }
        let objective = MaskedDiffusionObjective.diffuLLaMA(maskTokenID: 99, shift: true, annealSteps: 100)
        func pattern(_ batch: ObjectiveBatch, row: Int) -> [Bool] {
            (0..<T).flatMap { i in (0..<T).map { j in batch.mask.allows(row, i, j) } }
        }
        let whole = objective.prepare(CleanBatch(B: 4, T: T, inputIDs: ids, labels: ids, sampleIndices: [0, 1, 2, 3]), step: 5, seed: 42)
        let half = objective.prepare(CleanBatch(B: 2, T: T, inputIDs: Array(ids[(2 * T)...]), labels: Array(ids[(2 * T)...]),
                                                sampleIndices: [2, 3]), step: 5, seed: 42)
        let expected = AttentionAnnealing(steps: 100).allowed(T: T, step: 5, seed: 42)!
        for row in 0..<4 { XCTAssertEqual(pattern(whole, row: row), expected, "row \(row)") }
        XCTAssertEqual(pattern(half, row: 0), expected)
        XCTAssertEqual(Array(whole.inputs.ids[(2 * T)...]), half.inputs.ids, "the token noise stays keyed by the sample index")
        XCTAssertNotEqual(AttentionAnnealing(steps: 100).allowed(T: T, step: 6, seed: 42), expected)
        XCTAssertNotEqual(AttentionAnnealing(steps: 100).allowed(T: T, step: 5, seed: 43), expected)
        XCTAssertTrue((0..<T).allSatisfy { i in (0...i).allSatisfy { expected[i * T + $0] } }, "the causal part is always open")
        // The pattern ModelGradientTests checks by finite differences (T = 5, step 3 of 10, seed 5) is neither causal nor open.
        let probed = AttentionAnnealing(steps: 10).allowed(T: 5, step: 3, seed: 5)!.filter { $0 }.count
        XCTAssertGreaterThan(probed, 15)
        XCTAssertLessThan(probed, 25)
    }

    func checkDiffuLLaMALoss(shift: Bool) throws {
        let (file, json) = try reference()
        let d = json["diffullama"] as! [String: Any]
        let B = d["B"] as! Int, T = d["T"] as! Int
        let batch = CleanBatch(B: B, T: T, inputIDs: try file.int64s("llama.input_ids").map { Int32($0) },
                               labels: try file.int64s("llama.labels").map { Int32($0) }, sampleIndices: Array(0..<B))
        let objective = MaskedDiffusionObjective.diffuLLaMA(maskTokenID: Int32(d["mask_token_id"] as! Int), shift: shift,
                                                            annealSteps: d["anneal_steps"] as! Int)
        let ratio = objective.annealing!.ratio(step: d["anneal_step"] as! Int)
        XCTAssertEqual(ratio, (d["ratio"] as! NSNumber).doubleValue)
        let attention = AttentionAnnealing.allowed(T: T, ratio: ratio, uniforms: try file.doubles("llama.anneal_uniforms"))
        let prepared = objective.prepare(batch, t: try file.doubles("llama.t"), masked: try file.int64s("llama.masked").map { $0 != 0 },
                                         attention: attention)
        let model = try ModelFolder.load(Self.llama, as: Float.self).model
        model.gradients.zero()
        let loss = model.forwardBackward(prepared.inputs, mask: prepared.mask, targets: prepared.targets, weights: prepared.weights)
        let key = shift ? "shift" : "noshift"
        let expected = Double(try file.floats("llama.\(key).loss")[0])
        XCTAssertEqual(loss, expected, accuracy: 1e-5 * abs(expected), "\(key): loss")
        for slot in model.layout.slots {
            let reference = try file.floats("llama.\(key).grad.\(slot.name)")
            let ours = Array(model.gradients.buffer[slot.range])
            let scale = max(reference.map(abs).max()!, 1e-12)
            let error = zip(ours, reference).map { abs($0 - $1) }.max()! / scale
            XCTAssertLessThan(error, 1e-4, "\(key): gradient of \(slot.name)")
        }
    }

    func testDiffuLLaMAShiftedLossAndGradientsMatchPyTorch() throws { try checkDiffuLLaMALoss(shift: true) }
    func testDiffuLLaMAUnshiftedLossAndGradientsMatchPyTorch() throws { try checkDiffuLLaMALoss(shift: false) }

    /// Under `shift` a masked first position is corrupted but scores nothing; token i is scored on row i − 1.
    func testShiftScoresTokenIOnRowIMinusOneAndNeverPositionZero() throws {
        let (file, json) = try reference()
        let d = json["diffullama"] as! [String: Any]
        let B = d["B"] as! Int, T = d["T"] as! Int
        let ids = try file.int64s("llama.input_ids").map { Int32($0) }
        let masked = try file.int64s("llama.masked").map { $0 != 0 }
        XCTAssertTrue(masked[0], "the fixture masks position 0 of row 0")
        let batch = CleanBatch(B: B, T: T, inputIDs: ids, labels: try file.int64s("llama.labels").map { Int32($0) }, sampleIndices: Array(0..<B))
        let prepared = MaskedDiffusionObjective.diffuLLaMA(maskTokenID: 66, shift: true, annealSteps: 1)
            .prepare(batch, t: try file.doubles("llama.t"), masked: masked)
        XCTAssertEqual(prepared.inputs.ids[0], 66)
        for b in 0..<B {
            XCTAssertEqual(prepared.targets[b * T + T - 1], ignoreIndex, "the last row has no next token")
            for i in 1..<T {
                let n = b * T + i
                XCTAssertEqual(prepared.targets[n - 1], masked[n] ? ids[n] : ignoreIndex, "row \(b) position \(i)")
            }
        }
        let scored = prepared.weights.filter { $0 > 0 }.count
        XCTAssertEqual(prepared.lossTokens, scored)
        XCTAssertEqual(prepared.mask.base, .bidirectional)
    }

    /// How `dllm train` builds each recipe's objective from the config.
    func testConfigBuildsEachRecipesObjective() throws {
        var config = TrainingConfig(modelNameOrPath: "m", datasetArgs: "d", outputDir: "o")
        config.maxLength = 63
        config.rightShiftLogits = true
        XCTAssertThrowsError(try TrainingRun.maskedDiffusionObjective(config, maskTokenID: 5, bosTokenID: nil, maxPositions: 64)) { error in
            XCTAssertTrue("\(error)".contains("bos_token"), "\(error)")
        }
        let mdlm = try TrainingRun.maskedDiffusionObjective(config, maskTokenID: 5, bosTokenID: 1, maxPositions: 64)
        XCTAssertEqual(mdlm.bosTokenID, 1)
        XCTAssertTrue(mdlm.shift)
        XCTAssertEqual(mdlm.weighting, .scheduler)
        XCTAssertNil(mdlm.annealing)
        config.maxLength = 64
        XCTAssertThrowsError(try TrainingRun.maskedDiffusionObjective(config, maskTokenID: 5, bosTokenID: 1, maxPositions: 64),
                             "the prepended BOS needs one more position")
        config = TrainingConfig(modelNameOrPath: "m", datasetArgs: "d", outputDir: "o")
        config.objective = "diffullama"
        config.shift = true
        config.annealSteps = 7
        let diffullama = try TrainingRun.maskedDiffusionObjective(config, maskTokenID: 5, bosTokenID: 1, maxPositions: 64)
        XCTAssertEqual(diffullama.weighting, .reciprocal)
        XCTAssertEqual(diffullama.normalization, .masked)
        XCTAssertEqual(diffullama.annealing, AttentionAnnealing(steps: 7))
        XCTAssertTrue(diffullama.shift)
        XCTAssertNil(diffullama.bosTokenID, "DiffuLLaMA adds no BOS")
    }

    func testDLLMRightShiftLogitsLossMatchesPyTorch() throws {
        let (file, json) = try reference()
        let d = json["dllm_right_shift"] as! [String: Any]
        let B = d["B"] as! Int, T = d["T"] as! Int, V = d["V"] as! Int
        let batch = CleanBatch(B: B, T: T, inputIDs: try file.int64s("dllm.input_ids").map { Int32($0) },
                               labels: try file.int64s("dllm.labels").map { Int32($0) }, sampleIndices: Array(0..<B))
        let objective = MaskedDiffusionObjective(maskTokenID: Int32(d["mask_token_id"] as! Int), shift: true,
                                                 bosTokenID: Int32(d["bos_token_id"] as! Int))
        let lengthened = MaskedDiffusionObjective.prependingBOS(batch, bos: objective.bosTokenID!)
        XCTAssertEqual(lengthened.T, T + 1)
        let prepared = objective.prepare(lengthened, t: try file.doubles("dllm.t"), masked: try file.int64s("dllm.masked").map { $0 != 0 })
        let logits = try file.floats("dllm.logits")
        var losses = [Float](repeating: 0, count: B * (T + 1)), lse = losses
        let loss = crossEntropyForward(&losses, &lse, logits, prepared.targets, prepared.weights, N: B * (T + 1), V: V)
        let expected = Double(try file.floats("dllm.loss")[0])
        XCTAssertEqual(loss, expected, accuracy: 1e-5 * expected)
        // A batch whose rows all start with label −100 is left as it is (dLLM's early return).
        let sft = CleanBatch(B: 1, T: 3, inputIDs: [5, 6, 7], labels: [ignoreIndex, 6, 7], sampleIndices: [0])
        XCTAssertEqual(MaskedDiffusionObjective.prependingBOS(sft, bos: 1).inputIDs, [5, 6, 7])
        let padded = CleanBatch(B: 1, T: 3, inputIDs: [5, 6, 0], labels: [5, 6, ignoreIndex], lengths: [2], sampleIndices: [0])
        let withBOS = MaskedDiffusionObjective.prependingBOS(padded, bos: 1)
        XCTAssertEqual(withBOS.inputIDs, [1, 5, 6, 0])
        XCTAssertEqual(withBOS.labels, [ignoreIndex, 5, 6, ignoreIndex])
        XCTAssertEqual(withBOS.lengths, [3])
    }
}
