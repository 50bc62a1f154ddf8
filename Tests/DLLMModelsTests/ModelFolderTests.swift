import DLLMCheckpoint
import DLLMCompute
import DLLMModels
import Foundation
import XCTest

/// Loading and saving Hugging Face-layout folders, and every way a folder can be wrong.
final class ModelFolderTests: XCTestCase {
    var temporary: URL!

    override func setUpWithError() throws {
        temporary = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-models-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temporary) }

    func fixture(_ name: String) -> URL { PyTorchParityTests.fixtures.appendingPathComponent(name) }

    /// A folder saved here holds the very bytes `transformers`' `save_pretrained` wrote
    /// (same names, order, dtype and header), so `transformers` loads it as its own.
    func testSaveReproducesTheTransformersFileByteForByte() throws {
        for name in ["llada", "llama_gqa", "qwen2", "gpt2", "qwen3"] {
            let loaded = try ModelFolder.load(fixture(name), as: Float.self)
            let out = temporary.appendingPathComponent(name)
            try ModelFolder.save(loaded.model, config: loaded.config, to: out)
            let original = try Data(contentsOf: fixture(name).appendingPathComponent("model.safetensors"))
            let written = try Data(contentsOf: out.appendingPathComponent("model.safetensors"))
            XCTAssertEqual(written, original, "\(name): saved model.safetensors differs from the original")
            let reloaded = try ModelFolder.load(out, as: Float.self)
            XCTAssertEqual(reloaded.model.parameters.array, loaded.model.parameters.array)
        }
    }

    func testShardedSaveLoadsBack() throws {
        let loaded = try ModelFolder.load(fixture("llada"), as: Float.self)
        try ModelFolder.save(loaded.model, config: loaded.config, to: temporary, maxShardBytes: 20_000)
        XCTAssertTrue(FileManager.default.fileExists(atPath: temporary.appendingPathComponent("model.safetensors.index.json").path))
        let reloaded = try ModelFolder.load(temporary, as: Float.self)
        XCTAssertEqual(reloaded.model.parameters.array, loaded.model.parameters.array)
    }

    func testConfigOnlyFolderIsRandomlyInitialisedAndSeeded() throws {
        try FileManager.default.copyItem(at: fixture("llada").appendingPathComponent("config.json"),
                                         to: temporary.appendingPathComponent("config.json"))
        let a = try ModelFolder.load(temporary, as: Float.self, seed: 5)
        let b = try ModelFolder.load(temporary, as: Float.self, seed: 5)
        let c = try ModelFolder.load(temporary, as: Float.self, seed: 6)
        XCTAssertTrue(a.randomlyInitialized)
        XCTAssertEqual(a.model.parameters.array, b.model.parameters.array)
        XCTAssertNotEqual(a.model.parameters.array, c.model.parameters.array)
        let norm = a.model.layout.slot("model.transformer.ln_f.weight")!
        XCTAssertTrue(a.model.parameters.array[norm.range].allSatisfy { $0 == 1 })
        let wte = a.model.layout.slot("model.transformer.wte.weight")!
        let values = a.model.parameters.array[wte.range].map(Double.init)
        let std = (values.map { $0 * $0 }.reduce(0, +) / Double(values.count)).squareRoot()
        XCTAssertEqual(std, 0.02, accuracy: 0.002)
    }

    // MARK: errors

    func writeConfig(_ json: String) throws {
        try Data(json.utf8).write(to: temporary.appendingPathComponent("config.json"))
    }

    func assertLoadFails(_ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ModelFolder.load(temporary, as: Float.self), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(expected), "message \"\(error)\" lacks \"\(expected)\"", file: file, line: line)
        }
    }

    func testMissingConfigNamesTheFolder() {
        assertLoadFails("no config.json")
    }

    func testUnknownModelTypeIsAnError() throws {
        try writeConfig(#"{"model_type": "mamba", "d_model": 8}"#)
        assertLoadFails("model_type \"mamba\" is not supported")
    }

    func testImpossibleValuesNameTheKey() throws {
        try writeConfig(#"{"model_type": "llama", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 3, "intermediate_size": 8, "vocab_size": 10}"#)
        assertLoadFails("num_key_value_heads")
        try writeConfig(#"{"model_type": "llada", "d_model": 30, "n_heads": 4, "n_layers": 1, "vocab_size": 10}"#)
        assertLoadFails("d_model")
        // Issue 17, defect 9: a fraction where an integer belongs named key "".
        try writeConfig(#"{"model_type": "llada", "d_model": 32, "n_heads": 4, "n_layers": 2.5, "vocab_size": 10}"#)
        assertLoadFails(#"key "n_layers": number 2.5"#)
        try writeConfig(#"{"model_type": "gpt2", "vocab_size": 10, "n_embd": 8, "n_layer": 0, "n_head": 2, "n_positions": 4}"#)
        assertLoadFails("n_layer")
        try writeConfig(#"{"model_type": "llama", "hidden_size": "big"}"#)
        assertLoadFails("hidden_size")
        try writeConfig(#"{"model_type": "llama", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 8, "vocab_size": 10, "rope_scaling": {"rope_type": "yarn"}}"#)
        assertLoadFails("rope_scaling")
        try writeConfig("{not json")
        assertLoadFails("not valid JSON")
    }

    /// Issue 17: sizes that cannot be allocated, or a default the file never named, are
    /// errors naming the keys, not an allocator abort or a misleading "key = 126336".
    func testImpossibleSizesAndAbsentMaskIdAreNamed() throws {
        try writeConfig(#"{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 8, "vocab_size": 1000000000000}"#)
        assertLoadFails("float32 parameters alone need")
        assertLoadFails("vocab_size")
        try writeConfig(#"{"model_type": "gpt2", "vocab_size": 10, "n_embd": 4611686018427387904, "n_layer": 1, "n_head": 2, "n_positions": 4}"#)
        assertLoadFails("more than 2⁶⁴ bytes")
        try writeConfig(#"{"model_type": "llada", "d_model": 32, "n_heads": 4, "n_layers": 1, "vocab_size": 10}"#)
        assertLoadFails("the file has no mask_token_id, and LLaDA's default 126336")
    }

    func testQwen3ConfigsThatCannotRunAreRejected() throws {
        let base = #""model_type": "qwen3", "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 8, "vocab_size": 10"#
        try writeConfig("{\(base), \"head_dim\": 7}")
        assertLoadFails("key \"head_dim\" = 7 is invalid")
        try writeConfig("{\(base), \"layer_types\": [\"full_attention\", \"sliding_attention\"]}")
        assertLoadFails("key \"layer_types\" = sliding_attention is not supported")
        try writeConfig("{\(base), \"use_sliding_window\": true, \"sliding_window\": 4, \"max_window_layers\": 1}")
        assertLoadFails("use_sliding_window")
        try writeConfig("{\(base), \"attention_bias\": true}")
        assertLoadFails("attention_bias")
    }

    /// Without `head_dim`, Qwen3 (unlike LLaMA) uses 128, as HF `Qwen3Config` does.
    func testQwen3DefaultHeadDimIs128() throws {
        let json = #"{"model_type": "qwen3", "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "intermediate_size": 8, "vocab_size": 10}"#
        guard let spec = try ModelRegistry.architecture(configJSON: Data(json.utf8), path: "config.json") as? LlamaSpec else {
            return XCTFail("qwen3 is not a LLaMA-family architecture")
        }
        XCTAssertEqual(spec.headDim, 128)
        XCTAssertTrue(spec.qkNorm)
        XCTAssertFalse(spec.qkvBias)
        let model = LlamaModel<Float>(spec: spec)
        XCTAssertEqual(model.layout.slot("model.layers.0.self_attn.q_proj.weight")?.shape, [256, 16])
        XCTAssertEqual(model.layout.slot("model.layers.0.self_attn.o_proj.weight")?.shape, [16, 256])
        XCTAssertEqual(model.layout.slot("model.layers.0.self_attn.k_norm.weight")?.shape, [128])
    }

    func copyFixture(_ name: String, editing edit: (inout [(name: String, shape: [Int], values: [Float])]) -> Void) throws {
        let source = fixture(name)
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: temporary.appendingPathComponent("config.json"))
        let file = try SafeTensorsFile(contentsOf: source.appendingPathComponent("model.safetensors"))
        var tensors = try file.tensorNames.map { (name: $0, shape: file.info($0)!.shape, values: try file.floats($0)) }
        edit(&tensors)
        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        for t in tensors {
            try t.values.withUnsafeBufferPointer { try writer.add(t.name, shape: t.shape, values: $0, as: .F32) }
        }
        try writer.write(to: temporary.appendingPathComponent("model.safetensors"))
    }

    func testMissingTensorIsNamed() throws {
        try copyFixture("llada") { $0.removeAll { $0.name == "model.transformer.blocks.1.k_proj.weight" } }
        assertLoadFails("tensor \"model.transformer.blocks.1.k_proj.weight\" is missing")
    }

    func testUnexpectedTensorIsNamed() throws {
        try copyFixture("llama_gqa") { $0.append((name: "model.layers.9.mlp.up_proj.weight", shape: [2], values: [1, 2])) }
        assertLoadFails("\"model.layers.9.mlp.up_proj.weight\" is in the checkpoint but not in the model")
    }

    func testMisshapenTensorIsNamed() throws {
        try copyFixture("qwen2") { tensors in
            let i = tensors.firstIndex { $0.name == "model.norm.weight" }!
            tensors[i] = (name: "model.norm.weight", shape: [2, tensors[i].values.count / 2], values: tensors[i].values)
        }
        assertLoadFails("\"model.norm.weight\" has shape [2, 12]")
    }

    func testGPT2CheckpointWithoutPrefixAndWithMaskBuffersLoads() throws {
        try copyFixture("gpt2") { tensors in
            tensors = tensors.map { (name: String($0.name.dropFirst("transformer.".count)), shape: $0.shape, values: $0.values) }
            tensors.append((name: "h.0.attn.bias", shape: [1, 1, 16, 16], values: [Float](repeating: 1, count: 256)))
        }
        let loaded = try ModelFolder.load(temporary, as: Float.self)
        let reference = try ModelFolder.load(fixture("gpt2"), as: Float.self)
        XCTAssertEqual(loaded.model.parameters.array, reference.model.parameters.array)
    }
}

extension ModelFolderTests {
    func testHalfPrecisionCheckpointsLoad() throws {
        let loaded = try ModelFolder.load(fixture("llama_gqa"), as: Float.self)
        for dtype in [SafeTensorsDType.BF16, .F16] {
            let out = temporary.appendingPathComponent(dtype.rawValue)
            try ModelFolder.save(loaded.model, config: loaded.config, to: out, dtype: dtype)
            let file = try SafeTensorsFile(contentsOf: out.appendingPathComponent("model.safetensors"))
            XCTAssertEqual(file.info("model.norm.weight")?.dtype, dtype)
            let reloaded = try ModelFolder.load(out, as: Float.self)
            let tolerance: Float = dtype == .BF16 ? 1 / 128 : 1 / 1024
            for (a, b) in zip(reloaded.model.parameters.array, loaded.model.parameters.array) {
                XCTAssertEqual(a, b, accuracy: abs(b) * tolerance + 1e-6)
            }
        }
    }
}
