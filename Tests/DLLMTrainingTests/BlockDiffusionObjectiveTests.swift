import DLLMCheckpoint
import DLLMCompute
@testable import DLLMModels
@testable import DLLMTraining
import Foundation
import XCTest

/// BD3LM against a PyTorch transcription of dLLM's `BD3LMTrainer.compute_loss` and its collation
/// (Tests/Fixtures/generate_bd3lm.py): the EOS padding, the 2L block mask, the loss and every
/// gradient through the tiny `llama_gqa` checkpoint under the same noise draw.
final class BlockDiffusionObjectiveTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let llama = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DLLMModelsTests/Fixtures/llama_gqa")

    func reference() throws -> (file: SafeTensorsFile, json: [String: Any]) {
        let file = try SafeTensorsFile(contentsOf: Self.fixtures.appendingPathComponent("bd3lm.safetensors"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("bd3lm.json"))) as! [String: Any]
        return (file, json)
    }

    /// The raw rows as the data pipeline hands them over: right-padded, with their lengths.
    func rawBatch(_ file: SafeTensorsFile, json: [String: Any]) throws -> CleanBatch {
        let lengths = json["raw_lengths"] as! [Int]
        let T = lengths.max()!
        var ids: [Int32] = [], labels: [Int32] = []
        for b in 0..<lengths.count {
            let row = try file.int64s("raw.input_ids.\(b)").map { Int32($0) }
            let lab = try file.int64s("raw.labels.\(b)").map { Int32($0) }
            ids += row + [Int32](repeating: Int32(json["pad_token_id"] as! Int), count: T - row.count)
            labels += lab + [Int32](repeating: ignoreIndex, count: T - lab.count)
        }
        return CleanBatch(B: lengths.count, T: T, inputIDs: ids, labels: labels, lengths: lengths, sampleIndices: Array(0..<lengths.count))
    }

    func testCollationPadsEachRowWithScoredEOSToWholeBlocks() throws {
        let (file, json) = try reference()
        let padded = BlockDiffusionObjective.paddingToBlocks(try rawBatch(file, json: json), eos: Int32(json["eos_token_id"] as! Int),
                                                             blockSize: json["block_size"] as! Int)
        XCTAssertEqual(padded.T, json["L"] as! Int)
        XCTAssertEqual(padded.inputIDs, try file.int64s("input_ids").map { Int32($0) })
        XCTAssertEqual(padded.labels, try file.int64s("labels").map { Int32($0) })
        XCTAssertEqual(padded.lengths, [12, 8])
    }

    func testMaskIsDLLMsBlockDiffusionMask() throws {
        let (file, json) = try reference()
        let L = json["L"] as! Int, bs = json["block_size"] as! Int
        let expected = try file.int64s("allowed").map { $0 != 0 }
        XCTAssertEqual(BlockDiffusionObjective.allowed(L: L, blockSize: bs), expected)
        // With one block the x_t half is bidirectional and sees no x_0 (M_OBC is empty).
        let one = BlockDiffusionObjective.allowed(L: 4, blockSize: 4)
        XCTAssertTrue((0..<4).allSatisfy { q in (0..<4).allSatisfy { one[q * 8 + $0] } && (4..<8).allSatisfy { !one[q * 8 + $0] } })
    }

    func check(case name: String) throws {
        let (file, json) = try reference()
        let padded = BlockDiffusionObjective.paddingToBlocks(try rawBatch(file, json: json), eos: Int32(json["eos_token_id"] as! Int),
                                                             blockSize: json["block_size"] as! Int)
        let info = (json["cases"] as! [[String: Any]]).first { $0["name"] as! String == name }!
        let objective = BlockDiffusionObjective(
            maskTokenID: Int32(json["mask_token_id"] as! Int), eosTokenID: Int32(json["eos_token_id"] as! Int),
            blockSize: json["block_size"] as! Int,
            normalization: MaskedDiffusionObjective.Normalization(rawValue: info["loss_norm_type"] as! String)!)
        let prepared = objective.prepare(padded, t: try file.doubles("\(name).t"), masked: try file.int64s("\(name).masked").map { $0 != 0 })
        XCTAssertEqual(prepared.lossTokens, info["masked"] as! Int)
        XCTAssertEqual(prepared.inputs.T, 2 * padded.T)
        let L = padded.T
        XCTAssertEqual(Array(prepared.inputs.positions[0..<(2 * L)]), (0..<(2 * L)).map { Int32($0 % L) })
        XCTAssertTrue(prepared.targets[L..<(2 * L)].allSatisfy { $0 == ignoreIndex }, "the x_0 half is never scored")
        XCTAssertEqual(prepared.logitPositions, 0..<L)
        let model = try ModelFolder.load(Self.llama, as: Float.self).model
        // The head on every position (the plain model call), then as the trainer runs it: on the x_t half only.
        for headOnScoredHalf in [false, true] {
            let path = "\(name), head on \(headOnScoredHalf ? "x_t" : "every position")"
            model.gradients.zero()
            let loss = headOnScoredHalf ? Trainer.forwardBackward(model, prepared, dloss: 1)
                : model.forwardBackward(prepared.inputs, mask: prepared.mask, targets: prepared.targets, weights: prepared.weights)
            let expected = Double(try file.floats("\(name).loss")[0])
            XCTAssertEqual(loss, expected, accuracy: 1e-5 * abs(expected), "\(path): loss")
            for slot in model.layout.slots {
                let reference = try file.floats("\(name).grad.\(slot.name)")
                let ours = Array(model.gradients.buffer[slot.range])
                let scale = max(reference.map(abs).max()!, 1e-12)
                let error = zip(ours, reference).map { abs($0 - $1) }.max()! / scale
                XCTAssertLessThan(error, 1e-4, "\(path): gradient of \(slot.name)")
            }
        }
    }

    /// The trainer's BD3LM step runs the final norm and the head on the x_t half alone: the model
    /// computes and holds logits for L rows per sequence (not 2L), they equal the first L rows of a
    /// full forward's, and the evaluation loss through the same path equals the full one.
    func testHeadRunsOnTheXtHalfOnly() throws {
        let (file, json) = try reference()
        let padded = BlockDiffusionObjective.paddingToBlocks(try rawBatch(file, json: json), eos: Int32(json["eos_token_id"] as! Int),
                                                             blockSize: json["block_size"] as! Int)
        let objective = BlockDiffusionObjective(maskTokenID: Int32(json["mask_token_id"] as! Int), eosTokenID: Int32(json["eos_token_id"] as! Int),
                                                blockSize: json["block_size"] as! Int)
        let prepared = objective.prepare(padded, t: try file.doubles("sequence.t"), masked: try file.int64s("sequence.masked").map { $0 != 0 })
        let full = try ModelFolder.load(Self.llama, as: Float.self).model as! LlamaModel<Float>
        let B = padded.B, L = padded.T, V = full.vocabularySize
        full.forward(prepared.inputs, mask: prepared.mask)
        XCTAssertEqual(full.logitRowCount, B * 2 * L)
        XCTAssertEqual(full.acts!.logits.count, B * 2 * L * V)
        let fullLoss = full.loss(targets: prepared.targets, weights: prepared.weights)

        let scored = try ModelFolder.load(Self.llama, as: Float.self).model as! LlamaModel<Float>
        let loss = Trainer.loss(scored, prepared)
        XCTAssertEqual(scored.logitRowCount, B * L, "logits for the x_t half only")
        XCTAssertEqual(scored.acts!.logits.count, B * L * V, "the logits buffer holds the x_t half only")
        XCTAssertEqual(scored.acts!.lnf.count, B * L * scored.spec.hidden, "the final norm runs on the x_t half only")
        XCTAssertEqual(loss, fullLoss, accuracy: 1e-6 * abs(fullLoss))
        for b in 0..<B {
            for i in 0..<L {
                let ours = (0..<V).map { scored.logits[(b * L + i) * V + $0] }
                let reference = (0..<V).map { full.logits[(b * 2 * L + i) * V + $0] }
                XCTAssertLessThan(zip(ours, reference).map { abs($0 - $1) }.max()!, 1e-5, "row \(b), position \(i)")
            }
        }
    }

    func testPerSequenceNoiseLossAndGradientsMatchPyTorch() throws { try check(case: "sequence") }
    func testPerBlockNoiseLossAndGradientsMatchPyTorch() throws { try check(case: "block") }

    /// bd3lms' per-block draw: constant within a block, inside [eps_min, eps_max], one block per
    /// stratum of the sequence's antithetic draw, and keyed by the sample (not the batch layout).
    func testPerBlockNoiseIsStratifiedClippedAndKeyedBySample() {
        let L = 64, bs = 8, blocks = L / bs
        let ids = (0..<(3 * L)).map { Int32(3 + $0 % 50) }
        let objective = BlockDiffusionObjective(maskTokenID: 99, eosTokenID: 2, blockSize: bs, noise: .block(epsMin: 0.3, epsMax: 0.8))
        let whole = objective.prepare(CleanBatch(B: 3, T: L, inputIDs: ids, labels: ids, sampleIndices: [0, 1, 2]), step: 4, seed: 9)
        let last = objective.prepare(CleanBatch(B: 1, T: L, inputIDs: Array(ids[(2 * L)...]), labels: Array(ids[(2 * L)...]),
                                                sampleIndices: [2]), step: 4, seed: 9)
        XCTAssertEqual(Array(whole.inputs.ids[(2 * 2 * L)...]), last.inputs.ids)
        // Recover each block's t from its weight (token normalisation: w = 1/(t + 1e-6) / maskable count).
        var strata = Set<Int>()
        for j in 0..<blocks {
            let w = (0..<bs).map { whole.weights[j * bs + $0] }.filter { $0 > 0 }
            guard let first = w.first else { continue }
            XCTAssertTrue(w.allSatisfy { abs($0 - first) <= 1e-6 * first }, "block \(j): one t per block")
            let t = 1 / (Double(first) * Double(3 * L)) - 1e-6
            XCTAssertGreaterThanOrEqual(t, 0.3 - 1e-4)
            XCTAssertLessThanOrEqual(t, 0.8 + 1e-4)
            strata.insert(Int(((t - 0.3) / 0.5 * Double(blocks)).rounded(.down)))
        }
        XCTAssertGreaterThan(strata.count, blocks / 2, "the blocks' rates are spread over the strata")
    }

    func testConfigBuildsBD3LMAndRefusesItsKeysElsewhere() throws {
        var config = TrainingConfig(modelNameOrPath: "m", datasetArgs: "d", outputDir: "o")
        config.objective = "bd3lm"
        config.blockSize = 16
        config.maxLength = 50
        let objective = try TrainingRun.blockDiffusionObjective(config, maskTokenID: 5, eosTokenID: 2, maxPositions: 64)
        XCTAssertEqual(objective.blockSize, 16)
        XCTAssertEqual(objective.noise, .sequence)
        XCTAssertThrowsError(try TrainingRun.blockDiffusionObjective(config, maskTokenID: 5, eosTokenID: nil, maxPositions: 64))
        config.maxLength = 60
        XCTAssertNoThrow(try TrainingRun.blockDiffusionObjective(config, maskTokenID: 5, eosTokenID: 2, maxPositions: 64))
        XCTAssertThrowsError(try TrainingRun.blockDiffusionObjective(config, maskTokenID: 5, eosTokenID: 2, maxPositions: 63),
                             "60 tokens padded to blocks of 16 take 64 positions")
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bd3lm-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: url) }
        let base = "model_name_or_path: m\ndataset_args: d\noutput_dir: o\n"
        try (base + "objective: bd3lm\nblock_size: 8\nnoise_per_block: true\neps_min: 0.2\neps_max: 0.9\n").write(to: url, atomically: true, encoding: .utf8)
        let loaded = try TrainingConfig.load(path: url.path).config
        XCTAssertEqual(loaded.blockSize, 8)
        XCTAssertEqual(try TrainingRun.blockDiffusionObjective(loaded, maskTokenID: 5, eosTokenID: 2, maxPositions: 1024).noise,
                       .block(epsMin: 0.2, epsMax: 0.9))
        try (base + "block_size: 8\n").write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TrainingConfig.load(path: url.path)) { XCTAssertTrue("\($0)".contains("block_size"), "\($0)") }
        try (base + "objective: bd3lm\nblock_size: 0\n").write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TrainingConfig.load(path: url.path)) { XCTAssertTrue("\($0)".contains("block_size"), "\($0)") }
    }

    /// The shipped BD3LM recipe loads, validates and builds the objective it names.
    func testShippedBD3LMRecipeLoads() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let (config, ignored) = try TrainingConfig.load(path: repository.appendingPathComponent("configs/a2d/smollm2-bd3lm.yaml").path)
        XCTAssertEqual(ignored, [])
        XCTAssertEqual(config.objective, "bd3lm")
        XCTAssertEqual(config.blockSize, 32)
        XCTAssertEqual(config.task, "sft")
        let objective = try TrainingRun.blockDiffusionObjective(config, maskTokenID: 49152, eosTokenID: 2, maxPositions: 8192)
        XCTAssertEqual(objective.noise, .sequence)
        XCTAssertEqual(objective.weighting, .scheduler)
        XCTAssertEqual(objective.normalization, .token)
    }
}
