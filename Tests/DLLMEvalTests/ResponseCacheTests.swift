import DLLMData
@testable import DLLMEval
import Foundation
import XCTest

/// `--use_cache`: answers written per unit of work, read back as the same bits, a run cut short
/// resumed, and a changed model or setting missing the cache.
final class ResponseCacheTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-response-cache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    var prefix: String { folder.appendingPathComponent("cache/run").path }

    /// An evaluator whose scorer goes through the cache at `prefix` (opened anew, as a new run does).
    func cachedEvaluator(scope: String = "tiny") throws -> (Evaluator, CachingLoglikelihoodScorer) {
        let plain = try LMEvalParityTests.makeEvaluator()
        let caching = CachingLoglikelihoodScorer(inner: plain.scorer, cache: try ResponseCache(prefix: prefix, rank: 0),
                                                 scope: scope, keyByAddress: false)
        return (Evaluator(scorer: caching, encoder: plain.encoder), caching)
    }

    func evaluate(_ evaluator: Evaluator, _ name: String, batchSize: Int = 3) throws -> TaskEvaluation {
        let task = try EvalTask.named(name)
        let (documents, original) = try LMEvalParityTests.location.documents(of: task, limit: nil)
        return evaluator.evaluate(task, documents: documents, originalCount: original, batchSize: batchSize)
    }

    func bits(_ e: TaskEvaluation) -> [UInt64] { e.answers.joined().map(\.logLikelihood.bitPattern) }

    func cacheLines() throws -> [String] {
        try String(contentsOfFile: ResponseCache.path(prefix: prefix, rank: 0), encoding: .utf8).split(separator: "\n").map(String.init)
    }

    func testSecondRunReadsEveryAnswerFromTheCache() throws {
        let (first, firstScorer) = try cachedEvaluator()
        let a = try evaluate(first, "hellaswag"), p = try evaluate(first, "piqa")
        let total = a.encoded.joined().count + p.encoded.joined().count
        XCTAssertEqual(firstScorer.cachedAnswers, 0)
        XCTAssertEqual(firstScorer.scoredAnswers, total)
        XCTAssertEqual(try cacheLines().count, total)

        let (second, secondScorer) = try cachedEvaluator()
        XCTAssertEqual(secondScorer.cache.count, total)
        let b = try evaluate(second, "hellaswag", batchSize: 8), q = try evaluate(second, "piqa", batchSize: 8)
        XCTAssertEqual(secondScorer.cachedAnswers, total, "every answer read from the cache")
        XCTAssertEqual(secondScorer.scoredAnswers, 0)
        XCTAssertEqual(bits(a), bits(b))
        XCTAssertEqual(bits(p), bits(q))
        XCTAssertEqual(a.answers.joined().map(\.isGreedy), b.answers.joined().map(\.isGreedy))
        for m in ["acc", "acc_norm"] {
            XCTAssertEqual(a.metric(m).bitPattern, b.metric(m).bitPattern, m)
            XCTAssertEqual(p.metric(m).bitPattern, q.metric(m).bitPattern, m)
        }
        XCTAssertEqual(try cacheLines().count, total, "nothing appended by a run that scored nothing")
    }

    /// A run killed while writing leaves a cut last line: skipped with a warning, cut off the file,
    /// and only its request is scored again.
    func testCutLastLineIsSkippedAndTheRunResumes() throws {
        let (first, _) = try cachedEvaluator()
        let a = try evaluate(first, "arc_easy")
        let path = ResponseCache.path(prefix: prefix, rank: 0)
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data.removeLast(20)  // into the last line
        try data.write(to: URL(fileURLWithPath: path))

        let (second, scorer) = try cachedEvaluator()
        XCTAssertEqual(scorer.cache.warnings.count, 1)
        XCTAssertTrue(scorer.cache.warnings[0].contains("line \(a.encoded.joined().count)"), scorer.cache.warnings[0])
        let b = try evaluate(second, "arc_easy")
        XCTAssertEqual(scorer.cachedAnswers, a.encoded.joined().count - 1)
        XCTAssertEqual(scorer.scoredAnswers, 1)
        for (x, y) in zip(a.answers.joined(), b.answers.joined()) {
            // The rescored request ran alone where it first shared its document's context: float rounding apart.
            XCTAssertEqual(x.logLikelihood, y.logLikelihood, accuracy: 1e-5 * max(1, abs(x.logLikelihood)))
        }
        let (_, third) = try cachedEvaluator()
        XCTAssertEqual(third.cache.warnings, [])
        XCTAssertEqual(third.cache.count, a.encoded.joined().count, "the cut line was replaced by a whole one")
    }

    func testBadLineInTheMiddleIsAnErrorNamingIt() throws {
        let path = ResponseCache.path(prefix: prefix, rank: 0)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let good = #"{"key":"\#(String(repeating: "a", count: 64))","bits":"bff0000000000000","loglikelihood":-1,"is_greedy":true,"truncated":false}"#
        try (good + "\n{\"key\": 3}\n" + good + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ResponseCache(prefix: prefix, rank: 0)) { error in
            guard case let .badCacheLine(file, line, _) = error as? EvalError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, path)
            XCTAssertEqual(line, 2)
        }
        try (good + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let cache = try ResponseCache(prefix: prefix, rank: 0)
        XCTAssertEqual(cache.lookup(String(repeating: "a", count: 64)), LoglikelihoodResult(logLikelihood: -1, isGreedy: true, truncated: false))
    }

    /// Other scoring settings or other model files give other keys: nothing is read.
    func testChangedModelOrSettingsMissTheCache() throws {
        let (first, _) = try cachedEvaluator(scope: "model A\nscoring ar max_length=2048")
        let a = try evaluate(first, "copa")
        let (second, scorer) = try cachedEvaluator(scope: "model A\nscoring ar max_length=24")
        _ = try evaluate(second, "copa")
        XCTAssertEqual(scorer.cachedAnswers, 0)
        XCTAssertEqual(scorer.scoredAnswers, a.encoded.joined().count)

        let model = folder.appendingPathComponent("model")
        try FileManager.default.copyItem(at: LMEvalParityTests.fixtures.appendingPathComponent("tiny_llama"), to: model)
        let before = ResponseCache.modelIdentity(path: model.path)
        XCTAssertEqual(ResponseCache.modelIdentity(path: model.path), before)
        let config = model.appendingPathComponent("config.json")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000)], ofItemAtPath: config.path)
        XCTAssertNotEqual(ResponseCache.modelIdentity(path: model.path), before, "a changed file changes the identity")
        let request = EncodedRequest(context: [1, 2], continuation: [3])
        XCTAssertNotEqual(ResponseCache.key(before, request), ResponseCache.key(ResponseCache.modelIdentity(path: model.path), request))
        XCTAssertNotEqual(ResponseCache.key("s", request, address: RequestAddress(task: "t", document: 0, request: 0)),
                          ResponseCache.key("s", request, address: RequestAddress(task: "t", document: 1, request: 0)))
    }
}
