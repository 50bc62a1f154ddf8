import DLLMCompute
@testable import DLLMModels
@testable import DLLMTokenizers
import Foundation
import XCTest

/// The real all-MiniLM-L6-v2 (`dllm data fetch all-minilm-l6-v2`) against the Python references
/// (fixtures from Fixtures/generate_bert_fixtures.py): WordPiece ids against `tokenizers`, and the
/// BERT forward's tied-head logits against transformers' `BertModel` last hidden state times the
/// word embeddings.
final class MiniLMParityTests: XCTestCase {
    static let entry = "all-minilm-l6-v2"
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/bert-minilm")

    /// The fetched model folder; fails on CI when absent, skips otherwise.
    static func folder() throws -> URL {
        URL(fileURLWithPath: try FetchedAsset.path(entry: entry, file: "model.safetensors")).deletingLastPathComponent()
    }

    static func fixture(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent(name))) as! [String: Any]
    }

    func testWordPieceIdsEqualTokenizers() throws {
        let tokenizer = try Tokenizer.load(from: try Self.folder().appendingPathComponent("tokenizer.json").path)
        XCTAssert(tokenizer.model is WordPieceModel)
        let record = try Self.fixture("wordpiece-expected.json")
        let cases = record["cases"] as! [[String: Any]]
        XCTAssertGreaterThan(cases.count, 300)
        var mismatches = 0
        for c in cases {
            let text = c["text"] as! String
            let expected = (c["ids"] as! [Int]).map(UInt32.init)
            let ids = tokenizer.encode(text)
            if ids != expected { mismatches += 1 }
            XCTAssertEqual(ids, expected, "ids of \(text.debugDescription)")
            XCTAssertEqual(tokenizer.encode(text, addSpecialTokens: false), Array(expected.dropFirst().dropLast()))
            XCTAssertEqual(tokenizer.decode(expected), c["decoded"] as? String, "decode of \(text.debugDescription)")
            XCTAssertEqual(tokenizer.decode(expected, skipSpecialTokens: true), c["decoded_skip_special"] as? String)
        }
        XCTAssertEqual(mismatches, 0)
        for pair in record["pairs"] as! [[String: Any]] {
            XCTAssertEqual(tokenizer.encode(pair["a"] as! String, pair: pair["b"] as! String), (pair["ids"] as! [Int]).map(UInt32.init))
        }
    }

    /// The fetched folder is set up as dLLM's `get_tokenizer` sets up a BERT: [MASK], [PAD] as pad
    /// and EOS, and the [Question]/[Answer] chat template.
    func testFetchedFolderTokenizerSetup() throws {
        let tokenizer = try BPETextTokenizer(path: try Self.folder().path)
        XCTAssertEqual(tokenizer.maskTokenID, 103)
        XCTAssertEqual(tokenizer.padTokenID, 0)
        XCTAssertEqual(tokenizer.eosTokenID, 0)
        let prompt = try tokenizer.renderChat([ChatMessage(role: "user", content: " Hi there ")], addGenerationPrompt: true)
        XCTAssertEqual(prompt, "[Question]\nHi there\n[/Question]\n\n[Answer]\n")
    }

    func testLogitsEqualTransformersBertModel() throws {
        let reference = try Self.fixture("reference.json")
        let B = reference["batch"] as! Int, T = reference["seq_len"] as! Int
        let ids = (reference["input_ids"] as! [Int]).map(Int32.init)
        let loaded = try ModelFolder.load(try Self.folder(), as: Double.self)
        let model = loaded.model
        XCTAssert(model is BertModel<Double>)
        XCTAssertEqual(model.parameterCount, 22_565_376)  // the checkpoint less the pooler and position_ids
        model.forward(TokenBatch(ids: ids, B: B, T: T), mask: AttentionMask(.bidirectional, B: B, T: T))
        let V = model.vocabularySize, N = B * T
        let logits = Array(UnsafeBufferPointer(start: model.logits, count: N * V))
        try compare(logits, hidden: (model as! BertModel<Double>).acts!.hidden.last!.array, reference, N: N, V: V, label: "training forward")
        // The inference path (cached attention, scratch buffers) gives the same logits.
        let inference = model.bidirectionalLogits(ids: ids, B: B, T: T)
        try compare(inference, hidden: nil, reference, N: N, V: V, label: "inference forward")
    }

    func compare(_ logits: [Double], hidden: [Double]?, _ reference: [String: Any], N: Int, V: Int, label: String) throws {
        let vocabIDs = reference["vocab_ids"] as! [Int]
        let expected = reference["logits"] as! [[Double]]
        let lse = reference["logsumexp"] as! [Double]
        let argmax = reference["argmax"] as! [Int]
        XCTAssertFalse(vocabIDs.isEmpty)
        var worst = 0.0
        for n in 0..<N {
            let row = Array(logits[(n * V)..<((n + 1) * V)])
            for (j, v) in vocabIDs.enumerated() {
                worst = max(worst, abs(row[v] - expected[n][j]))
                XCTAssertEqual(row[v], expected[n][j], accuracy: 1e-4, "\(label): logit (\(n), \(v))")
            }
            let m = row.max()!
            let rowLSE = m + log(row.reduce(0) { $0 + exp($1 - m) })
            XCTAssertEqual(rowLSE, lse[n], accuracy: 1e-4, "\(label): logsumexp of row \(n)")
            XCTAssertEqual(row.firstIndex(of: m), argmax[n], "\(label): argmax of row \(n)")
        }
        if let hidden {
            let columns = reference["hidden_columns"] as! Int
            let expectedHidden = reference["hidden"] as! [[Double]]
            let C = hidden.count / N
            for n in 0..<N {
                for c in 0..<columns {
                    XCTAssertEqual(hidden[n * C + c], expectedHidden[n][c], accuracy: 1e-5, "\(label): hidden (\(n), \(c))")
                }
            }
        }
        print("MiniLM \(label): largest logit difference \(worst)")
    }
}
