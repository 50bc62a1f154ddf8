import DLLMData
@testable import DLLMEval
import DLLMSampling
import Foundation
import XCTest

/// `loglikelihood_rolling` (perplexity tasks) against the real lm-eval package's HF backend and,
/// for diffusion models, the ELBO against the PyTorch transcription of LLaDA's `get_log_likelihood`
/// under the same mask draws (Fixtures/generate_rolling_fixtures.py).
final class RollingParityTests: XCTestCase {
    static let fixtures = LMEvalParityTests.fixtures

    struct Reference: Decodable {
        struct Draw: Decodable {
            var k: Int
            var permutations: [[Int]]
        }
        struct Window: Decodable {
            var context_ids: [Int32]
            var continuation_ids: [Int32]
            var loglikelihood: Double
            var draws: [Draw]?
        }
        struct Document: Decodable {
            var doc_id: Int
            var loglikelihood: Double
            var windows: [Window]
        }
        struct Run: Decodable {
            var max_length: Int
            var metrics: [String: Double]
            var documents: [Document]
            var mc_num: Int?
            var batch_size: Int?
        }
        var task: String
        var prefix_token_id: Int32
        var words: [Int]
        var bytes: [Int]
        var ar: Run
        var elbo: Run
    }

    static func loadReference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: fixtures.appendingPathComponent("rolling_reference.json")))
    }

    static var task: EvalTask {
        get throws { try EvalTask.named("perplexity:" + fixtures.appendingPathComponent("rolling_docs.jsonl").path) }
    }

    static func documents() throws -> [EvalDocument] {
        try TaskDataLocation(root: "/nonexistent").documents(of: try task, limit: nil).documents
    }

    /// Same windows, token ids, window and document log-likelihoods (1e-4) and metrics as lm-eval.
    func testAutoregressiveRollingMatchesLMEval() throws {
        let reference = try Self.loadReference()
        let task = try Self.task
        XCTAssertEqual(task.name, reference.task)
        XCTAssertEqual(task.outputType, .loglikelihoodRolling)
        let generator = try TextGenerator(folder: Self.fixtures.appendingPathComponent("tiny_llama").path, mode: .ar)
        let tokenizer = generator.tokenizer
        XCTAssertEqual(tokenizer.bosTokenID ?? tokenizer.eosTokenID, reference.prefix_token_id)
        let evaluator = Evaluator(scorer: ARLoglikelihoodScorer(model: generator.model, maxLength: reference.ar.max_length),
                                  encoder: RequestEncoder(tokenizer: tokenizer, prefixTokenID: reference.prefix_token_id))
        let documents = try Self.documents()
        XCTAssertEqual(documents.count, reference.ar.documents.count)
        XCTAssertEqual(documents.map { RollingMetrics.wordCount($0.choices[0]) }, reference.words)
        XCTAssertEqual(documents.map { RollingMetrics.byteCount($0.choices[0]) }, reference.bytes)
        for batch in [1, 3] {
            let e = evaluator.evaluate(task, documents: documents, originalCount: documents.count, batchSize: batch)
            for (i, doc) in reference.ar.documents.enumerated() {
                XCTAssertEqual(e.documents[i].index, doc.doc_id)
                XCTAssertEqual(e.encoded[i].map(\.context), doc.windows.map(\.context_ids), "doc \(i) contexts")
                XCTAssertEqual(e.encoded[i].map(\.continuation), doc.windows.map(\.continuation_ids), "doc \(i) windows")
                for (j, window) in doc.windows.enumerated() {
                    XCTAssertEqual(e.answers[i][j].logLikelihood, window.loglikelihood, accuracy: 1e-4, "doc \(i) window \(j)")
                    XCTAssertFalse(e.answers[i][j].truncated)
                }
                XCTAssertEqual(e.rollingLogLikelihood(i), doc.loglikelihood, accuracy: 1e-4, "doc \(i)")
            }
            XCTAssertTrue(reference.ar.documents.contains { $0.windows.count > 2 }, "several windows per document are exercised")
            for (m, value) in reference.ar.metrics {
                XCTAssertEqual(e.metric(m), value, accuracy: value * 1e-5, m)
                XCTAssertNil(e.stderr(m))
            }
            XCTAssertEqual(Set(reference.ar.metrics.keys), Set(task.metrics))
            let results = ResultsFile.results([e], config: ["batch_size": batch])
            XCTAssertTrue(JSONSerialization.isValidJSONObject(results))
            let row = try XCTUnwrap((results["results"] as? [String: Any])?[task.name] as? [String: Any])
            XCTAssertEqual(row["bits_per_byte,none"] as? Double, e.metric("bits_per_byte"))
            XCTAssertEqual(row["word_perplexity_stderr,none"] as? String, "N/A")
            let samples = ResultsFile.samples(e)
            XCTAssertTrue(samples.allSatisfy(JSONSerialization.isValidJSONObject))
            XCTAssertEqual(samples[2]["word_perplexity"] as? [AnyHashable], [e.rollingLogLikelihood(2) as AnyHashable, reference.words[2] as AnyHashable])
        }
    }

    /// The windows of lm-eval's `get_rolling_token_windows` + `make_disjoint_window` on edge lengths.
    func testRollingWindowsCoverEveryTokenOnce() {
        XCTAssertEqual(rollingTokenWindows([], prefix: [9], maxLength: 4), [])
        XCTAssertEqual(rollingTokenWindows([1, 2, 3], prefix: [9], maxLength: 4), [EncodedRequest(context: [9], continuation: [1, 2, 3])])
        XCTAssertEqual(rollingTokenWindows([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], prefix: [0], maxLength: 4), [
            EncodedRequest(context: [0], continuation: [1, 2, 3, 4]),
            EncodedRequest(context: [4], continuation: [5, 6, 7, 8]),
            EncodedRequest(context: [6, 7, 8], continuation: [9, 10]),
        ])
        for n in 1...13 {
            for maxLength in 1...5 {
                let tokens = (1...n).map(Int32.init)
                let windows = rollingTokenWindows(tokens, prefix: [0], maxLength: maxLength)
                XCTAssertEqual(Array(windows.map(\.continuation).joined()), tokens)
                XCTAssertTrue(windows.allSatisfy { $0.context.count + $0.continuation.count <= maxLength + 1 && !$0.context.isEmpty })
            }
        }
    }

    /// Python's `len(re.split(r"\s+", s))` and UTF-8 byte counts.
    func testWordAndByteCountsFollowPython() {
        XCTAssertEqual(RollingMetrics.wordCount(""), 1)
        XCTAssertEqual(RollingMetrics.wordCount("a"), 1)
        XCTAssertEqual(RollingMetrics.wordCount(" a  b\n"), 4)
        XCTAssertEqual(RollingMetrics.wordCount("a\u{2003}b"), 2)
        XCTAssertEqual(RollingMetrics.byteCount("café"), 5)
    }

    /// The diffusion ELBO: each window's Monte Carlo bound equals the LLaDA transcription under the
    /// recorded draws (addressed by document and window), and the documents' sums and metrics too.
    func testDiffusionELBOMatchesTranscription() throws {
        let reference = try Self.loadReference()
        let elbo = reference.elbo
        let task = try Self.task
        var draws: [RequestAddress: [MaskDraw]] = [:]
        for doc in elbo.documents {
            for (w, window) in doc.windows.enumerated() {
                draws[RequestAddress(task: task.name, document: doc.doc_id, request: w)] =
                    try XCTUnwrap(window.draws).map { MaskDraw(k: $0.k, permutations: $0.permutations) }
            }
        }
        let generator = try MonteCarloParityTests.loadModel()
        let tokenizer = generator.tokenizer
        let settings = MonteCarloSettings(mcNum: try XCTUnwrap(elbo.mc_num), miniBatch: try XCTUnwrap(elbo.batch_size))
        let scorer = DiffusionLoglikelihoodScorer(model: generator.model, maskID: try XCTUnwrap(generator.maskID), settings: settings,
                                                  draws: MonteCarloParityTests.ReplayedDraws(draws: draws), maxLength: elbo.max_length)
        XCTAssertEqual(scorer.rollingWindowLength, elbo.max_length - 1)
        let evaluator = Evaluator(scorer: scorer, encoder: RequestEncoder(tokenizer: tokenizer, prefixTokenID: reference.prefix_token_id))
        let documents = try Self.documents()
        let e = evaluator.evaluate(task, documents: documents, originalCount: documents.count, batchSize: 1)
        var worst = 0.0
        for (i, doc) in elbo.documents.enumerated() {
            XCTAssertEqual(e.encoded[i].map(\.continuation), doc.windows.map(\.continuation_ids), "doc \(i)")
            XCTAssertEqual(e.encoded[i].map(\.context), doc.windows.map(\.context_ids), "doc \(i)")
            for (j, window) in doc.windows.enumerated() {
                XCTAssertEqual(e.answers[i][j].logLikelihood, window.loglikelihood, accuracy: 1e-4, "doc \(i) window \(j)")
                XCTAssertFalse(e.answers[i][j].truncated, "doc \(i) window \(j)")
                worst = max(worst, abs(e.answers[i][j].logLikelihood - window.loglikelihood))
            }
            XCTAssertEqual(e.rollingLogLikelihood(i), doc.loglikelihood, accuracy: 1e-4, "doc \(i)")
        }
        print("ELBO: largest |Δ window loglikelihood| against the transcription \(worst)")
        for (m, value) in elbo.metrics { XCTAssertEqual(e.metric(m), value, accuracy: value * 1e-5, m) }
        XCTAssertTrue(e.answers.joined().allSatisfy { $0.logLikelihood.isFinite && $0.logLikelihood < 0 })
    }

    /// Seeded draws: a document's ELBO depends on (seed, document, window, draw) only, not on which
    /// other documents are scored with it or the shard that scores it.
    func testSeededELBODependsOnlyOnSeedAndDocument() throws {
        let generator = try MonteCarloParityTests.loadModel()
        let tokenizer = generator.tokenizer
        func evaluator(seed: UInt64) throws -> Evaluator {
            let scorer = DiffusionLoglikelihoodScorer(model: generator.model, maskID: try XCTUnwrap(generator.maskID),
                                                      settings: MonteCarloSettings(mcNum: 4, miniBatch: 2),
                                                      draws: SeededMaskDraws(seed: seed), maxLength: 16)
            return Evaluator(scorer: scorer, encoder: RequestEncoder(tokenizer: tokenizer, prefixTokenID: tokenizer.bosTokenID ?? tokenizer.eosTokenID))
        }
        let task = try Self.task
        let documents = try Self.documents()
        let all = try evaluator(seed: 5).evaluate(task, documents: documents, originalCount: documents.count, batchSize: 1)
        let some = try evaluator(seed: 5).evaluate(task, documents: [documents[3], documents[0]], originalCount: documents.count, batchSize: 4)
        XCTAssertEqual(some.rollingLogLikelihood(0).bitPattern, all.rollingLogLikelihood(3).bitPattern)
        XCTAssertEqual(some.rollingLogLikelihood(1).bitPattern, all.rollingLogLikelihood(0).bitPattern)
        let other = try evaluator(seed: 6).evaluate(task, documents: documents, originalCount: documents.count, batchSize: 1)
        XCTAssertNotEqual(other.rollingLogLikelihood(0), all.rollingLogLikelihood(0))
    }

    /// A plain-text file: one document per non-blank line; a missing file names the fetch.
    func testTextFileDocumentsAndMissingFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-rolling-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("wiki.txt")
        try "First line.\n\n  \nSecond line, kept whole \r\nThird".write(to: file, atomically: true, encoding: .utf8)
        let task = try EvalTask.named("perplexity:" + file.path)
        XCTAssertEqual(task.name, "perplexity_wiki")
        let docs = try TaskDataLocation(root: "/nonexistent").documents(of: task, limit: nil)
        XCTAssertEqual(docs.documents.map { $0.choices[0] }, ["First line.", "Second line, kept whole ", "Third"])
        XCTAssertEqual(docs.documents.map(\.index), [0, 1, 2])
        let missing = try EvalTask.named("perplexity:" + dir.appendingPathComponent("absent.jsonl").path)
        XCTAssertThrowsError(try TaskDataLocation(root: "/nonexistent").documents(of: missing, limit: nil)) { error in
            XCTAssertTrue("\(error)".contains("absent.jsonl"), "\(error)")
        }
    }
}
