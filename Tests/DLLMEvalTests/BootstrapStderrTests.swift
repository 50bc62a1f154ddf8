import DLLMEval
import Foundation
import XCTest

/// LAMBADA's perplexity stderr against lm-eval's `bootstrap_stderr` (Fixtures/generate_bootstrap_fixtures.py).
final class BootstrapStderrTests: XCTestCase {
    struct Reference: Decodable {
        struct Case: Decodable { var iters: Int; var stderr: Double }
        var xs: [Double]
        var perplexity: Double
        var cases: [Case]
        var random: [String: [Double]]
    }

    func reference() throws -> Reference {
        let url = LMEvalParityTests.fixtures.appendingPathComponent("bootstrap_reference.json")
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    func testRandomEqualsCPython() throws {
        for (seed, draws) in try reference().random {
            var rnd = PythonRandom(seed: UInt64(seed)!)
            XCTAssertEqual(draws.map { _ in rnd.random() }, draws, "random.Random(\(seed))")
        }
    }

    func testPerplexityStderrEqualsLMEvalBootstrap() throws {
        let r = try reference()
        XCTAssertEqual(r.cases.count, 3)
        for c in r.cases {
            let stderr = try XCTUnwrap(BootstrapStderr.perplexity(r.xs, iterations: c.iters))
            // Same draws in the same order; only the exp's last bit may differ from libm's.
            XCTAssertEqual(stderr, c.stderr, accuracy: 1e-12 * c.stderr, "iters \(c.iters)")
        }
        XCTAssertNil(BootstrapStderr.perplexity(r.xs, iterations: 0))
        XCTAssertNil(BootstrapStderr.perplexity([], iterations: 100))
    }
}
