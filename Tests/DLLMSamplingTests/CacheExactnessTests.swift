import DLLMCompute
import DLLMModels
import DLLMSampling
import XCTest

/// When the cached modes must equal the exact sampler, and the inference path against
/// the training forward.
///
/// A prefix/dual cache reuses keys/values computed at the block's first step. With
/// bidirectional attention, layer ℓ ≥ 1 keys/values of a position depend on every
/// token, so after a step commits tokens the reused ones are stale: an approximation
/// (Fast-dLLM's). They are exact when nothing they depend on has changed:
/// - on the block's first step (the cache is built by a full forward), hence for any
///   model when every block has one step;
/// - for a one-layer model, whose keys/values depend on their own token and position
///   only (the reused positions' tokens do not change within a block);
/// - for causal attention (autoregressive decoding), where earlier positions never see later ones.
final class CacheExactnessTests: XCTestCase {
    let prompts: [[Int32]] = [[3, 14, 15, 9, 2], [6, 5], [35, 8, 9, 7, 9, 3, 2, 3]]

    func run(_ model: any InferenceModel<Double>, _ config: MDLMSamplerConfig, cache: CacheMode) throws -> MDLMOutput {
        var c = config
        c.cache = cache
        return try MDLMSampler(model: model, maskID: Int32(model.vocabularySize - 1), eosID: 0)
            .generate(prompts: prompts, config: c, noise: CounterNoise(seed: 12))
    }

    func testCachedModesEqualExactForAOneLayerModel() throws {
        let model = Fixtures.randomLlama(Double.self, layers: 1)
        for config in [MDLMSamplerConfig(steps: 24, genLength: 24, blockLength: 8),
                       MDLMSamplerConfig(steps: 12, genLength: 24, blockLength: 6, temperature: 0.8, cfgScale: 1),
                       MDLMSamplerConfig(steps: 24, genLength: 24, blockLength: 8, remasking: .random, threshold: 0.2)] {
            let exact = try run(model, config, cache: .none)
            for cache in [CacheMode.prefix, .dual] {
                let fast = try run(model, config, cache: cache)
                XCTAssertEqual(fast.sequences, exact.sequences, "\(cache) cache, \(config)")
                XCTAssertEqual(fast.stats.modelEvaluations, exact.stats.modelEvaluations)
                XCTAssertLessThan(fast.stats.evaluatedPositions, exact.stats.evaluatedPositions)
            }
        }
    }

    func testCachedModesEqualExactWhenEveryStepStartsABlock() throws {
        let model = Fixtures.randomLlama(Double.self, layers: 3)
        let config = MDLMSamplerConfig(steps: 6, genLength: 24, blockLength: 4, temperature: 0.5)
        let exact = try run(model, config, cache: .none)
        XCTAssertEqual(try run(model, config, cache: .prefix).sequences, exact.sequences)
        XCTAssertEqual(try run(model, config, cache: .dual).sequences, exact.sequences)
    }

    /// The approximation is real for a deeper model: this is what the two tests above rule out.
    func testCachedModesApproximateAMultiLayerModel() throws {
        let model = Fixtures.randomLlama(Double.self, layers: 3)
        let config = MDLMSamplerConfig(steps: 24, genLength: 24, blockLength: 8)
        let exact = try run(model, config, cache: .none)
        let dual = try run(model, config, cache: .dual)
        XCTAssertNotEqual(dual.sequences, exact.sequences)
    }

    /// Model level: a prefix or dual step on an unchanged canvas reproduces the full
    /// forward's logits for any depth; after a block token changes only the one-layer model still does.
    func checkCachedForward(_ model: any InferenceModel<Double>, expectExactAfterChange: Bool) {
        let B = 2, T = 12, V = model.vocabularySize
        var ids = (0..<(B * T)).map { Int32(($0 * 7 + 3) % (V - 1)) }
        let lengths = [12, 10]
        let block = 5..<9
        let rows = (0..<B).flatMap { b in block.map { b * T + $0 } }
        func full() -> [Double] {
            let c = model.makeCache(batch: B, capacity: T)
            let out = model.inferenceForward(.full(ids: ids, B: B, T: T, lengths: lengths, logitRows: rows), cache: c)
            return Array(UnsafeBufferPointer(start: out, count: rows.count * V))
        }
        func cached(_ cache: KVCache<Double>, dual: Bool) -> [Double] {
            let Tq = dual ? block.count : lengths.max()! - block.lowerBound
            var q = [Int32](repeating: 0, count: B * Tq)
            for b in 0..<B { for i in 0..<Tq { q[b * Tq + i] = ids[b * T + block.lowerBound + i] } }
            let logitRows = (0..<B).flatMap { b in (0..<block.count).map { b * Tq + $0 } }
            let step = InferenceStep(ids: q, B: B, Tq: Tq, queryStart: [block.lowerBound, block.lowerBound], keyLength: lengths,
                                     logitRows: logitRows)
            let out = model.inferenceForward(step, cache: cache)
            return Array(UnsafeBufferPointer(start: out, count: logitRows.count * V))
        }
        let reference = full()
        for dual in [false, true] {
            let cache = model.makeCache(batch: B, capacity: T)
            _ = model.inferenceForward(.full(ids: ids, B: B, T: T, lengths: lengths), cache: cache)
            let same = cached(cache, dual: dual)
            XCTAssertLessThan(zip(same, reference).map { abs($0 - $1) }.max()!, 1e-10, "dual \(dual): unchanged canvas")
            // Commit a token inside the block: the cache still holds keys/values from before.
            let saved = ids
            ids[block.lowerBound + 1] = 1
            ids[T + block.lowerBound + 2] = 2
            let after = cached(cache, dual: dual)
            let truth = full()
            let diff = zip(after, truth).map { abs($0 - $1) }.max()!
            if expectExactAfterChange { XCTAssertLessThan(diff, 1e-10, "dual \(dual)") } else { XCTAssertGreaterThan(diff, 1e-6, "dual \(dual)") }
            ids = saved
        }
    }

    func testCachedForwardOnLlama() {
        checkCachedForward(Fixtures.randomLlama(Double.self, layers: 2), expectExactAfterChange: false)
        checkCachedForward(Fixtures.randomLlama(Double.self, layers: 1), expectExactAfterChange: true)
    }

    /// Qwen3's per-head query/key norms on the cached path (prefix and dual steps).
    func testCachedForwardOnQwen3() throws {
        checkCachedForward(try Fixtures.model("qwen3", as: Double.self), expectExactAfterChange: false)
    }

    func testCachedForwardOnGPT2() throws {
        checkCachedForward(try Fixtures.model("gpt2", as: Double.self), expectExactAfterChange: false)
    }

    /// The inference path computes the training forward's logits (all fixture models,
    /// with right padding, bidirectional and causal).
    func testInferenceForwardMatchesTrainingForward() throws {
        for (name, causal) in [("llada", false), ("llama_gqa", true), ("qwen2", true), ("gpt2", true), ("qwen3", true), ("qwen3", false)] {
            let loaded = try ModelFolder.load(Fixtures.models.appendingPathComponent(name), as: Float.self).model
            let B = 2, T = 9, V = loaded.vocabularySize
            let lengths = [9, 6]
            let ids = (0..<(B * T)).map { Int32(($0 * 5 + 1) % V) }
            let pad = lengths.flatMap { n in (0..<T).map { $0 < n } }
            loaded.forward(TokenBatch(ids: ids, B: B, T: T), mask: AttentionMask(causal ? .causal : .bidirectional, B: B, T: T, keyPadding: pad))
            let training = Array(UnsafeBufferPointer(start: loaded.logits, count: B * T * V))
            let inference = inferenceModel(loaded)
            let cache = inference.makeCache(batch: B, capacity: T)
            let out = inference.inferenceForward(.full(ids: ids, B: B, T: T, lengths: lengths, causal: causal), cache: cache)
            var worst: Float = 0
            for b in 0..<B {
                for t in 0..<lengths[b] {
                    for v in 0..<V {
                        let n = (b * T + t) * V + v
                        worst = max(worst, abs(out[n] - training[n]) / max(1, abs(training[n])))
                    }
                }
            }
            XCTAssertLessThan(worst, 1e-5, name)
        }
    }

    func testAutoregressiveCacheEqualsFullRecompute() throws {
        let model = Fixtures.randomLlama(Double.self, layers: 2)
        let config = ARSamplerConfig(maxNewTokens: 10, temperature: 0.9, topK: 20, topP: 0.95, stopAtEOS: false)
        var uncached = config
        uncached.useCache = false
        let a = try ARSampler(model: model, eosID: nil).generate(prompts: prompts, config: config, noise: CounterNoise(seed: 3))
        let b = try ARSampler(model: model, eosID: nil).generate(prompts: prompts, config: uncached, noise: CounterNoise(seed: 3))
        XCTAssertEqual(a.sequences, b.sequences)
        XCTAssertLessThan(a.stats.evaluatedPositions, b.stats.evaluatedPositions)
    }
}
