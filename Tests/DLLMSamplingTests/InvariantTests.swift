import DLLMCompute
import DLLMModels
import DLLMSampling
import XCTest

/// What must hold for any model and seed: the prompt is kept, the schedule is followed
/// exactly, nothing stays masked, blocks behave as specified, runs repeat.
final class InvariantTests: XCTestCase {
    let model = Fixtures.randomLlama(Double.self)
    var maskID: Int32 { Int32(model.vocabularySize - 1) }
    let prompts: [[Int32]] = [[3, 14, 15, 9, 2], [6, 5], [35, 8, 9, 7, 9, 3, 2, 3]]

    func sampler(_ m: (any InferenceModel<Double>)? = nil) throws -> MDLMSampler<Double> {
        try MDLMSampler(model: m ?? model, maskID: maskID, eosID: 0)
    }

    static let configs: [MDLMSamplerConfig] = [
        MDLMSamplerConfig(steps: 24, genLength: 24),
        MDLMSamplerConfig(steps: 12, genLength: 24, blockLength: 8, temperature: 0.8),
        MDLMSamplerConfig(steps: 7, genLength: 21, blockLength: 21, remasking: .random),
        MDLMSamplerConfig(steps: 16, genLength: 8, blockLength: 4, temperature: 1, cfgScale: 1.2),
        MDLMSamplerConfig(steps: 24, genLength: 24, blockLength: 6, cache: .prefix),
        MDLMSamplerConfig(steps: 12, genLength: 24, blockLength: 8, temperature: 0.5, cache: .dual),
        MDLMSamplerConfig(steps: 24, genLength: 24, blockLength: 8, threshold: 0.2, cache: .dual),
    ]

    func testPromptIsNeverChangedAndNoMaskRemains() throws {
        for config in Self.configs {
            let out = try sampler().generate(prompts: prompts, config: config, noise: CounterNoise(seed: 1))
            for (b, prompt) in prompts.enumerated() {
                let row = out.sequences[b]
                XCTAssertEqual(row.count, prompt.count + config.genLength)
                XCTAssertEqual(Array(row.prefix(prompt.count)), prompt, "\(config): prompt \(b) changed")
                XCTAssertFalse(out.answers[b].contains(maskID), "\(config): a mask remains in row \(b)")
            }
        }
    }

    func testEachStepCommitsExactlyTheScheduledNumberInsideTheCurrentBlock() throws {
        for config in Self.configs where config.threshold == nil {
            let block = config.blockLength ?? config.genLength
            let blocks = config.genLength / block
            // LLaDA's schedule per block, steps that commit nothing skipped.
            let perBlock = numTransferTokens(maskCount: block, steps: config.steps / blocks).filter { $0 > 0 }
            var events: [MDLMStepEvent] = []
            _ = try sampler().generate(prompts: prompts, config: config, noise: CounterNoise(seed: 2)) { events.append($0) }
            XCTAssertEqual(events.count, perBlock.count * blocks, "\(config): steps run")
            for (i, e) in events.enumerated() {
                XCTAssertEqual(e.block, i / perBlock.count)
                for b in 0..<prompts.count {
                    XCTAssertEqual(e.committed[b].count, perBlock[i % perBlock.count], "\(config): step \(i), row \(b)")
                    XCTAssertEqual(e.scheduled?[b], perBlock[i % perBlock.count])
                    let lo = prompts[b].count + e.block * block
                    XCTAssertTrue(e.committed[b].allSatisfy { (lo..<(lo + block)).contains($0) }, "\(config): commit outside block")
                    for t in e.committed[b] { XCTAssertNotEqual(e.canvas[b, t], maskID) }
                }
            }
        }
    }

    func testSemiAutoregressiveBlocksFillLeftToRight() throws {
        let config = MDLMSamplerConfig(steps: 16, genLength: 16, blockLength: 4, temperature: 0.7)
        var maxCommitted = [Int](repeating: -1, count: prompts.count)
        _ = try sampler().generate(prompts: prompts, config: config, noise: CounterNoise(seed: 3)) { e in
            for b in 0..<self.prompts.count {
                let p = self.prompts[b].count
                // Every block after the current one is still entirely masked; every block before it is done.
                for t in (p + (e.block + 1) * 4)..<(p + 16) { XCTAssertEqual(e.canvas[b, t], self.maskID) }
                for t in p..<(p + e.block * 4) { XCTAssertNotEqual(e.canvas[b, t], self.maskID) }
                maxCommitted[b] = max(maxCommitted[b], e.committed[b].max() ?? -1)
            }
        }
        XCTAssertEqual(maxCommitted, prompts.map { $0.count + 15 })
    }

    func testSingleBlockIsPureDiffusionInAnyOrder() throws {
        // block_length = gen_length: one block, commits anywhere in the answer, not left to right.
        let config = MDLMSamplerConfig(steps: 16, genLength: 16)
        var order: [Int] = []
        let out = try sampler().generate(prompts: [prompts[0]], config: config, noise: CounterNoise(seed: 4)) { e in
            XCTAssertEqual(e.block, 0)
            order += e.committed[0]
        }
        XCTAssertEqual(order.sorted(), Array(5..<21))
        XCTAssertNotEqual(order, Array(5..<21), "a random model should not decode strictly left to right")
        XCTAssertEqual(out.stats.modelEvaluations, 16)
    }

    func testSameSeedSameOutputAndSeedsDiffer() throws {
        let config = MDLMSamplerConfig(steps: 12, genLength: 24, blockLength: 8, temperature: 1, remasking: .random)
        let a = try sampler().generate(prompts: prompts, config: config, noise: CounterNoise(seed: 7))
        let b = try sampler().generate(prompts: prompts, config: config, noise: CounterNoise(seed: 7))
        let c = try sampler().generate(prompts: prompts, config: config, noise: CounterNoise(seed: 8))
        XCTAssertEqual(a.sequences, b.sequences)
        XCTAssertNotEqual(a.sequences, c.sequences)
    }

    func testARunIsIndependentOfItsBatch() throws {
        // Each row's noise is keyed by its sample key and padding is never attended to,
        // so a prompt alone and in a right-padded batch give the same tokens.
        for config in [MDLMSamplerConfig(steps: 12, genLength: 12, blockLength: 4, temperature: 0.9, cfgScale: 0.5),
                       MDLMSamplerConfig(steps: 12, genLength: 12, blockLength: 4, temperature: 0.9, cache: .dual)] {
            let batch = try sampler().generate(prompts: prompts, config: config, noise: CounterNoise(seed: 5), sampleKeys: [10, 11, 12])
            for b in 0..<prompts.count {
                let alone = try sampler().generate(prompts: [prompts[b]], config: config, noise: CounterNoise(seed: 5), sampleKeys: [10 + UInt64(b)])
                XCTAssertEqual(alone.sequences[0], batch.sequences[b], "\(config): row \(b)")
            }
        }
    }

    func testThresholdCommitsAtLeastOnePerStepAndFinishes() throws {
        let config = MDLMSamplerConfig(steps: 24, genLength: 24, blockLength: 8, threshold: 0.3, cache: .prefix)
        var events: [MDLMStepEvent] = []
        let out = try sampler().generate(prompts: prompts, config: config, noise: CounterNoise(seed: 6)) { events.append($0) }
        for e in events { XCTAssertTrue(e.committed.contains { !$0.isEmpty }); XCTAssertNil(e.scheduled) }
        for b in 0..<prompts.count { XCTAssertFalse(out.answers[b].contains(maskID)) }
        XCTAssertEqual(out.stats.committedTokens, 24 * prompts.count)
    }

    func testInfillKeepsEveryGivenToken() throws {
        let m = maskID
        let inputs: [[Int32]] = [[1, 2, m, m, m, 6, 7, m, 9], [4, m, m, m, m, m, 3]]
        for config in [MDLMSamplerConfig(steps: 8), MDLMSamplerConfig(steps: 9, blockLength: 3, temperature: 0.6, cache: .dual)] {
            let out = try sampler().infill(inputs, config: config, noise: CounterNoise(seed: 9))
            for (b, input) in inputs.enumerated() {
                XCTAssertEqual(out.sequences[b].count, input.count)
                for (t, id) in input.enumerated() {
                    if id == m { XCTAssertNotEqual(out.sequences[b][t], m) } else { XCTAssertEqual(out.sequences[b][t], id) }
                }
            }
        }
    }

    func testEarlyStopKeepsTheTextUpToTheFirstEOS() throws {
        // On the llada fixture, suppressing all but token 21 and EOS makes EOS appear early.
        let fixture = try Fixtures.model("llada", as: Double.self)
        let s = try MDLMSampler(model: fixture, maskID: 66, eosID: 65)
        let keep: Set<Int32> = [21, 65]
        var config = MDLMSamplerConfig(steps: 16, genLength: 16, blockLength: 4,
                                       suppressTokens: (0..<67).map(Int32.init).filter { !keep.contains($0) })
        let prompt: [[Int32]] = [[43, 14, 18, 11, 14]]
        let full = try s.generate(prompts: prompt, config: config)
        config.stopAtEOS = true
        let stopped = try s.generate(prompts: prompt, config: config)
        let firstEOS = try XCTUnwrap(stopped.answers[0].firstIndex(of: 65))
        XCTAssertEqual(Array(full.answers[0].prefix(firstEOS + 1)), Array(stopped.answers[0].prefix(firstEOS + 1)))
        XCTAssertTrue(stopped.answers[0][firstEOS...].allSatisfy { $0 == 65 })
        XCTAssertLessThan(stopped.stats.modelEvaluations, full.stats.modelEvaluations)
    }
}
