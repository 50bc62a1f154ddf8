import DLLMEval
import Foundation
import XCTest

/// MMLU against the real lm-eval package (Fixtures/generate_mmlu_fixtures.py): the requests
/// (description, first_n examples from dev), tiny_llama's log-likelihoods and acc, and the
/// size-weighted group aggregate.
final class MMLUParityTests: XCTestCase {
    struct Reference: Decodable {
        struct TaskRun: Decodable {
            var acc: Double
            var acc_stderr: Double
            var size: Int
            var loglikelihoods: [[Double]]
        }
        struct Group: Decodable {
            var acc: Double
            var acc_stderr: Double
        }
        struct Run: Decodable {
            var tasks: [String: TaskRun]
            var group: Group
        }
        /// task → shots → per document, per request [context, continuation].
        var contexts: [String: [String: [[[String]]]]]
        var evaluations: [String: Run]
    }

    func testRequestsScoresAndGroupMatchLMEval() throws {
        let url = LMEvalParityTests.fixtures.appendingPathComponent("mmlu_reference.json")
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        let evaluator = try LMEvalParityTests.makeEvaluator()
        let location = LMEvalParityTests.location
        let names = ["mmlu_abstract_algebra", "mmlu_anatomy"]
        for shots in [0, 2] {
            let run = try XCTUnwrap(reference.evaluations[String(shots)])
            var evaluations: [TaskEvaluation] = []
            for name in names {
                var task = try EvalTask.named(name)
                task.numFewshot = shots
                let (documents, original) = try location.documents(of: task, limit: nil)
                let pool = try location.fewShotPool(of: task, evaluated: documents)
                let shot = try task.withFewShot(documents, pool: pool, count: shots)
                let expected = try XCTUnwrap(reference.contexts[name]?[String(shots)])
                XCTAssertEqual(shot.count, expected.count)
                for (i, requests) in expected.enumerated() {
                    let ours = LoglikelihoodRequest.requests(shot[i], task: task)
                    XCTAssertEqual(ours.map { [$0.context, $0.continuation] }, requests, "\(name) \(shots)-shot doc \(i)")
                }
                let e = evaluator.evaluate(task, documents: shot, originalCount: original, batchSize: 3)
                let expectedRun = try XCTUnwrap(run.tasks[name])
                for (i, lls) in expectedRun.loglikelihoods.enumerated() {
                    for (j, ll) in lls.enumerated() {
                        XCTAssertEqual(e.answers[i][j].logLikelihood, ll, accuracy: 1e-4, "\(name) doc \(i) choice \(j)")
                    }
                }
                XCTAssertEqual(e.acc, expectedRun.acc, name)
                XCTAssertEqual(try XCTUnwrap(e.accStderr), expectedRun.acc_stderr, accuracy: 1e-12, name)
                evaluations.append(e)
            }
            let group = EvalGroup(name: "pair", alias: "pair", tasks: names, version: 2)
            let (value, stderr, size) = try XCTUnwrap(group.aggregate("acc", over: evaluations))
            XCTAssertEqual(value, run.group.acc, accuracy: 1e-15)
            XCTAssertEqual(try XCTUnwrap(stderr), run.group.acc_stderr, accuracy: 1e-12)
            XCTAssertEqual(size, run.tasks.values.map(\.size).reduce(0, +))
        }
    }

    func testMMLUGroupsExpandToTheSubjects() throws {
        let (tasks, groups) = try EvalGroup.expand(["mmlu", "mmlu_anatomy"])
        XCTAssertEqual(tasks.count, 57)
        XCTAssertEqual(groups.map(\.name), ["mmlu"])
        let categories = EvalGroup.all.dropFirst()
        XCTAssertEqual(categories.map(\.tasks.count), [19, 13, 12, 13])
        XCTAssertEqual(Set(categories.flatMap(\.tasks)), Set(tasks.map(\.name)))
        XCTAssertThrowsError(try EvalGroup.expand(["mmlu_astrology"])) { error in
            XCTAssertTrue(String(describing: error).contains("mmlu_stem"), "\(error)")
        }
    }
}
