import DLLMCheckpoint
import DLLMImport
import DLLMModels
import DLLMSampling
import Foundation
import XCTest

/// `dllm convert a2d` on the real SmolLM2-135M-Instruct Q4_1 GGUF (located by `SmolLM2Asset`:
/// absent, the test fails on CI and skips elsewhere).
final class A2DSmolLM2Tests: XCTestCase {
    func testSmolLM2ConvertsWithOneGrownRowBlock() throws {
        let path = try SmolLM2Asset.path()
        let out = try A2DFixtures.scratch(self, "a2d-smollm2").appendingPathComponent("a2d")
        let summary = try A2DConverter.convert(input: path, to: out)
        // 49152 tokens fill the table (a multiple of 64): <|mask|> is 49152, 49153 rows round up to 49216.
        XCTAssertEqual(summary.modelType, "a2d-llama")
        XCTAssertEqual(summary.maskTokenID, 49152)
        XCTAssertFalse(summary.maskTokenReused)
        XCTAssertEqual(summary.oldVocabularyRows, 49152)
        XCTAssertEqual(summary.newVocabularyRows, 49216)
        XCTAssertEqual(summary.addedRows, .multivariateNormal)

        let config = try A2DFixtures.json(out.appendingPathComponent("config.json"))
        XCTAssertEqual(config["model_type"] as? String, "a2d-llama")
        XCTAssertEqual(config["vocab_size"] as? Int, 49216)
        XCTAssertEqual(config["mask_token_id"] as? Int, 49152)
        XCTAssertEqual(config["tie_word_embeddings"] as? Bool, true)
        XCTAssertNil(config["architectures"])
        let generation = try A2DFixtures.json(out.appendingPathComponent("generation_config.json"))
        XCTAssertEqual(generation["mask_token_id"] as? Int, 49152)

        // The weights: every tensor of the dequantised GGUF, bit for bit, and the new rows near μ.
        let (reference, _) = try GGUFModelImport.load(SmolLM2.file())
        let written = try SafeTensorsCheckpoint(directory: out)
        XCTAssertEqual(Set(written.tensorNames), Set(reference.layout.slots.map(\.name)))
        for slot in reference.layout.slots {
            let values = try written.readFloats(slot.name)
            let old = Array(UnsafeBufferPointer(start: reference.parameters.pointer + slot.offset, count: slot.count))
            XCTAssertEqual(Array(values.prefix(slot.count)), old, slot.name)
            if slot.name == "model.embed_tokens.weight" {
                XCTAssertEqual(values.count, 49216 * 576)
                let (mean, _) = old.withUnsafeBufferPointer {
                    AddedRowsInitialization.meanAndCovariance(rows: $0.baseAddress!, count: 49152, width: 576)
                }
                let deviation = values[(49152 * 576)...].enumerated().map { abs(Double($0.element) - mean[$0.offset % 576]) }.max() ?? 0
                XCTAssertGreaterThan(deviation, 0, "drawn, not copies of μ")
                XCTAssertLessThan(deviation, 1e-3, "within a few √(1e-9·Σᵢᵢ) of μ")
            }
        }

        // The tokenizer and the generator read the mask token; sampling is diffusion.
        let generator = try TextGenerator(folder: out.path)
        XCTAssertEqual(generator.mode, .diffusion)
        XCTAssertEqual(generator.maskID, 49152)
        XCTAssertEqual(generator.tokenizer.maskTokenID, 49152)
        XCTAssertEqual(generator.maskToken, "<|mask|>")
        XCTAssertEqual(generator.tokenizer.encode("a <|mask|> b", addSpecialTokens: false).filter { $0 == 49152 }.count, 1,
                       "the mask token is one special token")
    }
}
