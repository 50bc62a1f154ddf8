import Foundation
import XCTest
@testable import DLLMTokenizers
import DLLMJinja

/// Dream-v0-Instruct-7B's chat template, read from its own `tokenizer_config.json` as a model
/// folder, against Dream's `DreamTokenizer.apply_chat_template` (Fixtures/dream-chat, written by
/// Fixtures/generate_dream_chat_fixtures.py).
final class DreamChatTemplateTests: XCTestCase {
    func testDreamFolderRendersAsDreamTokenizer() throws {
        let folder = Fixtures.path("dream-chat")
        let template = try ChatTemplate.load(modelFolder: folder)
        let fixture = try JinjaValue.parseJSON(String(decoding: try Fixtures.data("dream-chat/renderings.json"), as: UTF8.self))
        guard case .dict(let root) = fixture, case .list(let cases)? = root["cases"], case .dict(let meta)? = root["meta"] else {
            return XCTFail("renderings.json is malformed")
        }
        // The special tokens the template sees are Dream's.
        for key in ["bos_token", "eos_token", "pad_token", "mask_token"] {
            guard case .string(let want)? = meta[key] else { return XCTFail("meta.\(key) missing") }
            XCTAssertEqual(template.specialTokens[key], want, key)
        }
        XCTAssertEqual(cases.count, 28)
        var withTools = 0
        for (i, c) in cases.enumerated() {
            guard case .dict(let d) = c, case .list(let messages)? = d["messages"], case .bool(let generation)? = d["add_generation_prompt"],
                  case .string(let want)? = d["text"] else { return XCTFail("case \(i) is malformed") }
            var tools: [JinjaValue]?
            if case .list(let t)? = d["tools"] { tools = t; withTools += 1 }
            let got = try template.render(conversation: messages, addGenerationPrompt: generation, tools: tools)
            if !got.unicodeScalars.elementsEqual(want.unicodeScalars) {
                XCTFail("case \(i) (generation prompt \(generation), tools \(tools != nil)): got \(got.debugDescription), DreamTokenizer \(want.debugDescription)")
            }
        }
        XCTAssertEqual(withTools, 8)
    }

    /// Without a system message Dream's template opens with its default system turn
    /// ("You are a helpful assistant."), and the generation prompt is the assistant header.
    func testDefaultSystemPromptAndGenerationPrompt() throws {
        let template = try ChatTemplate.load(modelFolder: Fixtures.path("dream-chat"))
        XCTAssertEqual(try template.render(messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true),
                       "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    /// dLLM adds no template of its own for Dream (`get_tokenizer` only sets `eot_token`), so a
    /// Dream folder without one cannot render a chat, as with transformers; the error names the folder.
    func testDreamFolderWithoutTemplateIsAnError() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-dream-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(#"{"bos_token": "<|beginoftext|>", "eos_token": "<|endoftext|>", "mask_token": "<|mask|>"}"#.utf8)
            .write(to: folder.appendingPathComponent("tokenizer_config.json"))
        XCTAssertThrowsError(try ChatTemplate.load(modelFolder: folder.path)) { error in
            guard case TokenizerError.unknownChatTemplate(let f, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(f, folder.path)
        }
    }
}
