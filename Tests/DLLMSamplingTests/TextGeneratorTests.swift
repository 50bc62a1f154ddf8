import DLLMSampling
import DLLMTokenizers
import Foundation
import XCTest

/// Text in, text out on the tiny text-llada folder (LLaDA config, BPE tokenizer with
/// LLaDA's special tokens and chat template, random weights): prompts, chat, infill
/// placeholders, JSONL requests and decoding.
final class TextGeneratorTests: XCTestCase {
    func load() throws -> TextGenerator { try TextGenerator(folder: Fixtures.textModel.path, seed: 1) }

    func testFolderResolvesSpecialTokensAndMode() throws {
        let g = try load()
        XCTAssertTrue(g.randomlyInitialized)
        XCTAssertEqual(g.mode, .diffusion)
        XCTAssertEqual(g.maskID, Int32(g.tokenizer.tokenizer.tokenToId("<|mdm_mask|>")!))
        XCTAssertEqual(g.eosID, Int32(g.tokenizer.tokenizer.tokenToId("<|endoftext|>")!))
        XCTAssertEqual(g.maskToken, "<|mdm_mask|>")
        XCTAssertTrue(g.stopIDs.contains(Int32(g.tokenizer.tokenizer.tokenToId("<|eot_id|>")!)))
    }

    func testPromptAndChatTokens() throws {
        let g = try load()
        let bos = g.tokenizer.bosTokenID!
        let plain = try g.promptTokens("The king said", chat: false)
        XCTAssertEqual(plain.first, bos)
        XCTAssertEqual(g.decode(plain), "The king said")
        let chat = try g.chatTokens([ChatMessage(role: "user", content: "Who rides at dawn?")])
        XCTAssertEqual(chat.filter { $0 == bos }.count, 1, "the template's BOS only, no second one")
        let rendered = g.tokenizer.decode(chat)
        XCTAssertTrue(rendered.hasPrefix("<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nWho rides at dawn?<|eot_id|>"))
        XCTAssertTrue(rendered.hasSuffix("<|start_header_id|>assistant<|end_header_id|>\n\n"))
    }

    func testGenerateAndDecodeAnswer() throws {
        let g = try load()
        let ids = try g.promptTokens("Shall I compare thee", chat: false)
        let out = try g.diffusionSampler().generate(prompts: [ids], config: MDLMSamplerConfig(steps: 8, genLength: 8, blockLength: 4))
        XCTAssertEqual(out.answers[0].count, 8)
        let eos = g.eosID!
        XCTAssertEqual(g.decodeAnswer(g.tokenizer.encode(" thee", addSpecialTokens: false) + [eos, 100]), " thee")
    }

    func testInfillPlaceholdersKeepTheText() throws {
        let g = try load()
        let ids = try g.infillTokens("The king said [MASK*5] and left the hall.")
        XCTAssertEqual(ids.filter { $0 == g.maskID! }.count, 5)
        let viaToken = try g.infillTokens("The king said <|mdm_mask|>×5 and left the hall.")
        XCTAssertEqual(viaToken, ids)
        let out = try g.diffusionSampler().infill([ids], config: MDLMSamplerConfig(steps: 5), noise: CounterNoise(seed: 2))
        let text = g.decode(out.sequences[0])
        XCTAssertTrue(text.hasPrefix("The king said "), text)
        XCTAssertTrue(text.hasSuffix(" and left the hall."), text)
        XCTAssertFalse(out.sequences[0].contains(g.maskID!))
    }

    func testInfillTemplateSyntax() throws {
        XCTAssertEqual(try InfillTemplate(parsing: "a [MASK] b").pieces, [.text("a "), .masks(1), .text(" b")])
        XCTAssertEqual(try InfillTemplate(parsing: "[MASK*3]x[MASK×2][MASKx4]").pieces, [.masks(3), .text("x"), .masks(2), .masks(4)])
        XCTAssertEqual(try InfillTemplate(parsing: "a<m>*2 b<m>", maskToken: "<m>").pieces, [.text("a"), .masks(2), .text(" b"), .masks(1)])
        XCTAssertEqual(try InfillTemplate(parsing: "[MASK*12]").maskCount, 12)
        for bad in ["no placeholder", "[MASK*0]", "[MASK", "[MASK*x]"] {
            XCTAssertThrowsError(try InfillTemplate(parsing: bad), bad) { XCTAssertTrue("\($0)".contains("infill")) }
        }
    }

    func testGenerationRequests() throws {
        let r = try GenerationRequest(jsonLine: #"{"prompt": "hi", "steps": 8, "gen_length": 16, "block_length": 4, "temperature": 0.5, "remasking": "random", "cfg_scale": 1, "threshold": 0.9, "cache": "dual", "seed": 3, "id": 7}"#, line: 1)
        let c = r.applied(to: MDLMSamplerConfig())
        XCTAssertEqual(c, MDLMSamplerConfig(steps: 8, genLength: 16, blockLength: 4, temperature: 0.5, remasking: .random, cfgScale: 1,
                                            threshold: 0.9, cache: .dual))
        XCTAssertEqual(r.seed, 3)
        XCTAssertEqual(r.id, "7")
        let chat = try GenerationRequest(jsonLine: #"{"messages": [{"role": "user", "content": "x"}], "top_k": 5}"#, line: 2)
        XCTAssertEqual(chat.messages, [.init(role: "user", content: "x")])
        XCTAssertEqual(chat.applied(to: ARSamplerConfig()).topK, 5)
        for (line, bad) in [#"{"prompt": "x", "gen_lenght": 3}"#, #"{"steps": 3}"#, #"{"prompt": "x", "infill": "[MASK]"}"#,
                            #"{"prompt": "x", "cache": "triple"}"#, #"{"prompt": "x", "steps": 1.5}"#, "not json"].enumerated() {
            XCTAssertThrowsError(try GenerationRequest(jsonLine: bad, line: line + 1), bad) {
                XCTAssertTrue("\($0)".contains("line \(line + 1)"), "\($0)")
            }
        }
    }
}
