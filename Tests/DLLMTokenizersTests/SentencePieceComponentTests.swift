import Foundation
import XCTest
@testable import DLLMTokenizers

/// Metaspace, BPE byte fallback and the SentencePiece decoders against the Python
/// `tokenizers` package (Fixtures/sentencepiece.json, from generate_sentencepiece_fixtures.py).
final class SentencePieceComponentTests: XCTestCase {
    // nonisolated(unsafe): parsed JSON (`Any`), never mutated after its one lazy initialisation.
    nonisolated(unsafe) static let fixture = try! Fixtures.json("sentencepiece.json") as! [String: Any]

    func testPipelineVariantsEqualPython() throws {
        let texts = Self.fixture["texts"] as! [String]
        let variants = Self.fixture["variants"] as! [[String: Any]]
        XCTAssertEqual(variants.count, 3)
        for variant in variants {
            let name = variant["name"] as! String
            let json = variant["tokenizer_json"] as! String
            let tok = try Tokenizer.fromTokenizerJSON(data: Data(json.utf8), file: name)
            XCTAssert(tok.preTokenizer is MetaspacePreTokenizer, name)
            XCTAssertTrue(tok.bpe!.byteFallback, name)
            let rows = variant["rows"] as! [[String: Any]]
            XCTAssertEqual(rows.count, texts.count)
            for (text, row) in zip(texts, rows) {
                let want = Fixtures.ids(row["ids"])!
                let got = tok.encode(text)
                XCTAssertEqual(got, want, "\(name) \(text.debugDescription)")
                guard got == want else { continue }
                XCTAssertEqual(tok.decode(got), row["decoded"] as? String, "\(name) decode \(text.debugDescription)")
                XCTAssertEqual(tok.decode(got, skipSpecialTokens: true), row["decoded_skip"] as? String,
                               "\(name) decode(skipSpecialTokens) \(text.debugDescription)")
            }
        }
    }

    func testDecoderChainsEqualPython() {
        let chains = Self.fixture["decoder_chains"] as! [[String: Any]]
        XCTAssertGreaterThan(chains.count, 10)
        for c in chains {
            var decoders: [TokenDecoder] = [ReplaceDecoder(pattern: "\u{2581}", content: " "), ByteFallbackDecoder(), FuseDecoder()]
            if c["strip"] as! Bool { decoders.append(StripDecoder(content: " ", start: 1, stop: 0)) }
            let tokens = c["tokens"] as! [String]
            XCTAssertEqual(SequenceDecoder(decoders: decoders).decode(tokens), c["decoded"] as? String, "\(tokens)")
        }
        for c in Self.fixture["strip_cases"] as! [[String: Any]] {
            let token = c["token"] as! String
            XCTAssertEqual(StripDecoder(content: "x", start: 2, stop: 1).decode([token]), c["decoded"] as? String, token)
        }
    }
}
