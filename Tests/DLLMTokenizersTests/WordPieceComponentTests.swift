@testable import DLLMTokenizers
import XCTest

/// The WordPiece stages on a hand-made vocabulary (the real all-MiniLM-L6-v2 tokenizer is
/// compared with `tokenizers` in DLLMImportTests/MiniLMParityTests).
final class WordPieceComponentTests: XCTestCase {
    func model(maxChars: Int = 100) throws -> WordPieceModel {
        let tokens = ["[UNK]", "un", "##aff", "##able", "a", "##ff", "aff", "##a", "##b", "able"]
        return try WordPieceModel(vocab: tokens.enumerated().map { ($1, UInt32($0)) }, maxInputCharsPerWord: maxChars)
    }

    func ids(_ m: WordPieceModel, _ word: String) -> [UInt32] {
        var out: [UInt32] = []
        m.tokenize(Substring(word), byteMode: false, into: &out)
        return out
    }

    func testGreedyLongestMatchFromTheLeft() throws {
        let m = try model()
        XCTAssertEqual(ids(m, "unaffable"), [1, 2, 3])   // un ##aff ##able
        XCTAssertEqual(ids(m, "affab"), [6, 7, 8])       // aff ##a ##b: the longest first piece wins
        XCTAssertEqual(ids(m, "unz"), [0])               // a remainder no piece matches: the whole word is [UNK]
        XCTAssertEqual(try ids(model(maxChars: 8), "unaffable"), [0])  // 9 characters > 8
        XCTAssertEqual(try ids(model(maxChars: 9), "unaffable"), [1, 2, 3])
    }

    func testNormalizerAndPreTokenizer() {
        let n = BertNormalizer()
        XCTAssertEqual(n.normalize("Héllo\tΣΑΣ 中文\u{200B}x\u{0}"), "hello σασ  中  文 x")
        XCTAssertEqual(BertNormalizer(stripAccents: false, lowercase: true).normalize("Café"), "café")
        XCTAssertEqual(BertPreTokenizer().preTokenize(["don't  stop,now"]).map(String.init), ["don", "'", "t", "stop", ",", "now"])
    }

    func testDecoderGluesContinuationsAndCleansPunctuation() {
        let d = WordPieceDecoder()
        XCTAssertEqual(d.decode(["un", "##aff", "##able", ",", "isn", "'", "t", "it", "?"]), "unaffable, isn ' t it?")
        XCTAssertEqual(d.decode(["द", "##ि"]), "दि")  // "##" before a combining sign is still the prefix
    }
}
