import DLLMModels
import Foundation
import XCTest

/// `config.json` goes through DLLMJSON once on load and is written back as `transformers`
/// writes it.
final class ConfigJSONTests: XCTestCase {
    /// The fixtures' `config.json` files were written by `save_pretrained`
    /// (`json.dumps(indent=2, sort_keys=True) + "\n"`); a load and save here must give the same bytes.
    func testSavedConfigIsByteIdenticalToTransformersOutput() throws {
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-config-json-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: temporary) }
        for name in ["gpt2", "llama_gqa", "qwen2", "qwen3"] {
            let folder = PyTorchParityTests.fixtures.appendingPathComponent(name)
            let loaded = try ModelFolder.load(folder, as: Float.self)
            let out = temporary.appendingPathComponent(name)
            try ModelFolder.save(loaded.model, config: loaded.configJSON, to: out)
            let original = try Data(contentsOf: folder.appendingPathComponent("config.json"))
            let written = try Data(contentsOf: out.appendingPathComponent("config.json"))
            XCTAssertEqual(String(decoding: written, as: UTF8.self), String(decoding: original, as: UTF8.self), name)
            // The dictionary form (what training passes around) writes the same bytes.
            let viaDictionary = try ConfigJSON.text(loaded.config, path: "config.json")
            XCTAssertEqual(viaDictionary, original, name)
        }
    }

    func testSyntaxErrorsNameFileLineAndColumn() {
        let text = Data("{\n  \"model_type\": \"llama\",\n  \"hidden_size\": 32,,\n}".utf8)
        XCTAssertThrowsError(try ModelRegistry.architecture(configJSON: text, path: "/m/config.json")) { error in
            XCTAssertEqual("\(error)".contains("line 3, column 21"), true, "\(error)")
            XCTAssertEqual("\(error)".contains("/m/config.json"), true, "\(error)")
        }
    }

    func testDuplicateKeysKeepTheLastValueAsPythonDoes() throws {
        let text = Data(#"{"model_type": "gpt2", "vocab_size": 10, "n_embd": 8, "n_layer": 9, "n_layer": 1, "n_head": 2, "n_positions": 4}"#.utf8)
        guard let config = try ModelRegistry.architecture(configJSON: text, path: "config.json") as? GPT2Configuration else {
            return XCTFail("not gpt2")
        }
        XCTAssertEqual(config.nLayer, 1)
    }
}
