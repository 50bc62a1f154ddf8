import DLLMGGUF
import DLLMJSON
@testable import DLLMImport
@testable import DLLMTokenizers
import Foundation
import XCTest

/// Small GGUF tokenizers (a byte-level BPE trained by the fixture script) whose
/// transformers results are committed: regex pre-tokenizers, BOS/EOS, added tokens.
final class GGUFTokenizerSyntheticTests: XCTestCase {
    // nonisolated(unsafe): parsed JSON (`Any`), never mutated after its one lazy initialisation.
    nonisolated(unsafe) static let fixture = try! GGUFTokenizerFixtures.json("gguf-tokenizer-synthetic.json")

    /// The case's metadata with its base (vocabulary, types, merges, scores) put back in front.
    static func metadata(_ record: [String: Any]) -> GGUFMetadata {
        var entries = record["metadata"] as! [String: Any]
        let base = (fixture["bases"] as! [String: Any])[record["base"] as! String] as! [String: Any]
        for (key, baseKey) in [("tokenizer.ggml.tokens", "tokens"), ("tokenizer.ggml.token_type", "token_type"),
                               ("tokenizer.ggml.merges", "merges"), ("tokenizer.ggml.scores", "scores")] {
            guard var entry = entries[key] as? [Any] else { continue }
            entry[1] = (base[baseKey] as! [Any]) + (entry[1] as! [Any])
            entries[key] = entry
        }
        return GGUFTokenizerFixtures.metadata(entries)
    }

    func record(_ name: String) -> [String: Any] {
        (Self.fixture["cases"] as! [[String: Any]]).first { $0["name"] as? String == name }!
    }

    func check(_ name: String) throws -> ImportedTokenizer {
        let r = record(name)
        let imported = try GGUFTokenizerImport.convert(Self.metadata(r), source: name)
        try checkAgainstTransformers(imported, record: r, label: name)
        let pair = r["pair"] as! [String: Any]
        let tok = try imported.makeTokenizer()
        XCTAssertEqual(tok.encode(pair["a"] as! String, pair: pair["b"] as! String), GGUFTokenizerFixtures.ids(pair["ids"]!),
                       "\(name): pair encoding")
        return imported
    }

    /// LLaMA-3's regex, BOS added, a USER_DEFINED token, a CONTROL token with a space
    /// (skipped), and no `<|endoftext|>` in the vocabulary (transformers appends it).
    func testLlamaBPEPreTokenizerWithBOS() throws {
        let imported = try check("llama-bpe")
        XCTAssertTrue(imported.addsBOSToken)
        XCTAssertFalse(imported.addsEOSToken)
        XCTAssertTrue(imported.tokenizerJSON.contains(#""type": "Split""#))
    }

    /// Qwen2's regex (single digits) and EOS added after every sequence.
    func testQwen2PreTokenizerWithEOS() throws {
        let imported = try check("qwen2")
        XCTAssertFalse(imported.addsBOSToken)
        XCTAssertTrue(imported.addsEOSToken)
    }

    /// A `tokenizer.ggml.pre` transformers does not know: GPT-2's ByteLevel regex.
    func testUnknownPreKeepsByteLevel() throws {
        let imported = try check("default-pre")
        XCTAssertFalse(imported.tokenizerJSON.contains(#""type": "Split""#))
    }

    /// SentencePiece (`tokenizer.ggml.model` "llama"): merges derived from the scores,
    /// byte fallback, `Metaspace`, BOS added by default.
    func testSentencePieceMergesFromScores() throws {
        let imported = try check("spm-scores")
        XCTAssertTrue(imported.addsBOSToken)
        XCTAssertTrue(imported.tokenizerJSON.contains(#""byte_fallback": true"#))
    }

    /// The merges derived from a SentencePiece vocabulary's scores, in full, equal
    /// transformers' `generate_merges` (ties included).
    func testMergesDerivedFromScoresEqualTransformers() throws {
        let r = record("spm-scores")
        let keys = try GGUFTokenizerMetadata(Self.metadata(r), source: "spm-scores")
        XCTAssertNil(keys.merges)
        var vocabIds: [[UInt8]: UInt32] = [:]
        for (i, t) in keys.tokens.enumerated() { vocabIds[Array(t.utf8)] = UInt32(i) }
        let derived = GGUFTokenizerImport.mergesFromScores(tokens: keys.tokens, scores: keys.scores!, vocabIds: vocabIds)
        let want = r["derived_merges"] as! [String]
        XCTAssertGreaterThan(want.count, 100)
        XCTAssertEqual(derived.map { "\($0.0) \($0.1)" }, want)
    }

    /// SentencePiece with the file's merges, EOS added and BOS not.
    func testSentencePieceFileMerges() throws {
        let imported = try check("spm-merges")
        XCTAssertFalse(imported.addsBOSToken)
        XCTAssertTrue(imported.addsEOSToken)
    }

    /// `write(to:)` writes files that load back to the same tokenizer, chat template included.
    func testWrittenFolderLoadsBack() throws {
        let r = record("qwen2")
        var entries = Self.metadata(r)
        entries.append("tokenizer.chat_template", .string("{% for m in messages %}{{ m['content'] }}{% endfor %}"))
        let imported = try GGUFTokenizerImport.convert(entries, source: "qwen2")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-gguf-tok-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try imported.write(to: dir)
        let loaded = try Tokenizer.load(from: dir.path)
        let memory = try imported.makeTokenizer()
        for text in r["texts"] as! [String] {
            XCTAssertEqual(loaded.encode(text), memory.encode(text), text.debugDescription)
        }
        let config = try GGUFTokenizerFixtures.any(JSONParser.parse(
            Data(contentsOf: dir.appendingPathComponent("tokenizer_config.json")))) as! [String: Any]
        XCTAssertEqual(config["chat_template"] as? String, "{% for m in messages %}{{ m['content'] }}{% endfor %}")
        XCTAssertEqual(config["eos_token"] as? String, "<|im_end|>")
    }
}
