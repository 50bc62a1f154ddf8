import XCTest
@testable import DLLMTokenizers

/// GPT-2's real vocab.json + merges.txt against the Python `tokenizers` package.
final class GPT2EncodingTests: XCTestCase {
    func testEncodeDecodeMatchPythonOnAllFixtureTexts() throws {
        let rows = try Fixtures.jsonLines("expected-gpt2.jsonl")
        checkExpectations(Fixtures.gpt2, texts: Fixtures.texts, rows: rows, bos: nil, label: "gpt2")
    }

    func testKnownIds() {
        let tok = Fixtures.gpt2
        XCTAssertEqual(tok.encode("Hello world"), [15496, 995])
        XCTAssertEqual(tok.tokenToId("<|endoftext|>"), 50256)
        XCTAssertEqual(tok.encode("<|endoftext|>"), [50256])
        XCTAssertEqual(tok.vocabSize, 50257)
    }

    func testDecodeSlicesMatchPython() throws {
        let cases = (try Fixtures.json("decode-cases.json") as! [String: Any])["gpt2"] as! [[String: Any]]
        for (i, c) in cases.enumerated() {
            let got = Fixtures.gpt2.decode(Fixtures.ids(c["ids"])!, skipSpecialTokens: c["skip"] as! Bool)
            let want = c["text"] as! String
            if !got.utf8.elementsEqual(want.utf8) {
                return XCTFail("case \(i) \(c["ids"]!): got \(got.debugDescription), Python \(want.debugDescription)")
            }
        }
    }
}
