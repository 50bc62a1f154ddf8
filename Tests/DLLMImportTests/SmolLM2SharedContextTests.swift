import DLLMEval
import DLLMSampling
import Foundation
import XCTest

/// The eval's shared-context path on the real quantised SmolLM2 (Q4_1 matrices, Q8_0 embedding,
/// IEEE-half KV copy): a context run once and four continuations scored from its cache give the
/// log-likelihoods and greedy flags of four full forwards, within lm-eval parity's 1e-4.
final class SmolLM2SharedContextTests: XCTestCase {
    func testSharedContextMatchesFullForwardsOnTheQuantizedModel() throws {
        let generator = try TextGenerator(folder: try SmolLM2Asset.path(), mode: .ar)
        let tokenizer = generator.tokenizer
        let encoder = RequestEncoder(tokenizer: tokenizer, prefixTokenID: tokenizer.bosTokenID ?? tokenizer.eosTokenID)
        let context = "Baking bread: The baker mixes flour, water, salt and yeast in a large bowl. She kneads the dough"
        let endings = [" until it is smooth and elastic, then leaves it to rise.", " and paints the kitchen walls blue.",
                       " for ten minutes.", " while the oven heats up to two hundred degrees and the timer rings twice."]
        let requests = endings.map { encoder.encode(LoglikelihoodRequest(context: context, continuation: $0)) }
        XCTAssertEqual(Set(requests.map(\.context)).count, 1)
        let shared = ARLoglikelihoodScorer(model: generator.model).score(requests, batchSize: 4)
        let full = ARLoglikelihoodScorer(model: generator.model, reuseContext: false).score(requests, batchSize: 4)
        for (a, b) in zip(shared, full) {
            XCTAssertEqual(a.logLikelihood, b.logLikelihood, accuracy: 1e-4)
            XCTAssertEqual(a.isGreedy, b.isGreedy)
        }
        // The sensible ending is the likeliest: the numbers are a language model's, not padding's.
        XCTAssertEqual(shared.indices.max { shared[$0].logLikelihood / Double(requests[$0].continuation.count) < shared[$1].logLikelihood / Double(requests[$1].continuation.count) }, 0)
    }
}
