import DLLMGGUF
import DLLMSampling
import Foundation
import XCTest

/// A `.gguf` path wherever a model folder goes: `TextGenerator` (what `dllm generate`
/// and `dllm chat` load) imports the model and converts the file's tokenizer.
final class GGUFTextGeneratorTests: XCTestCase {
    func testGeneratorLoadsAGGUFFile() throws {
        let path = try SmolLM2Asset.path()
        XCTAssertTrue(TextGenerator.isGGUF(path))
        let generator = try TextGenerator(folder: path, mode: .auto)
        XCTAssertEqual(generator.modelType, "llama")
        XCTAssertEqual(generator.mode, .ar)          // no mask token: autoregressive
        XCTAssertEqual(generator.eosID, 2)
        XCTAssertFalse(generator.randomlyInitialized)

        let reference = try ImportFixtures.reference()
        let prompts = try XCTUnwrap(reference["prompts"] as? [[String: Any]])
        let first = prompts[0]
        let ids = try generator.promptTokens(try XCTUnwrap(first["text"] as? String), chat: false)
        XCTAssertEqual(ids.map(Int.init), first["ids"] as? [Int])

        // One greedy token: transformers' argmax at the prompt's last position.
        let output = try generator.arSampler().generate(prompts: [ids], config: ARSamplerConfig(maxNewTokens: 1, stopAtEOS: false))
        XCTAssertEqual(output.answers[0].map(Int.init), [try XCTUnwrap((first["argmax"] as? [Int])?.last)])
    }
}
