import DLLMCheckpoint
import DLLMCompute
import DLLMModels
@testable import DLLMTraining
import Foundation
import XCTest

/// The loop end to end on a tiny model: it learns, it resumes bit for bit, and an
/// interrupted save never leaves a checkpoint that looks complete.
final class TrainerTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-trainer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    static let V = 32, T = 16
    /// A fresh dictionary per use (`[String: Any]` is not `Sendable`, so no shared static).
    static var modelConfig: [String: Any] {
        ["model_type": "llada", "d_model": 32, "n_heads": 4, "n_kv_heads": 2, "n_layers": 2, "mlp_hidden_size": 64,
         "vocab_size": V, "embedding_size": V, "mask_token_id": V - 1, "rope_theta": 10000.0, "max_sequence_length": 64,
         "weight_tying": false, "init_std": 0.02]
    }

    /// A tiny "corpus": 8 distinct patterned sequences over 30 real tokens, each opened
    /// by a BOS token (30) that is never masked. LLaDA has no absolute positions: with
    /// every token masked, rotary attention over identical inputs cannot tell positions
    /// apart, so the unmasked BOS is the anchor that lets the model place its predictions.
    static func corpus() -> [[Int32]] {
        var rows: [[Int32]] = []
        for s in 0..<8 {
            var row: [Int32] = [30]
            for i in 1..<T { row.append(Int32((s * 3 + i * (s + 1)) % 30)) }
            rows.append(row)
        }
        return rows
    }

    static func labels() -> [[Int32]] { corpus().map { [ignoreIndex] + $0.dropFirst() } }

    func makeTrainer(_ edit: (inout TrainingConfig) -> Void = { _ in }, seed: UInt64 = 0, evalBatches: [CleanBatch] = []) throws -> Trainer {
        let folder = directory.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: Self.modelConfig).write(to: folder.appendingPathComponent("config.json"))
        var config = TrainingConfig(modelNameOrPath: folder.path, datasetArgs: "memory", outputDir: directory.appendingPathComponent("out").path)
        config.learningRate = 3e-3
        config.perDeviceTrainBatchSize = 4
        config.gradientAccumulationSteps = 2
        config.maxSteps = 60
        config.loggingSteps = 10
        config.saveSteps = 1000
        config.lrSchedulerType = "constant"
        config.weightDecay = 0.01
        config.maxGradNorm = 1
        edit(&config)
        let loaded = try ModelFolder.load(folder, as: Float.self, seed: seed)
        let objective: Objective = config.objective == "ar" ? AutoregressiveObjective()
            : MaskedDiffusionObjective(maskTokenID: Int32(Self.V - 1))
        let data = InMemoryDataSource(sequences: Self.corpus(), labels: Self.labels(), batchSize: config.perDeviceTrainBatchSize, seed: UInt64(config.seed))
        return Trainer(config: config, model: loaded.model, modelConfig: loaded.config, objective: objective, data: data,
                       evalBatches: evalBatches, log: { _ in })
    }

    func meanLoss(_ state: TrainerState, last n: Int) -> Double {
        let losses = state.logHistory.compactMap(\.loss)
        return losses.suffix(n).reduce(0, +) / Double(min(n, losses.count))
    }

    func testMaskedDiffusionOverfitsATinyCorpus() throws {
        let trainer = try makeTrainer { $0.maxSteps = 300; $0.loggingSteps = 25 }
        let state = try trainer.train()
        let first = state.logHistory.first!.loss!
        let last = meanLoss(state, last: 3)
        // Uniform guessing over 32 tokens costs ln 32 ≈ 3.47 per masked token; the weighted
        // ELBO estimate is noisy (1/t weights), so the bound is on the last three logs' mean.
        XCTAssertGreaterThan(first, 2.9)
        XCTAssertLessThan(last, 2.2, "masked-diffusion loss after 300 steps: \(state.logHistory.compactMap(\.loss))")
    }

    func testAutoregressiveOverfitsATinyCorpus() throws {
        let trainer = try makeTrainer { $0.objective = "ar"; $0.maxSteps = 100 }
        let state = try trainer.train()
        let last = meanLoss(state, last: 2)
        // Each corpus row is a fixed pattern: the next token is nearly determined after a few tokens.
        XCTAssertLessThan(last, 0.5, "autoregressive loss after 100 steps: \(last)")
    }

    func testResumeContinuesBitForBit() throws {
        let straight = try makeTrainer { $0.maxSteps = 20; $0.loggingSteps = 1; $0.outputDir += "-straight" }
        let straightState = try straight.train()
        let straightWeights = straight.model.parameters.array

        // Stop after 10 steps (as a preempted run would: checkpoint, exit), then resume in a new trainer.
        let first = try makeTrainer { $0.maxSteps = 20; $0.loggingSteps = 1 }
        first.onStep = { report in if report.step == 10 { first.stopRequested = true } }
        try first.train()
        XCTAssertEqual(first.checkpoints.latest()?.lastPathComponent, "checkpoint-10")
        let second = try makeTrainer({ $0.maxSteps = 20; $0.loggingSteps = 1; $0.resumeFromCheckpoint = "latest" }, seed: 999)
        let resumedState = try second.train()

        let a = straightState.logHistory.compactMap(\.loss), b = resumedState.logHistory.compactMap(\.loss)
        XCTAssertEqual(a.count, 20)
        XCTAssertEqual(a, b, "loss trajectories differ")
        XCTAssertEqual(straightWeights, second.model.parameters.array, "final weights differ")
    }

    func testInterruptedSaveLeavesPreviousCheckpointAsLatest() throws {
        let trainer = try makeTrainer { $0.maxSteps = 4; $0.saveSteps = 2 }
        try trainer.train()
        let manager = trainer.checkpoints
        XCTAssertEqual(manager.checkpoints().map(\.step), [2, 4])
        // A save killed midway leaves a hidden temporary folder with some files in it.
        let partial = manager.outputDirectory.appendingPathComponent(".checkpoint-6.tmp-4242")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        try Data("partial".utf8).write(to: partial.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(manager.latest()?.lastPathComponent, "checkpoint-4")
        // A folder with the final name but no trainer_state.json is not complete either.
        try FileManager.default.createDirectory(at: manager.outputDirectory.appendingPathComponent("checkpoint-8"), withIntermediateDirectories: true)
        XCTAssertEqual(manager.latest()?.lastPathComponent, "checkpoint-4")
        manager.removeIncompleteSaves()
        XCTAssertFalse(FileManager.default.fileExists(atPath: partial.path))
        // The latest checkpoint loads in the HF layout.
        let loaded = try ModelFolder.load(manager.latest()!, as: Float.self)
        XCTAssertFalse(loaded.randomlyInitialized)
    }

    func testSaveTotalLimitRotatesAndCheckpointHasHFLayout() throws {
        let trainer = try makeTrainer { $0.maxSteps = 8; $0.saveSteps = 2; $0.saveTotalLimit = 2 }
        try trainer.train()
        XCTAssertEqual(trainer.checkpoints.checkpoints().map(\.step), [6, 8], "only the newest two numbered checkpoints stay")
        let final = trainer.checkpoints.outputDirectory.appendingPathComponent("checkpoint-final")
        for file in ["config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json", "training_args.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: final.appendingPathComponent(file).path), file)
        }
    }

    /// HF's `save_strategy: epoch` / `eval_strategy: epoch`: a checkpoint and an evaluation
    /// when each pass over the data ends (8 sequences, 2 per step: an epoch is 4 steps).
    func testEpochStrategiesSaveAndEvaluateAtEpochEnds() throws {
        let heldOut = CleanBatch(B: 1, T: Self.T, inputIDs: Self.corpus()[0], labels: Self.labels()[0], sampleIndices: [0])
        let evaluating = try makeTrainer({
            $0.maxSteps = 10; $0.perDeviceTrainBatchSize = 2; $0.gradientAccumulationSteps = 1
            $0.saveStrategy = "epoch"; $0.saveSteps = 1; $0.evalStrategy = "epoch"; $0.evalSteps = 1
        }, evalBatches: [heldOut])
        var evaluatedAt: [Int] = []
        evaluating.onEval = { step, _ in evaluatedAt.append(step) }
        try evaluating.train()
        XCTAssertEqual(evaluating.checkpoints.checkpoints().map(\.step), [4, 8, 10], "epoch ends at steps 4 and 8, then the final save")
        XCTAssertEqual(evaluatedAt, [4, 8])
    }

    func testNonFiniteLossStopsWithTheStep() throws {
        let trainer = try makeTrainer { $0.maxSteps = 5; $0.learningRate = 1e30; $0.maxGradNorm = 0 }
        XCTAssertThrowsError(try trainer.train()) { error in
            XCTAssertTrue("\(error)".contains("is not finite"), "\(error)")
            XCTAssertTrue("\(error)".contains("step "), "\(error)")
        }
        let skipping = try makeTrainer { $0.maxSteps = 5; $0.learningRate = 1e30; $0.maxGradNorm = 0; $0.skipNonfiniteSteps = true; $0.outputDir += "-skip" }
        XCTAssertNoThrow(try skipping.train())
    }
}
