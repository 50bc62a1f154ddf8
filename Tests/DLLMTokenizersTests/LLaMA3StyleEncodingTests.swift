import Foundation
import XCTest
@testable import DLLMTokenizers

/// The LLaMA-3-pipeline tokenizer trained by the fixture generator, and
/// pipeline variants of it (Qwen2 regex + NFC, Split behaviors, Digits,
/// NSRegularExpression fallback), against the Python `tokenizers` package.
final class LLaMA3StyleEncodingTests: XCTestCase {
    static let bos: UInt32 = 0  // <|begin_of_text|>, the first special token

    func testEncodeDecodeMatchPythonOnAllFixtureTexts() throws {
        XCTAssertEqual(Fixtures.llama3Style.tokenToId("<|begin_of_text|>"), Self.bos)
        let rows = try Fixtures.jsonLines("expected-llama3-style.jsonl")
        checkExpectations(Fixtures.llama3Style, texts: Fixtures.texts, rows: rows, bos: Self.bos, label: "llama3-style")
    }

    func testPairsMatchPython() throws {
        for (i, row) in try Fixtures.jsonLines("expected-llama3-style-pairs.jsonl").enumerated() {
            let got = Fixtures.llama3Style.encode(row["a"] as! String, pair: row["b"] as! String)
            if got != Fixtures.ids(row["ids"])! { return XCTFail("pair \(i): \(got) != \(row["ids"]!)") }
        }
    }

    func testDecodeSlicesMatchPython() throws {
        let cases = (try Fixtures.json("decode-cases.json") as! [String: Any])["llama3-style"] as! [[String: Any]]
        for (i, c) in cases.enumerated() {
            let got = Fixtures.llama3Style.decode(Fixtures.ids(c["ids"])!, skipSpecialTokens: c["skip"] as! Bool)
            let want = c["text"] as! String
            if !got.utf8.elementsEqual(want.utf8) {
                return XCTFail("case \(i) \(c["ids"]!): got \(got.debugDescription), Python \(want.debugDescription)")
            }
        }
    }

    /// Builds a variant: the base tokenizer.json with some sections replaced.
    static func variant(_ name: String) throws -> Tokenizer {
        let variants = try Fixtures.json("variants.json") as! [String: [String: Any]]
        var base = try JSONSerialization.jsonObject(with: Fixtures.data("llama3-style/tokenizer.json")) as! [String: Any]
        for (k, v) in variants[name]! { base[k] = v }
        let data = try JSONSerialization.data(withJSONObject: base)
        return try Tokenizer.fromTokenizerJSON(data: data, file: "variant \(name)")
    }

    func checkVariant(_ name: String, bos: UInt32?) throws {
        let stride = (try Fixtures.json("variant-stride.json") as! [String: Any])["stride"] as! Int
        let texts = Swift.stride(from: 0, to: Fixtures.texts.count, by: stride).map { Fixtures.texts[$0] }
        let rows = try Fixtures.jsonLines("expected-variant-\(name).jsonl")
        checkExpectations(try Self.variant(name), texts: texts, rows: rows, bos: bos, label: name)
    }

    func testQwen2StyleVariant() throws { try checkVariant("qwen2-style", bos: nil) }
    func testGPT2RegexWithPrefixSpaceVariant() throws { try checkVariant("gpt2-regex-prefix-space", bos: Self.bos) }
    func testSplitBehaviorsVariant() throws { try checkVariant("split-behaviors", bos: Self.bos) }
    func testSplitRegexFallbackVariant() throws { try checkVariant("split-regex-fallback", bos: Self.bos) }
}
