import Foundation
import XCTest
@testable import DLLMTokenizers

/// Loading errors: each names the offending type or field and the file.
final class LoaderErrorTests: XCTestCase {
    static let byteLevel = #"{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}"#

    func tokenizerJSON(normalizer: String = "null", preTokenizer: String = byteLevel, decoder: String = byteLevel,
                       model: String = #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}"#) -> Data {
        Data(#"{"version": "1.0", "added_tokens": [], "normalizer": \#(normalizer), "pre_tokenizer": \#(preTokenizer), "post_processor": null, "decoder": \#(decoder), "model": \#(model)}"#.utf8)
    }

    func assertError(_ data: Data, file: String = "t.json", _ check: (TokenizerError) -> Bool,
                     line: UInt = #line) {
        XCTAssertThrowsError(try Tokenizer.fromTokenizerJSON(data: data, file: file), line: line) { e in
            guard let e = e as? TokenizerError else { return XCTFail("not a TokenizerError: \(e)", line: line) }
            XCTAssertTrue(check(e), "unexpected \(e)", line: line)
            XCTAssertTrue(e.description.contains(file), "message lacks the file: \(e)", line: line)
            XCTAssertTrue(e.description.contains("Hint"), line: line)
        }
    }

    func testMinimalTokenizerLoads() throws {
        let tok = try Tokenizer.fromTokenizerJSON(data: tokenizerJSON(), file: "t.json")
        XCTAssertEqual(tok.encode("abab"), [2, 2])
        XCTAssertEqual(tok.decode([2, 0]), "aba")
    }

    func testUnsupportedComponentTypesNameTypeAndFile() {
        assertError(tokenizerJSON(normalizer: #"{"type": "Lowercase"}"#)) {
            if case .unsupportedComponent("normalizer", "Lowercase", "t.json") = $0 { return true } else { return false }
        }
        assertError(tokenizerJSON(preTokenizer: #"{"type": "Whitespace"}"#)) {
            if case .unsupportedComponent("pre-tokenizer", "Whitespace", _) = $0 { return true } else { return false }
        }
        assertError(tokenizerJSON(decoder: #"{"type": "CTC"}"#)) {
            if case .unsupportedComponent("decoder", "CTC", _) = $0 { return true } else { return false }
        }
        assertError(tokenizerJSON(model: #"{"type": "WordPiece", "vocab": {"a": 0}, "unk_token": "[UNK]"}"#)) {
            if case .malformedJSON("t.json", let detail) = $0 { return detail.contains("[UNK]") } else { return false }
        }
        assertError(tokenizerJSON(model: #"{"type": "WordPiece", "vocab": {"[UNK]": 0}, "max_input_chars_per_word": -1}"#)) {
            if case .malformedJSON("t.json", let detail) = $0 { return detail.contains("max_input_chars_per_word") } else { return false }
        }
        assertError(tokenizerJSON(model: #"{"type": "Unigram", "vocab": []}"#)) {
            if case .unsupportedComponent("model", "Unigram", _) = $0 { return true } else { return false }
        }
        assertError(tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": 0}, "merges": [], "end_of_word_suffix": "</w>"}"#)) {
            if case .unsupportedOption("BPE", _, _) = $0 { return true } else { return false }
        }
    }

    func testMalformedJSON() {
        assertError(Data(#"{"model": {"type": "BPE", "vocab": {"a": 0}"#.utf8)) {
            if case .malformedJSON = $0 { return true } else { return false }
        }
        assertError(Data("[1, 2]".utf8)) { if case .malformedJSON = $0 { return true } else { return false } }
    }

    func testMissingOrBadMerges() {
        assertError(tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": 0}}"#)) {
            if case .missingField("model.merges", _) = $0 { return true } else { return false }
        }
        assertError(tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a c"]}"#)) {
            if case .mergeTokenNotInVocabulary("c", _) = $0 { return true } else { return false }
        }
        assertError(tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b c"]}"#)) {
            if case .badMergesLine(1, _) = $0 { return true } else { return false }
        }
    }

    func testMissingFilesAndFolders() throws {
        XCTAssertThrowsError(try Tokenizer.load(from: "/nonexistent/tokenizer.json")) {
            XCTAssertEqual($0 as? TokenizerError, .fileNotFound(path: "/nonexistent/tokenizer.json"))
        }
        // A folder with vocab.json but no merges.txt.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-nomerges-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"a": 0}"#.utf8).write(to: dir.appendingPathComponent("vocab.json"))
        XCTAssertThrowsError(try Tokenizer.load(from: dir.path)) {
            guard case TokenizerError.fileNotFound = $0 else { return XCTFail("\($0)") }
        }
    }

    func testBadSplitRegex() {
        let pre = #"{"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated", "invert": false}"#
        assertError(tokenizerJSON(preTokenizer: pre)) { if case .badRegex = $0 { return true } else { return false } }
    }
}
