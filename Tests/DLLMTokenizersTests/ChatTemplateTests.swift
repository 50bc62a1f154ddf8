import XCTest
@testable import DLLMTokenizers

/// Renderings of real chat templates against `transformers`' `apply_chat_template`.
final class ChatTemplateTests: XCTestCase {
    func testRenderingsMatchTransformers() throws {
        let conversations = (try Fixtures.json("chat/conversations.json") as! [[[String: Any]]]).map { conv in
            conv.map { ChatMessage(role: $0["role"] as! String, content: $0["content"] as! String) }
        }
        let renders = try Fixtures.json("chat/renderings.json") as! [[String: Any]]
        XCTAssertEqual(renders.count, 4 * conversations.count * 2)
        var templates: [String: ChatTemplate] = [:]
        for (i, r) in renders.enumerated() {
            let name = r["template"] as! String
            if templates[name] == nil { templates[name] = try ChatTemplate.load(modelFolder: Fixtures.path("chat/\(name)")) }
            let conv = conversations[(r["conversation"] as! NSNumber).intValue]
            let got = templates[name]!.render(messages: conv, addGenerationPrompt: r["add_generation_prompt"] as! Bool)
            let want = r["text"] as! String
            if !got.unicodeScalars.elementsEqual(want.unicodeScalars) {
                return XCTFail("rendering \(i) (\(name)): got \(got.debugDescription), transformers \(want.debugDescription)")
            }
        }
    }

    func testTemplatesAreRecognized() throws {
        XCTAssertEqual(try ChatTemplate.load(modelFolder: Fixtures.path("chat/smollm2")).kind,
                       .chatML(defaultSystemPrompt: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"))
        XCTAssertEqual(try ChatTemplate.load(modelFolder: Fixtures.path("chat/qwen2")).kind,
                       .chatML(defaultSystemPrompt: "You are a helpful assistant."))
        let llama = try ChatTemplate.load(modelFolder: Fixtures.path("chat/llama3"))
        XCTAssertEqual(llama.kind, .llama3(alwaysAddsGenerationPrompt: false))
        XCTAssertEqual(llama.bosToken, "<|begin_of_text|>")
        let llada = try ChatTemplate.load(modelFolder: Fixtures.path("chat/llada"))
        XCTAssertEqual(llada.kind, .llama3(alwaysAddsGenerationPrompt: true))
        XCTAssertEqual(llada.bosToken, "<|startoftext|>")
    }

    func testUnknownTemplateIsAnErrorNamingTheFolder() {
        let folder = Fixtures.path("chat/unknown")
        XCTAssertThrowsError(try ChatTemplate.load(modelFolder: folder)) { error in
            guard case TokenizerError.unknownChatTemplate(let f, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(f, folder)
            XCTAssertTrue("\(error)".contains(folder))
        }
        XCTAssertThrowsError(try ChatTemplate.load(modelFolder: Fixtures.path("gpt2")))
    }
}
