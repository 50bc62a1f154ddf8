import DLLMCheckpoint
import DLLMCompute
import DLLMData
import DLLMTokenizers
@testable import DLLMTraining
import Foundation
import XCTest

/// `dllm train`'s assembly from a config, end to end on real (tiny) data: raw text
/// pretraining, SFT through a chat template, and prepared token shards.
final class TrainingRunTests: XCTestCase {
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let pretraining = tests.appendingPathComponent("DLLMDistributedTests/Fixtures")
    static let sft = tests.appendingPathComponent("DLLMTrainingTests/Fixtures/sft")
    var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    func config(model: URL, data: String, _ edit: (inout TrainingConfig) -> Void = { _ in }) -> TrainingConfig {
        var c = TrainingConfig(modelNameOrPath: model.path, datasetArgs: data, outputDir: work.appendingPathComponent("out").path)
        c.maxLength = 32
        c.maxSteps = 4
        c.perDeviceTrainBatchSize = 2
        c.loggingSteps = 1
        c.learningRate = 1e-3
        c.evalStrategy = "steps"
        c.evalSteps = 2
        edit(&c)
        return c
    }

    func testPretrainingOnRawText() throws {
        let trainer = try TrainingRun.makeTrainer(config(model: Self.pretraining.appendingPathComponent("model"),
                                                         data: Self.pretraining.appendingPathComponent("data").path), log: { _ in })
        XCTAssertFalse(trainer.evalBatches.isEmpty, "the test split becomes evaluation batches")
        let state = try trainer.train()
        XCTAssertEqual(state.logHistory.compactMap(\.loss).count, 4)
        XCTAssertEqual(state.logHistory.compactMap(\.evalLoss).count, 2)
        XCTAssertTrue(state.logHistory.compactMap(\.loss).allSatisfy(\.isFinite))
        let final = work.appendingPathComponent("out/checkpoint-final")
        for file in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "trainer_state.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: final.appendingPathComponent(file).path), file)
        }
    }

    /// `bf16: true` is honoured on the AVX512_BF16 kernel and on the fallback of CPUs without it
    /// (float32 sgemm over the rounded inputs; switched on here with `usesVectorKernel = false`):
    /// the start-up log says which runs, and the losses track the float32 run's within the 50-step
    /// bound of docs/mixed-precision.md (18 · 2⁻⁸ relative) while differing from it (the rounding
    /// happens on both paths).
    func testBF16IsHonouredAndTracksFloat32() throws {
        let model = Self.pretraining.appendingPathComponent("model"), data = Self.pretraining.appendingPathComponent("data").path
        let fp32 = try TrainingRun.makeTrainer(config(model: model, data: data) { $0.outputDir += "-fp32" }, log: { _ in }).train()
        let b = fp32.logHistory.compactMap(\.loss)
        let vectorWasOn = BFloat16Matmul.usesVectorKernel
        defer { BFloat16Matmul.usesVectorKernel = vectorWasOn }
        for vector in BFloat16Matmul.hasVectorKernel ? [true, false] : [false] {
            BFloat16Matmul.usesVectorKernel = vector
            var lines: [String] = []
            let bf16 = try TrainingRun.makeTrainer(config(model: model, data: data) { $0.bf16 = true; $0.outputDir += vector ? "-vector" : "-sgemm" },
                                                   log: { lines.append($0) }).train()
            let said = lines.filter { $0.hasPrefix("bf16:") }
            XCTAssertEqual(said.count, 1, "one start-up line about bf16: \(lines)")
            XCTAssertTrue(said.first?.contains(vector ? "multiply in bfloat16" : "compute in float32 (OpenBLAS sgemm) over inputs rounded") ?? false,
                          "\(said)")
            let a = bf16.logHistory.compactMap(\.loss)
            XCTAssertEqual(a.count, b.count)
            for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 18 * 0x1p-8 * abs(y)) }
            XCTAssertNotEqual(a, b, "bf16 left the losses bit-identical to float32 (vector kernel: \(vector))")
        }
    }

    /// bf16 that accelerate's `mixed_precision` turned on (not the training config's `bf16`) on a
    /// GPT-2: the run names where bf16 came from, says once which products run in bf16, and its
    /// losses track the float32 run's (the 50-step bound, 18 · 2⁻⁸ relative) without equalling them;
    /// with `gradient_checkpointing: true` too, the losses are the same bits.
    func testMixedPrecisionTrainsGPT2InBF16() throws {
        let model = work.appendingPathComponent("gpt2")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        for file in ["tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: Self.pretraining.appendingPathComponent("model/\(file)"), to: model.appendingPathComponent(file))
        }
        try #"{"model_type": "gpt2", "n_embd": 32, "n_head": 4, "n_layer": 2, "n_positions": 64, "vocab_size": 512, "eos_token_id": 0}"#
            .write(to: model.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        let data = Self.pretraining.appendingPathComponent("data").path
        let fp32 = try TrainingRun.makeTrainer(config(model: model, data: data) { $0.evalStrategy = "no"; $0.outputDir += "-fp32" },
                                               log: { _ in }).train()
        var lines: [String] = []
        let bf16 = try TrainingRun.makeTrainer(config(model: model, data: data) {
            $0.bf16 = true; $0.bf16FromMixedPrecision = "zero2.yaml: mixed_precision: bf16"; $0.evalStrategy = "no"
        }, log: { lines.append($0) }).train()
        XCTAssertEqual(lines.filter { $0.contains("bf16 from zero2.yaml: mixed_precision: bf16") }.count, 1, "\(lines)")
        XCTAssertEqual(lines.filter { $0.hasPrefix("bf16:") }.count, 1, "one start-up line about bf16: \(lines)")
        XCTAssertEqual(bf16.globalStep, 4)
        let a = bf16.logHistory.compactMap(\.loss), b = fp32.logHistory.compactMap(\.loss)
        XCTAssertEqual(a.count, 4)
        XCTAssertEqual(a.count, b.count)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 18 * 0x1p-8 * abs(y)) }
        XCTAssertNotEqual(a, b, "bf16 left GPT-2's losses bit-identical to float32")
        // gradient_checkpointing recomputes each block bit for bit: the same losses.
        var checkpointedLines: [String] = []
        let checkpointed = try TrainingRun.makeTrainer(config(model: model, data: data) {
            $0.bf16 = true; $0.gradientCheckpointing = true; $0.evalStrategy = "no"; $0.outputDir += "-gc"
        }, log: { checkpointedLines.append($0) }).train()
        XCTAssertTrue(checkpointedLines.contains { $0.hasPrefix("gradient checkpointing:") }, "\(checkpointedLines)")
        XCTAssertEqual(checkpointed.logHistory.compactMap(\.loss), a, "checkpointed GPT-2 losses")
    }

    func testSFTMasksOnlyTheResponse() throws {
        let trainer = try TrainingRun.makeTrainer(config(model: Self.sft.appendingPathComponent("model"),
                                                         data: Self.sft.appendingPathComponent("data").path) {
            $0.task = "sft"; $0.maxLength = 256; $0.lossNormType = "sequence"
        }, log: { _ in })
        // The prompt (the rendered user turn) carries -100 labels, so it is never masked or scored.
        let batch = try trainer.data.nextMicroBatch()
        XCTAssertTrue(batch.labels.contains(-100), "prompt positions are ignored")
        XCTAssertTrue(batch.labels.contains { $0 >= 0 }, "response positions are trained")
        let prepared = trainer.objective.prepare(batch, t: [0.999, 0.999] as [Double], masked: [Bool](repeating: true, count: batch.B * batch.T))
        for n in 0..<(batch.B * batch.T) where batch.labels[n] == -100 {
            XCTAssertEqual(prepared.inputs.ids[n], batch.inputIDs[n])
            XCTAssertEqual(prepared.weights[n], 0)
        }
        try trainer.data.restore(try trainer.data.position())
        let state = try trainer.train()
        XCTAssertTrue(state.logHistory.compactMap(\.loss).allSatisfy(\.isFinite))
    }

    func testPreparedTokenShards() throws {
        let tokenizer = try BPETextTokenizer(path: Self.pretraining.appendingPathComponent("model").path)
        let shards = work.appendingPathComponent("shards").path
        let data = try DatasetLoader.load(Self.pretraining.appendingPathComponent("data").path)
        _ = try TokenShardPreparation.prepare(data, tokenizer: tokenizer, tokenizerName: "fixture", datasetSpec: "fixture",
                                              options: .init(grouping: GroupingOptions(sequenceLength: 32)), output: shards)
        let trainer = try TrainingRun.makeTrainer(config(model: Self.pretraining.appendingPathComponent("model"), data: shards) {
            $0.loadPreprocessedData = true
        }, log: { _ in })
        let state = try trainer.train()
        XCTAssertEqual(state.globalStep, 4)
    }
}

extension Objective {
    func prepare(_ batch: CleanBatch, t: [Double], masked: [Bool]) -> ObjectiveBatch {
        (self as! MaskedDiffusionObjective).prepare(batch, t: t, masked: masked)
    }
}
