import DLLMEval
import Foundation
import XCTest

/// `--num_fewshot` against the real lm-eval package (Fixtures/generate_fewshot_fixtures.py):
/// CPython's `random.Random(seed).sample` draws, and the rendered few-shot contexts.
final class FewShotParityTests: XCTestCase {
    struct Reference: Decodable {
        struct Run: Decodable {
            var task: String
            var num_fewshot: Int
            var seed: UInt64
            /// Per document, the context of each request.
            var contexts: [[String]]
        }
        struct Sample: Decodable {
            var seed: UInt64
            var n: Int
            var k: Int
            var draws: [[Int]]
        }
        var runs: [Run]
        var python_samples: [Sample]
    }

    static func loadReference() throws -> Reference {
        let url = LMEvalParityTests.fixtures.appendingPathComponent("fewshot_reference.json")
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    func testPythonRandomSampleMatchesCPython() throws {
        let reference = try Self.loadReference()
        XCTAssertGreaterThanOrEqual(reference.python_samples.count, 5)
        for s in reference.python_samples {
            var random = PythonRandom(seed: s.seed)
            for (i, expected) in s.draws.enumerated() {
                XCTAssertEqual(random.sample(populationSize: s.n, count: s.k), expected, "seed \(s.seed) n \(s.n) k \(s.k) draw \(i)")
            }
        }
    }

    func testFewShotContextsMatchLMEval() throws {
        let reference = try Self.loadReference()
        XCTAssertEqual(Set(reference.runs.map(\.task)), ["hellaswag", "piqa", "boolq", "copa", "winogrande"])
        for run in reference.runs {
            let task = try EvalTask.named(run.task)
            let (documents, _) = try LMEvalParityTests.location.documents(of: task, limit: nil)
            let shot = try task.withFewShot(documents, pool: documents, count: run.num_fewshot, seed: run.seed)
            XCTAssertEqual(shot.count, run.contexts.count, run.task)
            for (i, expected) in run.contexts.enumerated() {
                let requests = LoglikelihoodRequest.requests(shot[i], task: task)
                XCTAssertEqual(requests.map(\.context), expected, "\(run.task) \(run.num_fewshot)-shot seed \(run.seed) doc \(i)")
            }
        }
    }

    /// The evaluated document never appears among its own examples, and `--limit` keeps the
    /// contexts of the first documents (the sampler runs in document order).
    func testExcludesTheEvaluatedDocumentAndLimitKeepsPrefix() throws {
        let task = EvalTask.arcEasy
        let (documents, _) = try LMEvalParityTests.location.documents(of: task, limit: nil)
        let all = try task.withFewShot(documents, pool: documents, count: 5)
        let firstTwo = try task.withFewShot(Array(documents.prefix(2)), pool: documents, count: 5)
        XCTAssertEqual(Array(all.prefix(2)), firstTwo)
        for (document, shot) in zip(documents, all) {
            let examples = shot.context.dropLast(document.context.count)
            XCTAssertFalse(examples.contains(document.context + " " + document.choices[document.gold]), "doc \(document.index)")
            XCTAssertEqual(examples.components(separatedBy: "\n\n").count - 1, 5)
        }
        XCTAssertThrowsError(try task.withFewShot(documents, pool: documents, count: documents.count)) { error in
            XCTAssertTrue(String(describing: error).contains("--num_fewshot"), "\(error)")
        }
    }
}
