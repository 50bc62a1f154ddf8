import Foundation
import XCTest
@testable import DLLMJinja

/// Real chat templates (SmolLM2, Qwen2, Qwen2.5 with tools, Qwen3 with thinking and tools,
/// LLaMA-3, 3.2 and 3.3 with tools and dates, LLaDA; Gemma-2, Hermes-3, Mistral-Nemo,
/// DeepSeek-R1-Distill, Granite-3.3 with documents) against transformers' `render_jinja_template`.
final class ChatTemplateRenderingTests: XCTestCase {
    func testEveryRenderingEqualsTransformers() throws {
        let fixture = try Fixtures.json("chat_renderings.json")
        let cases = try XCTUnwrap(fixture["cases"]?.array)
        XCTAssertGreaterThan(cases.count, 150)
        let now = Fixtures.fixedNow(try XCTUnwrap(fixture["meta"]))
        let options = RenderOptions(now: { now })
        var templates: [String: Template] = [:]
        var checkedErrors = 0
        for (i, c) in cases.enumerated() {
            let name = try XCTUnwrap(c["template"]?.string)
            if templates[name] == nil { templates[name] = try Template(try Fixtures.text("templates/" + name)) }
            let messages = try XCTUnwrap(c["messages"]?.array)
            let tools = c["tools"]?.array
            let documents = c["documents"]?.array
            guard case .bool(let generation)? = c["add_generation_prompt"], case .dict(let kwargs)? = c["kwargs"] else {
                return XCTFail("case \(i) is malformed")
            }
            var extra: [String: JinjaValue] = [:]
            for (k, v) in kwargs.items { extra[k] = v }
            let label = "case \(i) (\(name), generation prompt \(generation))"
            do {
                let got = try templates[name]!.renderChat(messages: messages, addGenerationPrompt: generation, tools: tools,
                                                          documents: documents, extra: extra, options: options)
                guard let want = c["text"]?.string else {
                    XCTFail("\(label): rendered \(got.debugDescription) but transformers raised \(c["message"]?.string ?? "?")")
                    continue
                }
                assertSameText(got, want, label)
            } catch JinjaError.raised(let message, _, _) {
                XCTAssertEqual(message, c["message"]?.string, label)
                XCTAssertEqual(c["error"]?.string, "TemplateError", label)
                checkedErrors += 1
            }
        }
        XCTAssertEqual(checkedErrors, cases.filter { $0["error"] != nil }.count)
    }

    /// transformers passes `tools=None` and `documents=None` (defined, none) when there are none.
    func testAbsentToolsAndDocumentsAreNone() throws {
        let t = try Template("{{ tools is defined }} {{ tools is none }} {{ documents is none }} {{ add_generation_prompt }} {{ bos_token is defined }}")
        XCTAssertEqual(try t.renderChat(messages: [], addGenerationPrompt: true), "True True True True False")
    }

    /// transformers copies a message's reasoning under `thinking` and `reasoning_content`.
    func testReasoningFieldsAreAliasedAsTransformersDoes() throws {
        let t = try Template("{% for m in messages %}{{ m | tojson }}{% endfor %}")
        let text = try t.renderChat(messages: [["role": "assistant", "content": "x", "reasoning": "r"]], addGenerationPrompt: false)
        XCTAssertEqual(text, #"{"thinking": "r", "role": "assistant", "content": "x", "reasoning": "r", "reasoning_content": "r"}"#)
    }
}
