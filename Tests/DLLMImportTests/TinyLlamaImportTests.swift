import DLLMCompute
import DLLMGGUF
import DLLMImport
import DLLMModels
import Foundation
import XCTest

/// A tiny random llama GGUF written as llama.cpp writes one (q/k permuted, projections
/// in Q8_0/Q4_0/Q4_1/Q5_0/Q5_1, tied head) against transformers loading the same file
/// (Fixtures/generate_tiny_llama_fixture.py). Needs no downloaded model.
final class TinyLlamaImportTests: XCTestCase {
    private func fixture() throws -> (file: GGUFFile, ids: [Int], logits: [Float]) {
        let file = try GGUFFile(path: ImportFixtures.directory.appendingPathComponent("tiny_llama.gguf").path)
        let data = try Data(contentsOf: ImportFixtures.directory.appendingPathComponent("tiny_llama_logits.json"))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let ids = try XCTUnwrap(json["ids"] as? [Int])
        let rows = try XCTUnwrap(json["logits"] as? [[String]])
        let logits = try rows.flatMap { try $0.map { Float(bitPattern: try XCTUnwrap(UInt32($0, radix: 16))) } }
        return (file, ids, logits)
    }

    func testLogitsMatchTransformers() throws {
        let (file, ids, expected) = try fixture()
        let (model, config) = try GGUFModelImport.load(file)
        XCTAssertEqual(config["tie_word_embeddings"] as? Bool, true)
        XCTAssertEqual(config["num_key_value_heads"] as? Int, 2)
        let logits = SmolLM2ParityTests.logits(model, ids: ids)
        XCTAssertEqual(logits.count, expected.count)
        var diff: Float = 0, scale: Float = 0
        for i in logits.indices {
            diff = max(diff, abs(logits[i] - expected[i]))
            scale = max(scale, abs(expected[i]))
        }
        XCTAssertLessThanOrEqual(diff / scale, 1e-5, "max|dllm − transformers| / max|transformers|")
        print("tiny llama: max|dllm − transformers| / max|transformers| = \(diff / scale)")
    }

    /// Reading q/k without the un-permutation gives different logits: the permutation is
    /// what the test above checks, not a no-op.
    func testUnpermutationMatters() throws {
        let (file, ids, expected) = try fixture()
        let (model, _) = try GGUFModelImport.load(file)
        for layer in 0 ..< model.spec.layers {
            for name in ["q_proj", "k_proj"] {
                let slot = try XCTUnwrap(model.layout.slot("model.layers.\(layer).self_attn.\(name).weight"))
                let tensor = try XCTUnwrap(file.tensor(named: "blk.\(layer).attn_\(name.prefix(1)).weight"))
                let raw = try file.dequantize(tensor)   // GGUF row order
                for i in 0 ..< slot.count { model.parameters.pointer[slot.offset + i] = raw[i] }
            }
        }
        let logits = SmolLM2ParityTests.logits(model, ids: ids)
        var diff: Float = 0, scale: Float = 0
        for i in logits.indices {
            diff = max(diff, abs(logits[i] - expected[i]))
            scale = max(scale, abs(expected[i]))
        }
        XCTAssertGreaterThan(diff / scale, 1e-2)
        print("tiny llama without un-permutation: \(diff / scale)")
    }
}
