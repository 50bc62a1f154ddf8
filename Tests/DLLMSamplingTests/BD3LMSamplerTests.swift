import DLLMCompute
import DLLMModels
@testable import DLLMSampling
import XCTest

/// Block-diffusion sampling: the cached sampler against the uncached one (exactness, bd3lms issue #26),
/// the inference step's block-causal, left-padded attention against the training forward under dLLM's
/// `_prepare_for_sampling` mask, and the EOS stop.
final class BD3LMSamplerTests: XCTestCase {
    func sample(_ model: any InferenceModel<Double>, _ prompts: [[Int32]], _ config: BD3LMSamplerConfig,
                eos: Int32? = nil) throws -> BD3LMOutput {
        try BD3LMSampler(model: model, maskID: Int32(model.vocabularySize - 1), eosID: eos)
            .generate(prompts: prompts, config: config, noise: CounterNoise(seed: 11))
    }

    /// Cached and uncached sampling commit the same tokens, over block sizes, prompt lengths
    /// (shorter, equal to and longer than a block; empty) and batch compositions, greedy and sampled,
    /// low-confidence and random remasking, with and without guidance.
    func testCachedAndUncachedSamplingGiveIdenticalTokens() throws {
        let model = inferenceModel(Fixtures.randomLlama(Double.self))
        let batches: [[[Int32]]] = [
            [[3, 4, 5]],
            [[7, 8, 9, 10, 11, 12, 13], [5], [20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]],
            [[], [6, 7, 8, 9, 10]],
        ]
        var compared = 0
        for blockSize in [2, 4, 5, 8] {
            for (n, prompts) in batches.enumerated() {
                for variant in 0..<3 {
                    var config = BD3LMSamplerConfig(steps: 12, genLength: 3 * blockSize + 1, blockSize: blockSize)
                    if variant == 1 { config.temperature = 0.8; config.remasking = .random }
                    if variant == 2 { config.cfgScale = 1.5; config.steps = 2 * config.genLength }
                    config.cache = .none
                    let exact = try sample(model, prompts, config)
                    config.cache = .prefix
                    let cached = try sample(model, prompts, config)
                    let label = "block \(blockSize), batch \(n), variant \(variant)"
                    XCTAssertEqual(cached.sequences, exact.sequences, label)
                    XCTAssertEqual(exact.answers.map(\.count), [Int](repeating: config.genLength, count: prompts.count), label)
                    XCTAssertFalse(exact.answers.joined().contains(Int32(model.vocabularySize - 1)), "\(label): a mask was left")
                    XCTAssertEqual(zip(exact.sequences, prompts).map { Array($0.prefix($1.count)) }, prompts, "\(label): the prompt is kept")
                    XCTAssertLessThan(cached.stats.evaluatedPositions, exact.stats.evaluatedPositions, label)
                    compared += 1
                }
            }
        }
        XCTAssertEqual(compared, 36)
    }

    /// The inference step BD3LM sampling runs (left padding skipped with `keyStart`, block-causal
    /// `blockSize`, positions counting non-pad tokens) computes the logits the training forward gives
    /// under dLLM's `_prepare_for_sampling` mask: key block ≤ query block, pads neither query nor key.
    func testBlockCausalLeftPaddedStepMatchesTheTrainingForwardUnderDLLMsMask() throws {
        let model = Fixtures.randomLlama(Double.self)
        let B = 2, T = 12, bs = 4, V = model.vocabularySize
        let pads = [0, 5]
        let ids: [Int32] = (0..<(B * T)).map { Int32(3 + ($0 * 7) % 40) }
        var positions = [Int32](repeating: 0, count: B * T), valid = [Bool](repeating: false, count: B * T)
        for b in 0..<B {
            for t in 0..<T { valid[b * T + t] = t >= pads[b]; positions[b * T + t] = Int32(max(0, t - pads[b])) }
        }
        var allowed = [Bool](repeating: false, count: B * T * T)
        for b in 0..<B {
            for q in 0..<T {
                for k in 0..<T { allowed[(b * T + q) * T + k] = valid[b * T + q] && valid[b * T + k] && k / bs <= q / bs }
            }
        }
        model.forward(TokenBatch(ids: ids, B: B, T: T, positions: positions), mask: AttentionMask(.bidirectional, B: B, T: T, allowed: allowed))
        let expected = Array(UnsafeBufferPointer(start: model.logits, count: B * T * V))
        var step = InferenceStep.full(ids: ids, B: B, T: T, lengths: [T, T])
        step.keyStart = pads
        step.blockSize = bs
        step.explicitPositions = positions
        let cache = model.makeCache(batch: B, capacity: T)
        let got = model.inferenceForward(step, cache: cache)
        var worst = 0.0
        for n in 0..<(B * T) where valid[n] {
            for v in 0..<V { worst = max(worst, abs(got[n * V + v] - expected[n * V + v])) }
        }
        XCTAssertLessThan(worst, 1e-10)
        // The same step without the block structure differs: the test can tell the masks apart.
        step.blockSize = nil
        let open = model.inferenceForward(step, cache: model.makeCache(batch: B, capacity: T))
        XCTAssertGreaterThan(abs(open[0] - expected[0]), 1e-6)
    }

    /// dLLM stops after a block once every row has an EOS in it.
    func testStopsAfterTheBlockWhereEveryRowHasAnEOS() throws {
        let model = inferenceModel(Fixtures.randomLlama(Double.self))
        let config = BD3LMSamplerConfig(steps: 16, genLength: 16, blockSize: 4)
        let free = try sample(model, [[3, 4, 5]], config)
        XCTAssertEqual(free.answers[0].count, 16)
        let eos = free.answers[0][5]  // a token of the second block
        let stopped = try sample(model, [[3, 4, 5]], config, eos: eos)
        let firstBlockWithEOS = free.answers[0].firstIndex(of: eos)! / 4
        XCTAssertEqual(stopped.answers[0], Array(free.answers[0].prefix(4 * (firstBlockWithEOS + 1))))
        XCTAssertThrowsError(try sample(model, [[3]], BD3LMSamplerConfig(steps: 4, genLength: 4, blockSize: 2, cache: .dual)))
        XCTAssertThrowsError(try sample(model, [[3, Int32(model.vocabularySize - 1)]], config))
    }
}
