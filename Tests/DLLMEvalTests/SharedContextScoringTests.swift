import DLLMData
@testable import DLLMEval
import DLLMSampling
import Foundation
import XCTest

/// The shared-context path (a multiple-choice document's context run once, its continuations
/// scored against the cached keys and values) against one full forward per request, on the
/// committed tiny llama and the lm-eval fixture documents.
final class SharedContextScoringTests: XCTestCase {
    static func scorers() throws -> (shared: ARLoglikelihoodScorer, full: ARLoglikelihoodScorer, encoder: RequestEncoder) {
        let evaluator = try LMEvalParityTests.makeEvaluator()
        let shared = try XCTUnwrap(evaluator.scorer as? ARLoglikelihoodScorer)
        XCTAssertTrue(shared.reuseContext)
        return (shared, ARLoglikelihoodScorer(model: shared.model, reuseContext: false), evaluator.encoder)
    }

    /// Every fixture task: the same log-likelihoods (float rounding apart) and greedy flags with and
    /// without sharing, and the multiple-choice tasks with one context per document do share.
    func testSharedContextMatchesOneForwardPerRequest() throws {
        let (shared, full, encoder) = try Self.scorers()
        var sharedTasks: [String] = []
        for task in LMEvalParityTests.referenceTasks {
            let (documents, original) = try LMEvalParityTests.location.documents(of: task, limit: nil)
            let a = Evaluator(scorer: shared, encoder: encoder).evaluate(task, documents: documents, originalCount: original, batchSize: 4)
            let b = Evaluator(scorer: full, encoder: encoder).evaluate(task, documents: documents, originalCount: original, batchSize: 4)
            let flat = Array(a.encoded.joined())
            let addresses = zip(documents, a.encoded).flatMap { document, requests in
                requests.indices.map { RequestAddress(task: task.name, document: document.index, request: $0) }
            }
            let groups = SharedContextGroup.find(flat, addresses: addresses) { shared.canShareContext($0, flat) }
            if !groups.isEmpty { sharedTasks.append(task.name) }
            for (x, y) in zip(a.answers.joined(), b.answers.joined()) {
                XCTAssertEqual(x.logLikelihood, y.logLikelihood, accuracy: 1e-5 * max(1, abs(y.logLikelihood)), task.name)
                XCTAssertEqual(x.isGreedy, y.isGreedy, task.name)
                XCTAssertEqual(x.truncated, y.truncated, task.name)
            }
        }
        for name in ["hellaswag", "piqa", "arc_easy"] { XCTAssertTrue(sharedTasks.contains(name), "\(name) shares no context") }
        XCTAssertFalse(sharedTasks.contains("winogrande"), "winogrande's choices are contexts: nothing to share")
    }

    /// Groups are runs of one document's requests with equal context ids; a request of another
    /// document with the same context, a single request and a group too long for `max_length`
    /// (left truncation) stay on the full path.
    func testGroupsStayWithinADocumentAndTheWindow() throws {
        let (shared, _, _) = try Self.scorers()
        let context: [Int32] = [5, 6, 7, 8]
        let requests = [EncodedRequest(context: context, continuation: [9]), EncodedRequest(context: context, continuation: [10, 11]),
                        EncodedRequest(context: context, continuation: [12]),  // next document
                        EncodedRequest(context: [5], continuation: [6]), EncodedRequest(context: [5], continuation: [7])]
        let addresses = [RequestAddress(task: "t", document: 0, request: 0), RequestAddress(task: "t", document: 0, request: 1),
                         RequestAddress(task: "t", document: 1, request: 0),
                         RequestAddress(task: "t", document: 2, request: 0), RequestAddress(task: "t", document: 2, request: 1)]
        let groups = SharedContextGroup.find(requests, addresses: addresses) { shared.canShareContext($0, requests) }
        XCTAssertEqual(groups.map(\.members), [[0, 1], [3, 4]])
        XCTAssertEqual(groups.map(\.longest), [6, 2])
        let short = ARLoglikelihoodScorer(model: shared.model, maxLength: 4)
        XCTAssertEqual(SharedContextGroup.find(requests, addresses: addresses) { short.canShareContext($0, requests) }.map(\.members),
                       [[3, 4]], "a group longer than max_length + 1 tokens is truncated: full path")
    }

    /// Two shards of the shared path together give every request, with the bits of one process.
    func testShardsTogetherMatchOneProcess() throws {
        let (shared, _, encoder) = try Self.scorers()
        let task = try EvalTask.named("hellaswag")
        let (documents, _) = try LMEvalParityTests.location.documents(of: task, limit: nil)
        let requests = documents.flatMap { LoglikelihoodRequest.requests($0, task: task).map(encoder.encode) }
        let whole = shared.score(requests, addresses: [], batchSize: 3, shard: .whole, progress: nil)
        let shards = (0..<2).map { shared.score(requests, addresses: [], batchSize: 5, shard: EvalShard(rank: $0, count: 2), progress: nil) }
        for i in requests.indices {
            XCTAssertTrue((shards[0][i] == nil) != (shards[1][i] == nil), "request \(i) scored by exactly one shard")
            XCTAssertEqual((shards[0][i] ?? shards[1][i])?.logLikelihood.bitPattern, whole[i]?.logLikelihood.bitPattern)
        }
    }
}
