import Foundation
import XCTest
@testable import DLLMTokenizers

/// `BPETrainer` against the Python trainer on the committed corpus.
final class TrainerTests: XCTestCase {
    // nonisolated(unsafe): parsed JSON (`Any`), never mutated after its one lazy initialisation.
    nonisolated(unsafe) static let config = try! Fixtures.json("trainer/config.json") as! [String: Any]

    static let swiftTrained: BPETrainer.Result = {
        let trainer = BPETrainer(vocabSize: (config["vocab_size"] as! NSNumber).intValue,
                                 minFrequency: (config["min_frequency"] as! NSNumber).intValue,
                                 specialTokens: config["special_tokens"] as! [String])
        try! trainer.feed(files: [Fixtures.path("trainer/corpus.txt")])
        return try! trainer.train()
    }()

    func testVocabularyAndMergesEqualPythonTrainer() throws {
        let python = try Tokenizer.load(from: Fixtures.path("trainer/python-trained"))
        let result = Self.swiftTrained
        XCTAssertEqual(result.vocab, python.bpe!.vocabulary)
        let pythonMerges = python.bpe!.mergeList.map { (python.model.idToToken($0.0)!, python.model.idToToken($0.1)!) }
        XCTAssertEqual(result.merges.count, pythonMerges.count)
        for (i, (a, b)) in zip(result.merges, pythonMerges).enumerated() where a != b {
            return XCTFail("merge \(i): Swift \(a), Python \(b)")
        }
    }

    func testTrainedTokenizersEncodeLikePython() throws {
        let rows = try Fixtures.jsonLines("trainer/expected-python-trained.jsonl")
        let stride = (Self.config["text_stride"] as! NSNumber).intValue
        let texts = Swift.stride(from: 0, to: Fixtures.texts.count, by: stride).map { Fixtures.texts[$0] }
        let python = try Tokenizer.load(from: Fixtures.path("trainer/python-trained"))
        let swift = try Tokenizer.fromTokenizerJSON(data: Data(Self.swiftTrained.tokenizerJSON().utf8), file: "swift-trained")
        for (i, (text, row)) in zip(texts, rows).enumerated() {
            let want = Fixtures.ids(row["ids"])!
            if python.encode(text) != want { return XCTFail("line \(i): Python-trained file in Swift: \(python.encode(text)) != \(want)") }
            if swift.encode(text) != want { return XCTFail("line \(i): Swift-trained: \(swift.encode(text)) != \(want)") }
            if swift.decode(want) != text { return XCTFail("line \(i): decode \(swift.decode(want).debugDescription)") }
        }
    }

    func testSaveWritesLoadableFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-trainer-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.swiftTrained.save(to: dir)
        let tok = try Tokenizer.load(from: dir)
        XCTAssertEqual(tok.tokenToId("<|endoftext|>"), 0)
        XCTAssertEqual(tok.encode("<|endoftext|>"), [0])
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/tokenizer_config.json"))
    }

    func testMinFrequencyStopsEarlyAndZeroVocabIsAnError() throws {
        let t = BPETrainer(vocabSize: 1000, minFrequency: 3)
        t.feed(text: "aaab aaab ab\n")
        let r = try t.train()
        XCTAssertEqual(r.merges.first.map { [$0.0, $0.1] }, ["a", "a"])
        XCTAssertTrue(r.merges.count <= 3)
        XCTAssertThrowsError(try BPETrainer(vocabSize: 0).train())
    }
}
