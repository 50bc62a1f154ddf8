import DLLMEval
import Foundation
import XCTest

/// GSM8K's post-processing against lm-eval (Fixtures/generate_gsm8k_scoring_fixtures.py): the
/// stop-string cut, the strict-match and flexible-extract filters and exact_match.
final class GenerationScoringTests: XCTestCase {
    struct Reference: Decodable {
        struct Case: Decodable {
            var generation: String
            var cut: String
            var reference: String
            var filtered: [String: String]
            var exact_match: [String: Double]
            var self_match: [String: Double]
        }
        var until: [String]
        var cases: [Case]
    }

    func testGSM8KFiltersAndExactMatchMatchLMEval() throws {
        let url = LMEvalParityTests.fixtures.appendingPathComponent("gsm8k_scoring_reference.json")
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        XCTAssertEqual(reference.until, GSM8KScoring.until)
        XCTAssertEqual(GSM8KScoring.filters.map(\.name), ["strict-match", "flexible-extract"])
        var matches = 0.0
        for (i, c) in reference.cases.enumerated() {
            let cut = GenerationScoring.cut(c.generation, at: GSM8KScoring.until)
            XCTAssertEqual(cut, c.cut, "case \(i)")
            for filter in GSM8KScoring.filters {
                let filtered = filter.apply(cut)
                XCTAssertEqual(filtered, c.filtered[filter.name], "case \(i) \(filter.name)")
                let score = GSM8KScoring.exactMatch.score(prediction: filtered, reference: c.reference)
                XCTAssertEqual(score, c.exact_match[filter.name], "case \(i) \(filter.name)")
                XCTAssertEqual(GSM8KScoring.exactMatch.score(prediction: filtered, reference: "#### " + filtered),
                               c.self_match[filter.name], "case \(i) \(filter.name) against itself")
                matches += score
            }
        }
        XCTAssertGreaterThan(matches, 0)  // the fixture holds both outcomes
    }

    func testExactMatchOptions() {
        XCTAssertEqual(ExactMatch(ignoreCase: true).score(prediction: "ABC", reference: "abc"), 1)
        XCTAssertEqual(ExactMatch().score(prediction: "ABC", reference: "abc"), 0)
        XCTAssertEqual(ExactMatch(ignorePunctuation: true).score(prediction: "a.b,c!", reference: "abc"), 1)
    }
}
