import DLLMCheckpoint
import DLLMConfig
import DLLMModels
@testable import DLLMTraining
import Foundation
import XCTest

/// `load_in_4bit` and `base_quantization` ask for a frozen quantised base: refused without LoRA
/// (a quantised base cannot be trained), honoured under LoRA.
final class QuantizedBaseConfigTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-qbase-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    let valid = """
    model_name_or_path: models/tiny-llada
    dataset_args: data/shakespeare.jsonl[train:1_000,test:100]
    output_dir: runs/tiny
    max_steps: 200
    """

    func load(_ text: String, overrides: [String] = []) throws -> TrainingConfig {
        let path = directory.appendingPathComponent("config.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try TrainingConfig.load(path: path, overrides: overrides).config
    }

    func message(_ text: String, overrides: [String] = []) -> String? {
        do {
            _ = try load(text, overrides: overrides)
            return nil
        } catch {
            return "\(error)"
        }
    }

    func testQuantizedBaseWithoutLoRAIsRefusedNamingKeyAndLine() throws {
        for (key, value) in [("load_in_4bit", "true"), ("base_quantization", "nf4"), ("base_quantization", "q4_k"),
                             ("base_quantization", "q8_0"), ("base_quantization", "gguf")] {
            let error = try XCTUnwrap(message(valid + "\n\(key): \(value)\n"), "\(key): \(value) was accepted")
            for part in [key, ":5", "without lora: true", "cannot be trained"] {
                XCTAssertTrue(error.contains(part), "\"\(error)\" lacks \"\(part)\"")
            }
            let overridden = try XCTUnwrap(message(valid, overrides: ["--\(key)", value]))
            XCTAssertTrue(overridden.contains("without lora: true"), overridden)
        }
    }

    func testQuantizedBaseUnderLoRAIsDecoded() throws {
        XCTAssertEqual(try load(valid + "\nlora: true\nload_in_4bit: true\n").baseQuantization, .quantize(.nf4))
        XCTAssertEqual(try load(valid + "\nlora: true\nbase_quantization: q4_k\n").baseQuantization, .quantize(.q4_k))
        XCTAssertEqual(try load(valid + "\nlora: true\n", overrides: ["--base_quantization", "q8_0"]).baseQuantization, .quantize(.q8_0))
        XCTAssertNil(try load(valid + "\nload_in_4bit: false\nbase_quantization: none\n").baseQuantization)
        for (text, part) in [("base_quantization: gguf", "must name a .gguf file"), ("base_quantization: q3_k", "q3_k"),
                             ("load_in_4bit: true\nbase_quantization: q8_0", "contradicts load_in_4bit")] {
            let error = try XCTUnwrap(message(valid + "\nlora: true\n\(text)\n"), text)
            XCTAssertTrue(error.contains(part) && error.contains("base_quantization"), error)
        }
    }

    /// A `.gguf` model: its blocks are the base under LoRA (`base_quantization: gguf`, formerly refused,
    /// or implied by the path); without LoRA, or with a quantisation of its own, it is refused naming the key.
    func testGGUFModelPath() throws {
        let gguf = valid.replacingOccurrences(of: "models/tiny-llada", with: "models/tiny.Q4_1.gguf")
        let explicit = try load(gguf + "\nlora: true\nbase_quantization: gguf\n")
        XCTAssertEqual(explicit.baseQuantization, .gguf)
        XCTAssertEqual(explicit.effectiveBaseQuantization, .gguf)
        let implied = try load(gguf + "\nlora: true\n")
        XCTAssertNil(implied.baseQuantization)
        XCTAssertEqual(implied.effectiveBaseQuantization, .gguf, "a .gguf model under LoRA implies base_quantization: gguf")
        XCTAssertNil(try load(valid + "\nlora: true\n").effectiveBaseQuantization)

        let withoutLoRA = try XCTUnwrap(message(gguf), "a .gguf model without lora was accepted")
        for part in ["model_name_or_path", ":1", "set lora: true", "dllm convert gguf"] {
            XCTAssertTrue(withoutLoRA.contains(part), "\"\(withoutLoRA)\" lacks \"\(part)\"")
        }
        let requantised = try XCTUnwrap(message(gguf + "\nlora: true\nbase_quantization: q4_k\n"))
        for part in ["base_quantization", ":6", "quantised already", "base_quantization: gguf"] {
            XCTAssertTrue(requantised.contains(part), "\"\(requantised)\" lacks \"\(part)\"")
        }
        let nf4 = try XCTUnwrap(message(gguf + "\nlora: true\nload_in_4bit: true\n"))
        XCTAssertTrue(nf4.contains("load_in_4bit") && nf4.contains("quantised already"), nf4)
        // The trainer refuses a GGUF without LoRA too when handed a config that skipped validation.
        let unvalidated = TrainingConfig(modelNameOrPath: "/nonexistent/tiny.gguf", datasetArgs: "d", outputDir: directory.path)
        XCTAssertThrowsError(try TrainingRun.makeTrainer(unvalidated, log: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("set lora: true"), "\(error)")
        }
    }

    /// A LoRA run over a q8_0 / q4_k base of the tiny LLaDA: the base trains nothing, adapters train.
    func testLoRATrainsOverAQuantizedBase() throws {
        let fixtures = TrainingRunTests.pretraining
        let model = directory.appendingPathComponent("base")
        let loaded = try ModelFolder.load(fixtures.appendingPathComponent("model"), as: Float.self, seed: 3)
        try ModelFolder.save(loaded.model, config: loaded.config, to: model)
        for file in ["tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: fixtures.appendingPathComponent("model/\(file)"), to: model.appendingPathComponent(file))
        }
        for target in [FrozenQuantizedMatrix.QuantizeTarget.q8_0, .q4_k] {
            var c = TrainingConfig(modelNameOrPath: model.path, datasetArgs: fixtures.appendingPathComponent("data").path,
                                   outputDir: directory.appendingPathComponent("out-\(target)").path)
            c.maxLength = 32
            c.maxSteps = 3
            c.perDeviceTrainBatchSize = 2
            c.loggingSteps = 1
            c.learningRate = 1e-2
            c.lora = LoRAConfiguration(r: 4, loraAlpha: 8, loraDropout: 0)
            c.baseQuantization = .quantize(target)
            var lines: [String] = []
            let trainer = try TrainingRun.makeTrainer(c, log: { lines.append($0) })
            let lora = try XCTUnwrap(trainer.model as? LoRAModel<Float>)
            let frozen = try XCTUnwrap(lora.base.frozenBase, "\(target)")
            // Quantised tensor by tensor as it loaded: the same bytes as quantising the float model,
            // the float matrices never filled (zero pages), the norms loaded.
            let expected = try (loaded.model as! LlamaModel<Float>).frozenBaseCopy(target)
            func bytes(_ base: FrozenLlamaBase) -> [[UInt8]] {
                (base.layers.flatMap(\.all) + [base.embedding, base.head]).compactMap { $0 }.map {
                    Array(UnsafeRawBufferPointer(start: $0.data, count: $0.byteCount))
                }
            }
            XCTAssertEqual(bytes(frozen), bytes(expected), "\(target): quantised at load")
            let floatSlots = lora.base.floatSlots(heldBy: frozen)
            XCTAssertEqual(floatSlots.count, 7 * lora.base.spec.layers + (lora.base.spec.tiedEmbeddings ? 1 : 2))
            for range in floatSlots {
                XCTAssertTrue(lora.base.parameters.buffer[range].allSatisfy { $0 == 0 }, "\(target): a float matrix was filled")
            }
            for name in lora.base.normalizationParameterNames {
                let slot = try XCTUnwrap(lora.base.layout.slot(name))
                XCTAssertEqual(Array(lora.base.parameters.buffer[slot.range]), Array(loaded.model.parameters.buffer[slot.range]), name)
            }
            XCTAssertTrue(lines.contains { $0.contains("frozen and quantised as \(target.rawValue)") }, "\(lines)")
            let adaptersBefore = lora.parameters.array
            let state = try trainer.train()
            XCTAssertTrue(state.logHistory.compactMap(\.loss).allSatisfy(\.isFinite), "\(target)")
            XCTAssertTrue(lora.base.gradients.buffer.allSatisfy { $0 == 0 }, "\(target): a base gradient was computed")
            XCTAssertNotEqual(lora.parameters.array, adaptersBefore, "\(target): the adapters did not train")
        }
    }
}
