import DLLMCheckpoint
import DLLMCompute
import DLLMModels
import Foundation
import XCTest

/// LoRA against the real `peft` package (fixtures from Tests/Fixtures/generate_lora.py) on the
/// llama_gqa tiny LLaMA: adapter names and shapes, PEFT's initialisation, loss and adapter
/// gradients for a fixed batch, merged weights, and an adapter folder dllm wrote that PEFT loads.
final class LoRAParityTests: XCTestCase {
    static let fixtures = PyTorchParityTests.fixtures
    static let folder = fixtures.appendingPathComponent("lora")

    var reference: SafeTensorsFile { get throws { try SafeTensorsFile(contentsOf: Self.folder.appendingPathComponent("reference.safetensors")) } }
    var meta: [String: Any] { get throws {
        try JSONSerialization.jsonObject(with: Data(contentsOf: Self.folder.appendingPathComponent("reference.json"))) as! [String: Any]
    } }

    func loadBase() throws -> LlamaModel<Float> {
        try XCTUnwrap(ModelFolder.load(Self.fixtures.appendingPathComponent("llama_gqa"), as: Float.self).model as? LlamaModel<Float>)
    }

    func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        XCTAssertEqual(a.count, b.count)
        let scale = max(b.map(abs).max() ?? 0, 1e-12)
        return zip(a, b).map { abs($0 - $1) }.max()! / scale
    }

    /// Loss and every adapter gradient of a PEFT adapter folder, and the base's gradients untouched.
    func checkCase(_ name: String) throws {
        let ref = try PyTorchParityTests.Reference(Self.fixtures.appendingPathComponent("llama_gqa"))
        let base = try loadBase()
        let before = base.parameters.array
        let adapters = try LoRAAdapterFolder.load(Self.folder.appendingPathComponent("peft_\(name)_adapter"), for: base)
        let model = LoRAModel(base: base, adapters: adapters)
        let cases = try XCTUnwrap(meta["cases"] as? [String: Any])
        let expected = try XCTUnwrap((cases[name] as? [String: Any])?["tensors"] as? [String: [Int]])
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: model.layout.slots.map { ($0.name, $0.shape) }), expected, "\(name): adapter names and shapes")
        model.gradients.zero()
        let loss = model.forwardBackward(ref.batch, mask: ref.mask, targets: ref.targets, weights: ref.weights)
        let refLoss = Double(try reference.floats("\(name).loss")[0])
        XCTAssertEqual(loss, refLoss, accuracy: 1e-5 * abs(refLoss), "\(name): loss")
        for slot in model.layout.slots {
            let err = relativeError(Array(model.gradients.buffer[slot.range]), try reference.floats("\(name).grad.\(slot.name)"))
            XCTAssertLessThan(err, 1e-4, "\(name): gradient of \(slot.name)")
        }
        XCTAssertTrue(base.gradients.buffer.allSatisfy { $0 == 0 }, "\(name): the frozen base got a gradient")
        XCTAssertEqual(base.parameters.array, before, "\(name): the base changed")

        try adapters.merge(into: base)
        let file = try reference
        for slot in base.layout.slots where slot.name.hasSuffix("proj.weight") || file.info("\(name).merged.\(slot.name)") != nil {
            let err = relativeError(Array(base.parameters.buffer[slot.range]), try reference.floats("\(name).merged.\(slot.name)"))
            XCTAssertLessThan(err, 1e-6, "\(name): merged \(slot.name)")
        }
    }

    func testAllLinearLossGradientsAndMergeMatchPEFT() throws { try checkCase("all_linear") }
    func testRSLoRAListTargetsMatchPEFT() throws { try checkCase("rslora") }
    /// `modules_to_save` [embed_tokens, lm_head]: PEFT's saved names (`base_model.model.<module>.weight`),
    /// the copies' gradients (embedding scatter, head weight), and the merge writing them over the base.
    func testModulesToSaveMatchPEFT() throws {
        try checkCase("modules_to_save")
        XCTAssertNotNil(try reference.info("modules_to_save.merged.lm_head.weight"), "the fixture records the merged head")
    }

    /// Fresh `modules_to_save` copies start as the base's weights (PEFT's `ModulesToSaveWrapper`), also
    /// over a quantised frozen base (dequantised); names not the embedding or the head are refused.
    func testModulesToSaveCopiesStartAsTheBase() throws {
        let names = try XCTUnwrap(meta["modules_to_save_start_as_base"] as? [String])
        let configuration = LoRAConfiguration(r: 2, loraDropout: 0, targetModules: .names(["q_proj"]), modulesToSave: ["embed_tokens", "lm_head"])
        let base = try loadBase()
        let model = try LoRAModel(base: base, configuration: configuration, seed: 1)
        XCTAssertEqual(model.layout.names.filter { !$0.contains(".lora_") }.sorted(), names)
        for (name, module) in zip(names, ["lm_head.weight", "model.embed_tokens.weight"]) {
            let copy = try XCTUnwrap(model.layout.slot(name)), original = try XCTUnwrap(base.layout.slot(module))
            XCTAssertEqual(Array(model.parameters.buffer[copy.range]), Array(base.parameters.buffer[original.range]), name)
        }
        XCTAssertEqual(model.blockRanges.count, 4, "embedding copy, two layers, head copy")
        // Over a quantised base (the 64-wide tiny LLaDA: Q8_0 blocks of 32): the dequantised table.
        let quantised = LlamaModel<Float>(spec: FrozenLlamaBaseTests.spec)
        Initialization.initialize(quantised, seed: 5)
        quantised.frozenBase = try quantised.frozenBaseCopy(.q8_0)
        let overQuantised = try LoRAModel(base: quantised, configuration: LoRAConfiguration(targetModules: .names(["q_proj"]), modulesToSave: ["wte"]), seed: 1)
        let table = try XCTUnwrap(overQuantised.layout.slot("base_model.model.model.transformer.wte.weight"))
        let embedding = try XCTUnwrap(quantised.frozenBase?.embedding)
        var dequantised = [Float](repeating: 0, count: table.count)
        dequantised.withUnsafeMutableBufferPointer { embedding.dequantizeRows(0..<embedding.rows, into: $0.baseAddress!) }
        XCTAssertEqual(Array(overQuantised.parameters.buffer[table.range]), dequantised)
        XCTAssertNotEqual(dequantised, Array(quantised.parameters.buffer[try XCTUnwrap(quantised.layout.slot("model.transformer.wte.weight")).range]))
        // A tied base cannot hold a copy trained apart from its other side: merging is refused.
        var tiedSpec = base.spec
        tiedSpec.tiedEmbeddings = true
        let tied = try LoRAModel(base: LlamaModel<Float>(spec: tiedSpec), configuration: configuration, seed: 1)
        XCTAssertThrowsError(try tied.adapters.merge(into: LlamaModel<Float>(spec: tiedSpec))) { XCTAssertTrue("\($0)".contains("ties its head"), "\($0)") }
        for bad in ["norm", "q_proj", "model.layers.0.mlp"] {
            XCTAssertThrowsError(try LoRAModel(base: base, configuration: LoRAConfiguration(modulesToSave: [bad]), seed: 0)) {
                XCTAssertTrue("\($0)".contains("modules_to_save: \"\(bad)\"") && "\($0)".contains("model.embed_tokens"), "\($0)")
            }
        }
    }

    func testRegexTargetsMatchPEFT() throws {
        let regex = try XCTUnwrap(meta["regex"] as? [String: Any])
        let base = try loadBase()
        let adapters = try LoRAAdapters<Float>(spec: base.spec, configuration: LoRAConfiguration(r: 2, targetModules: .pattern(regex["pattern"] as! String)), seed: 1)
        XCTAssertEqual(adapters.layout.names.sorted(), regex["tensors"] as! [String])
    }

    /// PEFT's init: A ~ U(−1/√in, 1/√in) (kaiming-uniform, a = √5), B = 0. Statistics of
    /// √in·A pooled over every adapter agree with PEFT's (std 1/√3 ≈ 0.577, |·| ≤ 1).
    func testInitialisationMatchesPEFTStatistics() throws {
        let initial = try XCTUnwrap(meta["init"] as? [String: Double])
        let base = try loadBase()
        let adapters = try LoRAAdapters<Float>(spec: base.spec, configuration: LoRAConfiguration(r: 4, loraAlpha: 8, loraDropout: 0), seed: 7)
        var scaled: [Double] = []
        for slot in adapters.layout.slots {
            let values = adapters.parameters.buffer[slot.range].map(Double.init)
            if slot.name.hasSuffix("lora_B.weight") { XCTAssertTrue(values.allSatisfy { $0 == 0 }, "\(slot.name) is not zero") }
            else { scaled += values.map { $0 * Double(slot.shape[1]).squareRoot() } }
        }
        XCTAssertEqual(Double(scaled.count), initial["a_elements"]!)
        let mean = scaled.reduce(0, +) / Double(scaled.count)
        let std = (scaled.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(scaled.count - 1)).squareRoot()
        XCTAssertLessThanOrEqual(scaled.map(abs).max()!, 1)
        XCTAssertGreaterThan(scaled.map(abs).max()!, 0.95)
        // 1600 uniform draws: the std's standard error is ≈ 0.006; PEFT's own sample is within it too.
        XCTAssertEqual(std, initial["a_std_times_sqrt_in"]!, accuracy: 0.04)
        XCTAssertEqual(std, 1 / 3.0.squareRoot(), accuracy: 0.03)
        XCTAssertEqual(mean, 0, accuracy: 0.06)
    }

    /// The adapter dllm writes (deterministic nonzero A and B): its bytes equal the committed
    /// folder PEFT loaded, and its logits equal PEFT's logits for that folder.
    func testDllmAdapterFolderLoadsInPEFT() throws {
        let base = try loadBase()
        let adapters = try LoRAAdapters<Float>(spec: base.spec, configuration: LoRAConfiguration(
            r: 2, loraAlpha: 3, loraDropout: 0, targetModules: .names(["q_proj", "v_proj", "up_proj"])), seed: 5)
        var rng = SeededGenerator(seed: 99)
        for slot in adapters.layout.slots where slot.name.hasSuffix("lora_B.weight") {
            for i in slot.range { adapters.parameters[i] = Float(2 * rng.nextUniform() - 1) * 0.3 }
        }
        let committed = Self.folder.appendingPathComponent("dllm_adapter")
        let written = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-lora-\(getpid())")
        defer { try? FileManager.default.removeItem(at: written) }
        let target = ProcessInfo.processInfo.environment["DLLM_WRITE_LORA_FIXTURE"] == "1" ? committed : written
        try LoRAAdapterFolder.save(adapters, baseModel: "Tests/DLLMModelsTests/Fixtures/llama_gqa", to: target)
        for file in [LoRAAdapterFolder.weightsFileName, LoRAAdapterFolder.configFileName] {
            XCTAssertEqual(try Data(contentsOf: target.appendingPathComponent(file)), try Data(contentsOf: committed.appendingPathComponent(file)),
                           "dllm no longer writes the committed \(file)")
        }
        let dllmMeta = try XCTUnwrap(meta["dllm_adapter"] as? [String: Any], "run generate_lora.py after writing dllm_adapter")
        XCTAssertEqual(dllmMeta["loaded_by_peft"] as? Bool, true)
        let reloaded = try LoRAAdapterFolder.load(committed, for: base)
        try reloaded.merge(into: base)
        let ref = try PyTorchParityTests.Reference(Self.fixtures.appendingPathComponent("llama_gqa"))
        base.forward(ref.batch, mask: ref.mask)
        let logits = Array(UnsafeBufferPointer(start: base.logits, count: ref.B * ref.T * base.vocabularySize))
        XCTAssertLessThan(relativeError(logits, try reference.floats("dllm_logits")), 1e-5)
    }

    func testBadAdapterFoldersAreRefused() throws {
        let base = try loadBase()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bad-lora-\(getpid())")
        defer { try? FileManager.default.removeItem(at: folder) }
        XCTAssertThrowsError(try LoRAAdapterFolder.load(folder, for: base)) { XCTAssertTrue("\($0)".contains("adapter_config.json")) }
        let good = Self.folder.appendingPathComponent("peft_rslora_adapter")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: good.appendingPathComponent("adapter_config.json"), to: folder.appendingPathComponent("adapter_config.json"))
        // The all-linear weights under the rsLoRA (q_proj, down_proj) config: extra tensors.
        try FileManager.default.copyItem(at: Self.folder.appendingPathComponent("peft_all_linear_adapter/adapter_model.safetensors"),
                                         to: folder.appendingPathComponent("adapter_model.safetensors"))
        XCTAssertThrowsError(try LoRAAdapterFolder.load(folder, for: base)) { XCTAssertTrue("\($0)".contains("is not an adapter of a targeted module"), "\($0)") }
    }

    /// Dropout on the adapters' input (training, p 0.3, masks fixed by the stream): the adapter
    /// gradients and the gradient reaching the input (through the first layer's adapters into the
    /// embedding path, checked via lora_A of layer 0) equal central differences, in Float64.
    func testDropoutGradientsMatchFiniteDifferences() throws {
        let ref = try PyTorchParityTests.Reference(Self.fixtures.appendingPathComponent("llama_gqa"))
        let base = try XCTUnwrap(ModelFolder.load(Self.fixtures.appendingPathComponent("llama_gqa"), as: Double.self).model as? LlamaModel<Double>)
        let model = try LoRAModel(base: base, configuration: LoRAConfiguration(r: 3, loraAlpha: 5, loraDropout: 0.3), seed: 4)
        var rng = SeededGenerator(seed: 8)
        for i in 0..<model.parameterCount { model.parameters[i] = (2 * rng.nextUniform() - 1) * 0.3 }
        let weights = ref.weights.map(Double.init)
        func loss() -> Double {
            model.setDropoutStream(17)
            model.forward(ref.batch, mask: ref.mask)
            return model.loss(targets: ref.targets, weights: weights)
        }
        model.gradients.zero()
        model.setDropoutStream(17)
        _ = model.forwardBackward(ref.batch, mask: ref.mask, targets: ref.targets, weights: weights)
        let analytic = model.gradients.array
        var checked = 0
        for slot in model.layout.slots {
            for i in [slot.offset, slot.offset + slot.count / 2, slot.offset + slot.count - 1] {
                let saved = model.parameters[i], h = 1e-5
                model.parameters[i] = saved + h; let up = loss()
                model.parameters[i] = saved - h; let down = loss()
                model.parameters[i] = saved
                let numeric = (up - down) / (2 * h)
                XCTAssertEqual(analytic[i], numeric, accuracy: 1e-6 + 1e-5 * abs(numeric), "\(slot.name)[\(i - slot.offset)]")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 3 * model.layout.slots.count)
        // The masks really drop: another stream changes the loss.
        let l17 = loss()
        model.setDropoutStream(18)
        model.forward(ref.batch, mask: ref.mask)
        XCTAssertNotEqual(model.loss(targets: ref.targets, weights: weights), l17)
    }
}
