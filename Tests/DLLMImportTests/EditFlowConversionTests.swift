import DLLMCheckpoint
import DLLMCompute
import DLLMImport
import DLLMModels
import Foundation
import XCTest

/// `dllm convert editflow` after `dllm convert a2d` on the tiny llama (untied head) and qwen2 (tied)
/// folders: dLLM's tensor names, heads copied from the LM head, the backbone bit for bit.
final class EditFlowConversionTests: XCTestCase {
    /// The tiny editflow-llama fixture PyTorch saved with dLLM's module names (Tests/Fixtures/generate_editflow.py).
    static let dLLMSaved = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DLLMModelsTests/Fixtures/editflow_llama/model.safetensors")

    func convert(_ base: String) throws -> (a2d: URL, editflow: URL, summary: EditFlowConverter.Summary) {
        let scratch = try A2DFixtures.scratch(self, "editflow")
        let a2d = scratch.appendingPathComponent("a2d"), editflow = scratch.appendingPathComponent("editflow")
        try A2DConverter.convert(input: A2DFixtures.folder(base).path, to: a2d)
        return (a2d, editflow, try EditFlowConverter.convert(input: a2d, to: editflow, seed: 1))
    }

    func testHeadsCopyTheLMHeadAndTheBackboneIsKept() throws {
        for (base, tied) in [("llama", false), ("qwen2", true)] {
            let (a2d, editflow, summary) = try convert(base)
            XCTAssertEqual(summary.modelType, "editflow-\(base)")
            let config = try JSONSerialization.jsonObject(with: Data(contentsOf: editflow.appendingPathComponent("config.json"))) as! [String: Any]
            XCTAssertEqual(config["model_type"] as? String, "editflow-\(base)")
            XCTAssertNil(config["architectures"])
            XCTAssertTrue(summary.files.contains("tokenizer.json"))
            let source = try SafeTensorsFile(contentsOf: a2d.appendingPathComponent("model.safetensors"))
            let out = try SafeTensorsFile(contentsOf: editflow.appendingPathComponent("model.safetensors"))
            let head = try source.floats(tied ? "model.embed_tokens.weight" : "lm_head.weight")
            XCTAssertEqual(try out.floats("sub_logits.weight"), head, "\(base): sub_logits from the LM head")
            XCTAssertEqual(try out.floats("ins_logits.weight"), head, "\(base): ins_logits from the LM head")
            XCTAssertEqual(try out.floats("rate_heads.0.bias"), [0, 0, 0])
            XCTAssertEqual(try out.floats("rate_heads.0.weight").count, 3 * (head.count / (config["vocab_size"] as! Int)))
            for name in source.tensorNames {
                XCTAssertEqual(try out.floats(name), try source.floats(name), "\(base): \(name) kept")
            }
            let loaded = try ModelFolder.load(editflow, as: Float.self).model
            XCTAssertTrue(loaded is any EditFlowLanguageModel<Float>)
            XCTAssertEqual((loaded.architecture as? LlamaSpec)?.bidirectional, true)
            if !tied {
                // The same names, in the same module layout, as the model dLLM's classes saved.
                XCTAssertEqual(Set(out.tensorNames), Set(try SafeTensorsFile(contentsOf: Self.dLLMSaved).tensorNames))
            }
        }
    }

    func testNonA2DSourceIsRefused() throws {
        let out = try A2DFixtures.scratch(self, "editflow").appendingPathComponent("out")
        XCTAssertThrowsError(try EditFlowConverter.convert(input: A2DFixtures.folder("llama"), to: out)) { error in
            XCTAssertEqual(error as? EditFlowConversionError, .unsupportedModelType("llama", path: A2DFixtures.folder("llama").appendingPathComponent("config.json").path))
            XCTAssertTrue("\(error)".contains("dllm convert a2d"))
        }
    }
}
