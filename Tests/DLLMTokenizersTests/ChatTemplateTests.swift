import XCTest
@testable import DLLMTokenizers
import DLLMJinja

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
            let got = try templates[name]!.render(messages: conv, addGenerationPrompt: r["add_generation_prompt"] as! Bool)
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

    func testAnyTemplateIsInterpretedWithToolsAndExtraArguments() throws {
        let source = """
        {%- for m in messages %}{{ m.role }}:{{ m.content }}{% if m.tool_calls %}{{ m.tool_calls[0].function.arguments | tojson }}{% endif %};{% endfor %}
        {%- if tools %}[{{ tools | map(attribute='name') | join(',') }}]{% endif %}{{ eos_token }}{% if enable_thinking is false %}/no_think{% endif %}
        """
        let t = try ChatTemplate(source: source, specialTokens: ["eos_token": "</s>"])
        XCTAssertNil(t.kind)
        let call: JinjaValue = ["function": ["name": "f", "arguments": ["x": 1, "é": [true, .none]]]]
        let text = try t.render(conversation: [ChatMessage(role: "user", content: "Hi").templateValue,
                                               ["role": "assistant", "content": "", "tool_calls": [call]]],
                                addGenerationPrompt: false, tools: [["name": "f"], ["name": "g"]],
                                extra: ["enable_thinking": false])
        XCTAssertEqual(text, #"user:Hi;assistant:{"x": 1, "é": [true, null]};[f,g]</s>/no_think"#)
        XCTAssertThrowsError(try ChatTemplate(source: "{{ raise_exception('no ' ~ messages[0].role) }}")
            .render(messages: [ChatMessage(role: "tool", content: "")], addGenerationPrompt: true)) { error in
            XCTAssertEqual(error as? JinjaError, .raised(message: "no tool", line: 1, column: 4))
        }
    }

    func testBuiltInKindsRenderAsTheirSources() throws {
        let conv = [ChatMessage(role: "user", content: " Hi ")]
        XCTAssertEqual(try ChatTemplate(kind: .chatML(defaultSystemPrompt: "It's \\ ok"), bosToken: "").render(messages: conv, addGenerationPrompt: true),
                       "<|im_start|>system\nIt's \\ ok<|im_end|>\n<|im_start|>user\n Hi <|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(try ChatTemplate(kind: .llama3(alwaysAddsGenerationPrompt: true), bosToken: "<s>").render(messages: conv, addGenerationPrompt: false),
                       "<s><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    }

    /// transformers prefers a folder's chat_template.jinja to tokenizer_config.json's template,
    /// and reads a list of named templates by its "default" entry.
    func testTemplateFileAndNamedTemplates() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-chat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = #"{"bos_token": {"content": "<s>"}, "eos_token": "</s>", "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D{{ bos_token }}{{ messages | length }}"}]}"#
        try Data(config.utf8).write(to: folder.appendingPathComponent("tokenizer_config.json"))
        let hi = [ChatMessage(role: "user", content: "Hi")]
        XCTAssertEqual(try ChatTemplate.load(modelFolder: folder.path).render(messages: hi, addGenerationPrompt: false), "D<s>1")
        try Data("J{{ eos_token }}\n".utf8).write(to: folder.appendingPathComponent("chat_template.jinja"))
        XCTAssertEqual(try ChatTemplate.load(modelFolder: folder.path).render(messages: hi, addGenerationPrompt: false), "J</s>")
    }

    func testUnknownTemplateIsAnErrorNamingTheFolder() {
        let folder = Fixtures.path("chat/unknown")
        XCTAssertThrowsError(try ChatTemplate.load(modelFolder: folder)) { error in
            guard case TokenizerError.unknownChatTemplate(let f, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(f, folder)
            XCTAssertTrue("\(error)".contains(folder))
            XCTAssertTrue("\(error)".contains("'{% filter %}' tag"), "\(error)")
        }
        XCTAssertThrowsError(try ChatTemplate.load(modelFolder: Fixtures.path("gpt2")))
    }
}
