import DLLMData
@testable import DLLMEval
import DLLMSampling
import Foundation
import XCTest

/// The diffusion Monte Carlo log-likelihood against a PyTorch transcription of LLaDA's
/// `get_log_likelihood` replaying the same mask draws (Tests/Fixtures/generate_eval_mc_fixtures.py).
final class MonteCarloParityTests: XCTestCase {
    static let fixtures = LMEvalParityTests.fixtures

    struct Reference: Decodable {
        struct Draw: Decodable {
            var k: Int
            var permutations: [[Int]]
            var counts: [Int]
        }
        struct Case: Decodable {
            var request: Int
            var context_ids: [Int32]
            var continuation_ids: [Int32]
            var draws: [Draw]
            var loglikelihood: Double
            var is_greedy: Bool
        }
        struct Setting: Decodable {
            var name: String
            var mc_num: Int
            var batch_size: Int
            var cfg: Double
            var shift: Bool
            var cases: [Case]
        }
        struct Linspace: Decodable {
            var k: Int
            var length: Int
            var rows: Int
            var counts: [Int]
        }
        var mask_id: Int32
        var settings: [Setting]
        var linspace: [Linspace]
    }

    /// The draws the reference run made, looked up by request address.
    struct ReplayedDraws: MaskDrawSource {
        var draws: [RequestAddress: [MaskDraw]]

        func draw(_ address: RequestAddress, iteration: Int, rows: Int, length: Int) -> MaskDraw {
            let draw = draws[address]![iteration]
            precondition(draw.permutations.count == rows && draw.permutations.allSatisfy { $0.count == length })
            return draw
        }
    }

    static func loadReference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: fixtures.appendingPathComponent("mc_reference.json")))
    }

    static func loadModel() throws -> TextGenerator {
        let generator = try TextGenerator(folder: fixtures.appendingPathComponent("tiny_llada").path)
        XCTAssertFalse(generator.randomlyInitialized)
        return generator
    }

    /// torch's float32 `linspace` + `round` + wrap, for every (L ≤ 12, b ≤ 8, k).
    func testStratifiedMaskCountsMatchTorch() throws {
        let reference = try Self.loadReference()
        XCTAssertGreaterThan(reference.linspace.count, 400)
        for row in reference.linspace {
            XCTAssertEqual(stratifiedMaskCounts(k: row.k, length: row.length, rows: row.rows), row.counts,
                           "k \(row.k) L \(row.length) b \(row.rows)")
        }
    }

    func testLogLikelihoodsMatchLLaDATranscription() throws {
        let reference = try Self.loadReference()
        let generator = try Self.loadModel()
        XCTAssertEqual(generator.maskID, reference.mask_id)
        XCTAssertEqual(reference.settings.map(\.name), ["plain", "cfg", "shift", "single"])
        for setting in reference.settings {
            var draws: [RequestAddress: [MaskDraw]] = [:]
            var requests: [EncodedRequest] = []
            var addresses: [RequestAddress] = []
            for c in setting.cases {
                let address = RequestAddress(task: setting.name, document: c.request, request: 0)
                draws[address] = c.draws.map { MaskDraw(k: $0.k, permutations: $0.permutations) }
                for d in c.draws {
                    XCTAssertEqual(stratifiedMaskCounts(k: d.k, length: c.continuation_ids.count, rows: setting.batch_size), d.counts)
                }
                requests.append(EncodedRequest(context: c.context_ids, continuation: c.continuation_ids))
                addresses.append(address)
            }
            let settings = MonteCarloSettings(mcNum: setting.mc_num, miniBatch: setting.batch_size, cfg: setting.cfg,
                                              shift: setting.shift, checkGreedy: true)
            let scorer = DiffusionLoglikelihoodScorer(model: generator.model, maskID: reference.mask_id, settings: settings,
                                                      draws: ReplayedDraws(draws: draws))
            let results = scorer.score(requests, addresses: addresses).map { $0! }
            var worst = 0.0
            for (c, result) in zip(setting.cases, results) {
                let label = "\(setting.name) request \(c.request)"
                XCTAssertEqual(result.logLikelihood, c.loglikelihood, accuracy: 1e-4, label)
                XCTAssertEqual(result.isGreedy, c.is_greedy, label)
                XCTAssertFalse(result.truncated, label)
                worst = max(worst, abs(result.logLikelihood - c.loglikelihood))
            }
            print("\(setting.name): largest |Δ loglikelihood| against the LLaDA transcription \(worst)")
        }
        // Some continuations are the model's own greedy fill: the greedy check is exercised both ways.
        let greedy = reference.settings[0].cases.map(\.is_greedy)
        XCTAssertTrue(greedy.contains(true) && greedy.contains(false))
    }

    static func makeEvaluator(settings: MonteCarloSettings, seed: UInt64 = 7) throws -> Evaluator {
        let generator = try loadModel()
        let tokenizer = generator.tokenizer
        let scorer = DiffusionLoglikelihoodScorer(model: generator.model, maskID: try XCTUnwrap(generator.maskID),
                                                  settings: settings, draws: SeededMaskDraws(seed: seed))
        return Evaluator(scorer: scorer, encoder: RequestEncoder(tokenizer: tokenizer, prefixTokenID: tokenizer.bosTokenID ?? tokenizer.eosTokenID))
    }

    /// A document's scores are the same bits whichever other documents are scored with it and
    /// whichever rank scores it; another seed gives other scores.
    func testScoresDependOnlyOnSeedAndDocument() throws {
        let settings = MonteCarloSettings(mcNum: 4, miniBatch: 2, cfg: 0.5)
        let evaluator = try Self.makeEvaluator(settings: settings)
        let task = EvalTask.piqa
        let (documents, original) = try LMEvalParityTests.location.documents(of: task, limit: nil)
        let runs = [1, 3].map { evaluator.evaluate(task, documents: documents, originalCount: original, batchSize: $0) }
        let bits = runs.map { $0.answers.joined().map { $0.logLikelihood.bitPattern } }
        XCTAssertEqual(bits[0], bits[1], "batch 1 vs 3")
        // Two shards of the requests: each request scored once, by its owner, to the same bits.
        let requests = Array(runs[0].encoded.joined())
        let addresses = zip(documents, runs[0].encoded).flatMap { d, r in r.indices.map { RequestAddress(task: task.name, document: d.index, request: $0) } }
        let shards = (0..<2).map { evaluator.scorer.score(requests, addresses: addresses, batchSize: 1, shard: EvalShard(rank: $0, count: 2), progress: nil) }
        for i in requests.indices {
            XCTAssertTrue((shards[0][i] == nil) != (shards[1][i] == nil), "request \(i) owned by exactly one rank")
            XCTAssertEqual((shards[0][i] ?? shards[1][i])?.logLikelihood.bitPattern, bits[0][i])
        }
        let alone = evaluator.evaluate(task, documents: [documents[3]], originalCount: original, batchSize: 2)
        XCTAssertEqual(alone.answers[0].map(\.logLikelihood.bitPattern), runs[0].answers[3].map(\.logLikelihood.bitPattern))
        let other = try Self.makeEvaluator(settings: settings, seed: 8)
            .evaluate(task, documents: documents, originalCount: original, batchSize: 1)
        XCTAssertNotEqual(other.answers.joined().map(\.logLikelihood), runs[0].answers.joined().map(\.logLikelihood))
    }
}
