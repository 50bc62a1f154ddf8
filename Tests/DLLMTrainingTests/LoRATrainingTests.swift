import DLLMCheckpoint
import DLLMModels
@testable import DLLMTraining
import Foundation
import XCTest

/// A LoRA training run end to end (the tiny LLaDA of the distributed fixtures, with weights):
/// the base is byte-identical before and after, only adapters are optimised and saved, the
/// checkpoints are PEFT adapter folders, and a resumed run continues the same trajectory.
final class LoRATrainingTests: XCTestCase {
    static let pretraining = TrainingRunTests.pretraining
    var work: URL!
    var model: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-lora-\(UUID().uuidString)")
        model = work.appendingPathComponent("base")
        // The fixture model holds only a config: give it (seeded random) weights to freeze.
        let loaded = try ModelFolder.load(Self.pretraining.appendingPathComponent("model"), as: Float.self, seed: 3)
        try ModelFolder.save(loaded.model, config: loaded.config, to: model)
        for file in ["tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: Self.pretraining.appendingPathComponent("model/\(file)"), to: model.appendingPathComponent(file))
        }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    func config(output: String, steps: Int = 4, _ edit: (inout TrainingConfig) -> Void = { _ in }) -> TrainingConfig {
        var c = TrainingConfig(modelNameOrPath: model.path, datasetArgs: Self.pretraining.appendingPathComponent("data").path,
                               outputDir: work.appendingPathComponent(output).path)
        c.maxLength = 32
        c.maxSteps = steps
        c.perDeviceTrainBatchSize = 2
        c.loggingSteps = 1
        c.learningRate = 1e-2
        c.lrSchedulerType = "constant"  // a 2-step run then resumed to 4 follows the 4-step run
        c.lora = LoRAConfiguration(r: 4, loraAlpha: 8, loraDropout: 0.1)
        edit(&c)
        return c
    }

    func testBaseIsFrozenAndCheckpointsArePEFTAdapterFolders() throws {
        let weights = model.appendingPathComponent("model.safetensors")
        let before = try Data(contentsOf: weights)
        let trainer = try TrainingRun.makeTrainer(config(output: "out"), log: { _ in })
        let lora = try XCTUnwrap(trainer.model as? LoRAModel<Float>)
        let baseBefore = lora.base.parameters.array
        XCTAssertTrue(lora.layout.names.allSatisfy { $0.hasPrefix("base_model.model.") && $0.contains(".lora_") })
        let adaptersBefore = lora.parameters.array
        let state = try trainer.train()
        XCTAssertTrue(state.logHistory.compactMap(\.loss).allSatisfy(\.isFinite))
        XCTAssertEqual(lora.base.parameters.array, baseBefore, "a base parameter moved")
        XCTAssertTrue(lora.base.gradients.buffer.allSatisfy { $0 == 0 }, "a base gradient was computed")
        XCTAssertNotEqual(lora.parameters.array, adaptersBefore, "the adapters did not train")
        XCTAssertEqual(try Data(contentsOf: weights), before, "the base folder changed")

        let final = work.appendingPathComponent("out/checkpoint-final")
        let fm = FileManager.default
        for file in ["adapter_config.json", "adapter_model.safetensors", "optimizer.safetensors", "trainer_state.json", "tokenizer.json"] {
            XCTAssertTrue(fm.fileExists(atPath: final.appendingPathComponent(file).path), file)
        }
        for file in ["model.safetensors", "config.json"] { XCTAssertFalse(fm.fileExists(atPath: final.appendingPathComponent(file).path), file) }
        let optimizer = try SafeTensorsFile(contentsOf: final.appendingPathComponent("optimizer.safetensors"))
        XCTAssertEqual(optimizer.info("exp_avg")?.elementCount, lora.parameterCount, "optimizer state is for the adapters only")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: final.appendingPathComponent("adapter_config.json"))) as! [String: Any]
        XCTAssertEqual(config["peft_type"] as? String, "LORA")
        XCTAssertEqual(config["r"] as? Int, 4)
        XCTAssertEqual(config["base_model_name_or_path"] as? String, model.path)
        // The saved adapters load back onto the base and compute what the trained model computes.
        let reloaded = try LoRAAdapterFolder.load(final, for: lora.base)
        XCTAssertEqual(reloaded.parameters.array, lora.parameters.array)
    }

    func testResumeFromAnAdapterCheckpointContinuesTheSameRun() throws {
        let whole = try TrainingRun.makeTrainer(config(output: "whole"), log: { _ in }).train()
        _ = try TrainingRun.makeTrainer(config(output: "split", steps: 2) { $0.saveSteps = 1 }, log: { _ in }).train()
        let resumed = try TrainingRun.makeTrainer(config(output: "split") { $0.resumeFromCheckpoint = "latest" }, log: { _ in }).train()
        let a = whole.logHistory.compactMap(\.loss), b = resumed.logHistory.compactMap(\.loss)
        XCTAssertEqual(a.count, 4)
        XCTAssertEqual(b.count, 4)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-6 * abs(x)) }
    }

    /// `modules_to_save` (LLaDA's embedding `wte` and head `model.transformer.ff_out`): the copies train and
    /// are saved in full under PEFT's names, the base stays as it was, a resumed run follows the
    /// uninterrupted one, and gradient checkpointing gives the very same losses.
    func testModulesToSaveTrainSaveAndResume() throws {
        let edit: (inout TrainingConfig) -> Void = { $0.lora?.modulesToSave = ["wte", "model.transformer.ff_out"] }
        let weights = model.appendingPathComponent("model.safetensors")
        let before = try Data(contentsOf: weights)
        let trainer = try TrainingRun.makeTrainer(config(output: "whole", edit), log: { _ in })
        let lora = try XCTUnwrap(trainer.model as? LoRAModel<Float>)
        let copies = ["base_model.model.model.transformer.wte.weight", "base_model.model.model.transformer.ff_out.weight"]
        let start = try copies.map { Array(lora.parameters.buffer[try XCTUnwrap(lora.layout.slot($0), $0).range]) }
        let whole = try trainer.train()
        XCTAssertTrue(lora.base.gradients.buffer.allSatisfy { $0 == 0 }, "a base gradient was computed")
        XCTAssertEqual(try Data(contentsOf: weights), before, "the base folder changed")
        let saved = try SafeTensorsFile(contentsOf: work.appendingPathComponent("whole/checkpoint-final/adapter_model.safetensors"))
        for (name, initial) in zip(copies, start) {
            let spec = lora.base.spec
            XCTAssertEqual(saved.info(name)?.shape, [spec.vocab, spec.hidden], name)
            XCTAssertNotEqual(try saved.floats(name), initial, "\(name) did not train")
        }
        let adapterConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: work.appendingPathComponent("whole/checkpoint-final/adapter_config.json"))) as! [String: Any]
        XCTAssertEqual(adapterConfig["modules_to_save"] as? [String], ["wte", "model.transformer.ff_out"])

        _ = try TrainingRun.makeTrainer(config(output: "split", steps: 2) { edit(&$0); $0.saveSteps = 1 }, log: { _ in }).train()
        let resumed = try TrainingRun.makeTrainer(config(output: "split") { edit(&$0); $0.resumeFromCheckpoint = "latest" }, log: { _ in }).train()
        let checkpointed = try TrainingRun.makeTrainer(config(output: "gc") { edit(&$0); $0.gradientCheckpointing = true }, log: { _ in }).train()
        let a = whole.logHistory.compactMap(\.loss), b = resumed.logHistory.compactMap(\.loss)
        XCTAssertEqual(a.count, 4)
        XCTAssertEqual(b.count, 4)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-6 * abs(x)) }
        XCTAssertEqual(checkpointed.logHistory.compactMap(\.loss), a, "gradient checkpointing changed the losses")
    }

    func testLoRAOnANonLlamaModelIsRefused() throws {
        let gpt2 = work.appendingPathComponent("gpt2")
        try FileManager.default.createDirectory(at: gpt2, withIntermediateDirectories: true)
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("DLLMModelsTests/Fixtures/gpt2")
        XCTAssertThrowsError(try LoRATraining.wrap(try ModelFolder.load(fixtures, as: Float.self).model, options: LoRAConfiguration(), seed: 0, log: { _ in })) {
            XCTAssertTrue("\($0)".contains("LLaMA family"), "\($0)")
        }
    }
}
