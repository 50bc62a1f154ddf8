import DLLMGGUF
@testable import DLLMImport
import DLLMTokenizers
import Foundation
import XCTest

/// Bad tokenizer metadata gives a typed error naming the key; small valid metadata converts.
final class GGUFTokenizerErrorTests: XCTestCase {
    /// A four-token byte-level BPE: "a", "b", "ab", "Ġ" and the merge "a b".
    func tinyMetadata(dropping dropped: Set<String> = [], replacing replaced: [String: GGUFValue] = [:]) -> GGUFMetadata {
        let entries: [(String, GGUFValue)] = [
            ("general.architecture", .string("llama")),
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string("smollm")),
            ("tokenizer.ggml.tokens", .array(["<|endoftext|>", "a", "b", "ab", "Ġ"].map { .string($0) })),
            ("tokenizer.ggml.token_type", .array([3, 1, 1, 1, 1].map { .int32($0) })),
            ("tokenizer.ggml.merges", .array([.string("a b")])),
            ("tokenizer.ggml.bos_token_id", .uint32(0)),
            ("tokenizer.ggml.eos_token_id", .uint32(0)),
        ]
        var m = GGUFMetadata()
        for (key, value) in entries where !dropped.contains(key) { m.append(key, replaced[key] ?? value) }
        for (key, value) in replaced where m[key] == nil { m.append(key, value) }
        return m
    }

    func expectError(_ metadata: GGUFMetadata, _ expected: GGUFTokenizerError, mentioning words: [String],
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try GGUFTokenizerImport.convert(metadata, source: "tiny.gguf"), file: file, line: line) { error in
            XCTAssertEqual(error as? GGUFTokenizerError, expected, file: file, line: line)
            let text = "\(error)"
            for w in words + ["tiny.gguf"] { XCTAssert(text.contains(w), "\(text) lacks \(w)", file: file, line: line) }
        }
    }

    func testTinyMetadataConverts() throws {
        let imported = try GGUFTokenizerImport.convert(tinyMetadata(), source: "tiny.gguf")
        let tok = try imported.makeTokenizer()
        XCTAssertEqual(tok.encode("abab a"), [3, 3, 4, 1])
        XCTAssertEqual(tok.decode([3, 3, 4, 1]), "abab a")
        XCTAssertEqual(imported.bosToken, .init(content: "<|endoftext|>", id: 0))
        XCTAssertFalse(imported.addsBOSToken)
        XCTAssertEqual(imported.addedTokens.map(\.content), ["<|endoftext|>"])
        XCTAssertEqual(imported.vocabularySize, 5)
    }

    /// A token outside the byte-level alphabet is respelled byte by byte; BOS is added when asked.
    func testRespellingAndBOS() throws {
        let m = tinyMetadata(replacing: [
            "tokenizer.ggml.tokens": .array(["<|endoftext|>", "a", "b", "ab", "a b", "Ġ"].map { .string($0) }),
            "tokenizer.ggml.token_type": .array([3, 1, 1, 1, 1, 1].map { .int32($0) }),
            "tokenizer.ggml.add_bos_token": .bool(true),
        ])
        let imported = try GGUFTokenizerImport.convert(m, source: "tiny.gguf")
        let tok = try imported.makeTokenizer()
        XCTAssertEqual(tok.tokenToId("aĠb"), 4)
        XCTAssertNil(tok.tokenToId("a b"))
        XCTAssertEqual(tok.encode("ab"), [0, 3])
        XCTAssertEqual(tok.encode("ab", addSpecialTokens: false), [3])
    }

    func testUnsupportedTokenizerModel() {
        expectError(tinyMetadata(replacing: ["tokenizer.ggml.model": .string("t5")]),
                    .unsupportedModel(model: "t5", source: "tiny.gguf"), mentioning: ["'t5'", "gpt2", "llama"])
        expectError(tinyMetadata(replacing: ["tokenizer.ggml.model": .string("bert")]),
                    .unsupportedModel(model: "bert", source: "tiny.gguf"), mentioning: ["'bert'"])
    }

    /// Gemma's and Phi-3's SentencePiece vocabularies get their own builders in transformers.
    func testUnsupportedSentencePieceArchitecture() {
        expectError(tinyMetadata(replacing: ["tokenizer.ggml.model": .string("llama"), "general.architecture": .string("gemma2")]),
                    .unsupportedArchitecture(architecture: "gemma2", model: "llama", source: "tiny.gguf"), mentioning: ["'gemma2'"])
    }

    /// A SentencePiece vocabulary with neither merges nor scores to derive them from.
    func testSentencePieceWithoutMergesOrScores() {
        expectError(tinyMetadata(dropping: ["tokenizer.ggml.merges"], replacing: ["tokenizer.ggml.model": .string("llama")]),
                    .missingKey(key: "tokenizer.ggml.merges or tokenizer.ggml.scores", source: "tiny.gguf"),
                    mentioning: ["tokenizer.ggml.scores"])
    }

    func testScoresOfWrongTypeOrLength() {
        expectError(tinyMetadata(replacing: ["tokenizer.ggml.scores": .array([.string("x")])]),
                    .wrongType(key: "tokenizer.ggml.scores", expected: "ARRAY of FLOAT32", found: "ARRAY of STRING", source: "tiny.gguf"),
                    mentioning: ["tokenizer.ggml.scores"])
        expectError(tinyMetadata(replacing: ["tokenizer.ggml.scores": .array([.float32(0)])]),
                    .lengthMismatch(key: "tokenizer.ggml.scores", count: 1, expected: 5, source: "tiny.gguf"),
                    mentioning: ["tokenizer.ggml.scores"])
    }

    func testMissingModelKey() {
        expectError(tinyMetadata(dropping: ["tokenizer.ggml.model"]),
                    .missingKey(key: "tokenizer.ggml.model", source: "tiny.gguf"), mentioning: ["tokenizer.ggml.model"])
    }

    func testMissingTokens() {
        expectError(tinyMetadata(dropping: ["tokenizer.ggml.tokens"]),
                    .missingKey(key: "tokenizer.ggml.tokens", source: "tiny.gguf"), mentioning: ["tokenizer.ggml.tokens"])
    }

    func testMissingMerges() {
        expectError(tinyMetadata(dropping: ["tokenizer.ggml.merges"]),
                    .missingKey(key: "tokenizer.ggml.merges", source: "tiny.gguf"), mentioning: ["tokenizer.ggml.merges"])
    }

    func testMergesOfWrongType() {
        expectError(tinyMetadata(replacing: ["tokenizer.ggml.merges": .array([.int32(1), .int32(2)])]),
                    .wrongType(key: "tokenizer.ggml.merges", expected: "ARRAY of STRING", found: "ARRAY of INT32", source: "tiny.gguf"),
                    mentioning: ["tokenizer.ggml.merges", "INT32"])
        expectError(tinyMetadata(replacing: ["tokenizer.ggml.merges": .string("a b")]),
                    .wrongType(key: "tokenizer.ggml.merges", expected: "ARRAY of STRING", found: "STRING", source: "tiny.gguf"),
                    mentioning: ["tokenizer.ggml.merges"])
    }

    func testBOSTokenIdOutOfRange() {
        expectError(tinyMetadata(replacing: ["tokenizer.ggml.bos_token_id": .uint32(5)]),
                    .tokenIdOutOfRange(key: "tokenizer.ggml.bos_token_id", id: 5, vocabularySize: 5, source: "tiny.gguf"),
                    mentioning: ["tokenizer.ggml.bos_token_id", "5"])
        expectError(tinyMetadata(replacing: ["tokenizer.ggml.bos_token_id": .int32(-1)]),
                    .tokenIdOutOfRange(key: "tokenizer.ggml.bos_token_id", id: -1, vocabularySize: 5, source: "tiny.gguf"),
                    mentioning: ["tokenizer.ggml.bos_token_id"])
    }

    func testIllTypedScalars() {
        expectError(tinyMetadata(replacing: ["tokenizer.ggml.eos_token_id": .string("2")]),
                    .wrongType(key: "tokenizer.ggml.eos_token_id", expected: "an integer", found: "STRING", source: "tiny.gguf"),
                    mentioning: ["tokenizer.ggml.eos_token_id"])
        expectError(tinyMetadata(replacing: ["tokenizer.ggml.add_bos_token": .uint8(1)]),
                    .wrongType(key: "tokenizer.ggml.add_bos_token", expected: "BOOL", found: "UINT8", source: "tiny.gguf"),
                    mentioning: ["tokenizer.ggml.add_bos_token"])
        expectError(tinyMetadata(replacing: ["tokenizer.chat_template": .bool(true)]),
                    .wrongType(key: "tokenizer.chat_template", expected: "STRING", found: "BOOL", source: "tiny.gguf"),
                    mentioning: ["tokenizer.chat_template"])
    }

    func testTokenTypeLengthMismatch() {
        expectError(tinyMetadata(replacing: ["tokenizer.ggml.token_type": .array([.int32(1)])]),
                    .lengthMismatch(key: "tokenizer.ggml.token_type", count: 1, expected: 5, source: "tiny.gguf"),
                    mentioning: ["tokenizer.ggml.token_type"])
    }

    func testMalformedMerges() {
        expectError(tinyMetadata(replacing: ["tokenizer.ggml.merges": .array([.string("a b"), .string("ab")])]),
                    .malformedMerge(index: 1, merge: "ab", source: "tiny.gguf"), mentioning: ["merges[1]"])
        expectError(tinyMetadata(replacing: ["tokenizer.ggml.merges": .array([.string("a  b")])]),
                    .malformedMerge(index: 0, merge: "a  b", source: "tiny.gguf"), mentioning: ["merges[0]"])
    }

    /// A merge whose part is not a token: the BPE model is invalid, named as such.
    func testMergeOutsideVocabulary() {
        let m = tinyMetadata(replacing: ["tokenizer.ggml.merges": .array([.string("a c")])])
        XCTAssertThrowsError(try GGUFTokenizerImport.convert(m, source: "tiny.gguf")) { error in
            guard case .invalidTokenizer(let detail, "tiny.gguf") = error as? GGUFTokenizerError else {
                return XCTFail("\(error)")
            }
            XCTAssert(detail.contains("'c'"), detail)
        }
    }
}
