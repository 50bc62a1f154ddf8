import DLLMTokenizers
import DLLMData
import XCTest

final class PretrainingGroupingTests: XCTestCase {
    let tokenizer = WordTokenizer(words: ["a", "b", "c", "d", "e", "f", "g"])

    func dataset(_ texts: [String]) -> Dataset {
        Dataset(rows: texts.enumerated().map { DataRow(["text": .string($1)], origin: RowOrigin(file: "mem", line: $0 + 1, row: $0)) },
                source: "mem")
    }

    func testGroupingConcatenatesAndCutsFixedChunks() throws {
        let t = tokenizer
        let (seqs, stats) = try PretrainingGrouping.tokenizeAndGroup(
            dataset(["a b c", "d e", "f g a b"]), tokenizer: t,
            options: GroupingOptions(sequenceLength: 4, insertEOS: false, dropTail: true))
        XCTAssertEqual(seqs, [t.ids("a b c d"), t.ids("e f g a")])
        XCTAssertEqual(stats.droppedTailTokens, 1)
        XCTAssertEqual(stats.tokens, 8)
        XCTAssertEqual(stats.sequences, 2)
    }

    func testEOSInsertedBetweenDocumentsButNotDoubled() throws {
        let t = tokenizer
        let (seqs, stats) = try PretrainingGrouping.tokenizeAndGroup(
            dataset(["a b", "c <eos>", "d"]), tokenizer: t,
            options: GroupingOptions(sequenceLength: 3, insertEOS: true, dropTail: false))
        // a b EOS | c EOS d | EOS
        XCTAssertEqual(seqs, [[t.id("a"), t.id("b"), 2], [t.id("c"), 2, t.id("d")], [2]])
        XCTAssertEqual(stats.eosInserted, 2)
    }

    func testDropTailOffKeepsShortLastChunkUnpadded() throws {
        let t = tokenizer
        let options = GroupingOptions(sequenceLength: 4, insertEOS: false, dropTail: false)
        let (seqs, stats) = try PretrainingGrouping.tokenizeAndGroup(dataset(["a b c d e f"]), tokenizer: t, options: options)
        XCTAssertEqual(seqs.map(\.count), [4, 2])
        XCTAssertEqual(stats.droppedTailTokens, 0)
        // The collator pads the short row with the pad token and -100 labels, masking it out.
        let batch = BatchCollator.pretraining(padTokenID: 0).collate(sequences: seqs)
        XCTAssertEqual(Array(batch.inputRow(1)), t.ids("e f") + [0, 0])
        XCTAssertEqual(Array(batch.labelRow(1)), t.ids("e f") + [-100, -100])
        XCTAssertEqual(batch.attentionMask, [1, 1, 1, 1, 1, 1, 0, 0])
    }

    func testTailsAreCutPerMapBatchLikeDatasetsMap() throws {
        let docs = dataset(["a b c", "d e f", "g a b"])
        let perBatch = try PretrainingGrouping.tokenizeAndGroup(
            docs, tokenizer: tokenizer, options: GroupingOptions(sequenceLength: 4, insertEOS: false, dropTail: true, mapBatchSize: 2))
        // Batch 1 (a b c d e f) gives one chunk and drops e f; batch 2 (g a b) is all tail.
        XCTAssertEqual(perBatch.sequences, [tokenizer.ids("a b c d")])
        XCTAssertEqual(perBatch.stats.droppedTailTokens, 5)
        let whole = try PretrainingGrouping.tokenizeAndGroup(
            docs, tokenizer: tokenizer, options: GroupingOptions(sequenceLength: 4, insertEOS: false, dropTail: true, mapBatchSize: nil))
        XCTAssertEqual(whole.sequences, [tokenizer.ids("a b c d"), tokenizer.ids("e f g a")])
        XCTAssertEqual(whole.stats.droppedTailTokens, 1)
    }

    func testEmptyDocumentsAreSkippedAndCounted() throws {
        let (seqs, stats) = try PretrainingGrouping.tokenizeAndGroup(
            dataset(["a", "", "b", ""]), tokenizer: tokenizer,
            options: GroupingOptions(sequenceLength: 2, insertEOS: true, dropTail: true))
        XCTAssertEqual(stats.emptyDocumentsSkipped, 2)
        XCTAssertEqual(stats.documents, 2)
        XCTAssertEqual(seqs, [[tokenizer.id("a"), 2], [tokenizer.id("b"), 2]])
    }

    func testMissingTextFieldAndBadParameters() {
        let rows = Dataset(rows: [DataRow(["content": .string("x")], origin: RowOrigin(file: "c4.jsonl", line: 7, row: 0))], source: "c4")
        assertThrows(["'text'", "c4.jsonl:7"]) {
            _ = try PretrainingGrouping.tokenizeAndGroup(rows, tokenizer: self.tokenizer, options: GroupingOptions(sequenceLength: 4))
        }
        assertThrows(["max_length = 0"]) {
            _ = try PretrainingGrouping.tokenizeAndGroup(rows, tokenizer: self.tokenizer, options: GroupingOptions(sequenceLength: 0))
        }
        struct NoEOS: TextTokenizer {
            func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] { [1] }
            var eosTokenID: Int32? { nil }
            var bosTokenID: Int32? { nil }
            var padTokenID: Int32? { nil }
            func renderChat(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String { "" }
        }
        assertThrows(["no EOS token", "insert_eos"]) {
            _ = try PretrainingGrouping.tokenizeAndGroup(self.dataset(["a"]), tokenizer: NoEOS(), options: GroupingOptions(sequenceLength: 4))
        }
    }

    func testByteLevelTokenizerRoundTrip() {
        let t = ByteLevelTokenizer()
        XCTAssertEqual(t.encode("hé", addSpecialTokens: true), [257, 104, 195, 169])
        XCTAssertEqual(t.decode(t.encode("hé ✓", addSpecialTokens: true) + [256]), "hé ✓")
        XCTAssertEqual(t.effectivePadTokenID, 256)
    }
}
