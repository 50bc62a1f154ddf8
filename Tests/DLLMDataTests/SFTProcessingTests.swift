import DLLMTokenizers
import DLLMData
import XCTest

final class SFTProcessingTests: XCTestCase {
    let t = WordTokenizer(words: ["what", "is", "two", "plus", "four", "hi", "say", "Add", "1", "2", "3", "x"])
    let origin = RowOrigin(file: "sft.jsonl", line: 1, row: 0)

    func testAlpacaRowBecomesUserAndAssistantTurns() throws {
        let row = DataRow(["instruction": .string("  Add "), "input": .string(" 1 2\n"), "output": .string(" 3 ")], origin: origin)
        XCTAssertEqual(try SFTProcessing.messages(of: row), [
            ChatMessage(role: "user", content: "Add\n\n1 2"), ChatMessage(role: "assistant", content: "3"),
        ])
        let noInput = DataRow(["instruction": .string("say hi"), "input": .string(""), "output": .string("hi")], origin: origin)
        XCTAssertEqual(try SFTProcessing.messages(of: noInput).first?.content, "say hi")
        let missing = DataRow(["instruction": .string("say hi")], origin: RowOrigin(file: "a.json", line: 4, row: 1))
        assertThrows(["'output'", "a.json:4"]) { _ = try SFTProcessing.messages(of: missing) }
        let neither = DataRow(["question": .string("?")], origin: origin)
        assertThrows(["'messages'", "question"]) { _ = try SFTProcessing.messages(of: neither) }
    }

    func testPromptMaskingLabelsPromptWithMinus100() throws {
        let messages = [ChatMessage(role: "user", content: "what is two plus two"), ChatMessage(role: "assistant", content: "four")]
        let ex = try SFTProcessing.example(messages: messages, tokenizer: t, maskPromptLoss: true, origin: origin)
        let full = t.ids("<|user|> what is two plus two <|end|> <|assistant|> four <|end|>")
        XCTAssertEqual(ex.inputIDs, full)
        XCTAssertEqual(ex.promptLength, 8)  // through the generation prompt
        XCTAssertEqual(ex.labels, Array(repeating: -100, count: 8) + t.ids("four <|end|>"))
        let unmasked = try SFTProcessing.example(messages: messages, tokenizer: t, maskPromptLoss: false, origin: origin)
        XCTAssertEqual(unmasked.labels, full)
        XCTAssertNil(unmasked.promptLength)
    }

    func testMultiTurnMasksAllButLastAnswer() throws {
        let messages = [
            ChatMessage(role: "user", content: "say hi"), ChatMessage(role: "assistant", content: "hi"),
            ChatMessage(role: "user", content: "say x"), ChatMessage(role: "assistant", content: "x"),
        ]
        let ex = try SFTProcessing.example(messages: messages, tokenizer: t, maskPromptLoss: true, origin: origin)
        XCTAssertEqual(ex.labels.filter { $0 != -100 }, t.ids("x <|end|>"))
        assertThrows(["needs at least a prompt turn"]) {
            _ = try SFTProcessing.example(messages: [messages[0]], tokenizer: self.t, maskPromptLoss: true, origin: self.origin)
        }
    }

    func testMessagesRowsAndBadConversations() throws {
        let row = DataRow(["messages": .list([
            .object(["role": .string("user"), "content": .string("say hi")]),
            .object(["role": .string("assistant"), "content": .string("hi")]),
        ])], origin: origin)
        let examples = try SFTProcessing.examples(Dataset(rows: [row], source: "m"), tokenizer: t)
        XCTAssertEqual(examples.count, 1)
        let bad = DataRow(["messages": .list([.object(["content": .string("x")])])], origin: origin)
        assertThrows(["sft.jsonl:1", "lacks a string \"role\""]) { _ = try SFTProcessing.messages(of: bad) }
    }

    func example(_ n: Int, prompt: Int) -> SFTExample {
        let ids = (0..<n).map { Int32(100 + $0) }
        return SFTExample(inputIDs: ids, labels: ids.enumerated().map { $0.offset < prompt ? -100 : $0.element }, promptLength: prompt)
    }

    func testTruncationRightCutsAndDropsOverlongPrompts() throws {
        let (kept, stats) = try SFTProcessing.postProcess([example(10, prompt: 3), example(4, prompt: 2), example(9, prompt: 7)],
                                                          maxLength: 6, truncation: .right)
        XCTAssertEqual(kept.map(\.inputIDs.count), [6, 4])
        XCTAssertEqual(kept[0].labels.count, 6)
        XCTAssertEqual(stats, .init(kept: 2, dropped: 1, truncated: 1))
    }

    func testTruncationFilterDropsLongRows() throws {
        let (kept, stats) = try SFTProcessing.postProcess([example(10, prompt: 3), example(6, prompt: 2), example(2, prompt: 1)],
                                                          maxLength: 6, truncation: .filter)
        XCTAssertEqual(kept.map(\.inputIDs.count), [6, 2])
        XCTAssertEqual(stats.dropped, 1)
        XCTAssertEqual(stats.truncated, 0)
    }

    func testPreprocessedRowsFromArrow() throws {
        let rows = try DatasetLoader.load("\(fixtures)/arrow_dataset").split("train").rows
        let first = try SFTProcessing.preprocessedExamples(Dataset(rows: [rows[0]], source: "a"))
        XCTAssertEqual(first, [SFTExample(inputIDs: [1, 2, 3], labels: [-100, 2, 3], promptLength: nil)])
        // Row 2 has null input_ids; row 4 has labels of another length.
        assertThrows(["'input_ids'", "null", "row 2"]) { _ = try SFTProcessing.preprocessedExamples(Dataset(rows: [rows[2]], source: "a")) }
        assertThrows(["'labels'", "as long as input_ids (9)"]) {
            _ = try SFTProcessing.preprocessedExamples(Dataset(rows: [rows[4]], source: "a"))
        }
    }

    func testLLaDACollatorPadsWithEOSAsVisibleAnswerTokens() throws {
        let noPad = WordTokenizer(words: ["a"], hasPad: false)
        let pad = try XCTUnwrap(noPad.effectivePadTokenID)
        XCTAssertEqual(pad, 2)  // EOS stands in for the missing pad token
        let batch = BatchCollator.llada(padTokenID: pad).collate([example(3, prompt: 1), example(1, prompt: 1)])
        XCTAssertEqual(batch.length, 3)
        XCTAssertEqual(Array(batch.inputRow(1)), [100, 2, 2])
        XCTAssertEqual(Array(batch.labelRow(1)), [-100, 2, 2])  // padded EOS are trained on
        XCTAssertNil(batch.attentionMask)  // NoAttentionMaskWrapper: padding stays visible
    }
}

final class DataPipelinesTests: XCTestCase {
    func testSFTPipelineFromAlpacaJSONWithSplitLimits() throws {
        let dir = try temporaryDirectory(self)
        let rows = (0..<6).map { "{\"instruction\": \"say \($0)\", \"input\": \"\", \"output\": \"\($0)\"}" }
        let path = try write("[" + rows.joined(separator: ",\n") + "]", to: dir, "alpaca.json")
        let out = try DataPipelines.sft(spec: "\(path)[train:4,test:2]", tokenizer: ByteLevelTokenizer(), maxLength: 64)
        XCTAssertEqual(out["train"]?.examples.count, 4)
        XCTAssertEqual(out["test"]?.examples.count, 2)
        let first = try XCTUnwrap(out["test"]?.examples.first)
        XCTAssertEqual(ByteLevelTokenizer().decode(first.inputIDs), "user: say 0\n\nassistant: 0\n\n")
        XCTAssertEqual(first.promptLength, "user: say 0\n\nassistant: ".utf8.count)
        let short = try DataPipelines.sft(spec: path, tokenizer: ByteLevelTokenizer(), maxLength: 20, truncation: .filter)
        XCTAssertEqual(short["train"]?.stats.dropped, 6)
    }

    func testPretrainingPipelineCountsEmptyLines() throws {
        let dir = try temporaryDirectory(self)
        let path = try write("abcdef\n\nghij\n", to: dir, "t.txt")
        let out = try DataPipelines.pretraining(spec: path, tokenizer: ByteLevelTokenizer(),
                                                options: GroupingOptions(sequenceLength: 4))
        let train = try XCTUnwrap(out["train"])
        XCTAssertEqual(train.stats.emptyDocumentsSkipped, 1)
        XCTAssertEqual(train.sequences.count, 3)  // abcdef<eos>ghij<eos> = 12 tokens
        XCTAssertEqual(try train.sequences.example(at: 1).inputIDs, [101, 102, 256, 103])
    }
}
