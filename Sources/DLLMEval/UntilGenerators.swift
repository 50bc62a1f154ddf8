import DLLMCompute
import DLLMModels
import DLLMSampling
import DLLMTokenizers

/// One `generate_until` request as the model sees it: the context's ids after left-truncation,
/// the stop strings (the task's, then EOS's text as HFLM's `handle_stop_sequences` adds it)
/// and the document's noise key.
public struct EncodedGeneration: Equatable, Sendable {
    public var context: [Int32]
    public var until: [String]
    public var maxGenToks: Int
    /// The context lost tokens on the left to fit the model's positions.
    public var truncated: Bool
    /// Names the document's sampler noise: a function of (task, document) only, so the
    /// generated text never depends on the batch, its order or the rank.
    public var noiseKey: UInt64
}

/// Generates the answers of `generate_until` requests (generated ids, without the EOS that
/// ended them). Batches hold requests sorted by context length, longest first (lm-eval's
/// `Collator` order); batch `g` belongs to rank `g mod count`.
public protocol UntilGenerator {
    /// The most context tokens before `maxGenToks` new ones.
    func contextLimit(maxGenToks: Int) -> Int
    func generate(_ batch: [EncodedGeneration]) throws -> [[Int32]]
}

extension UntilGenerator {
    /// Runs the batches `shard` owns; nil for the requests of other ranks.
    public func generate(_ requests: [EncodedGeneration], batchSize: Int, shard: EvalShard,
                         progress: ((Int) -> Void)? = nil) throws -> [[Int32]?] {
        precondition(batchSize >= 1, "batch size must be positive")
        let order = requests.indices.sorted { a, b in
            requests[a].context.count != requests[b].context.count ? requests[a].context.count > requests[b].context.count : a < b
        }
        var results = [[Int32]?](repeating: nil, count: requests.count)
        var done = 0
        for (g, start) in stride(from: 0, to: order.count, by: batchSize).enumerated() where shard.owns(g) {
            let chunk = Array(order[start..<min(start + batchSize, order.count)])
            for (slot, answer) in zip(chunk, try generate(chunk.map { requests[$0] })) { results[slot] = answer }
            done += chunk.count
            progress?(done)
        }
        return results
    }
}

/// Greedy generation through the KV-cached autoregressive sampler, as lm-eval `HFLM.generate_until`
/// runs `model.generate(do_sample=False)`: at most `max_gen_toks` tokens, a row ends at EOS or
/// once one of its stop strings appears in the decoded last `len(tok_encode(stop)) + 2`
/// generated tokens (`MultiTokenEOSCriteria`); contexts keep their last `max_length − max_gen_toks` tokens.
public final class ARUntilGenerator: UntilGenerator {
    public let sampler: ARSampler<Float>
    public let tokenizer: BPETextTokenizer
    /// lm-eval's `max_length`: context plus generated tokens.
    public let maxLength: Int

    public init(model: any InferenceModel<Float>, tokenizer: BPETextTokenizer, eosID: Int32?, maxLength: Int? = nil) {
        sampler = ARSampler(model: model, eosID: eosID)
        self.tokenizer = tokenizer
        self.maxLength = min(maxLength ?? model.maxPositions, model.maxPositions)
    }

    public func contextLimit(maxGenToks: Int) -> Int { maxLength - maxGenToks }

    public func generate(_ batch: [EncodedGeneration]) throws -> [[Int32]] {
        guard let first = batch.first else { return [] }
        let windows = batch.map { request in
            request.until.filter { !$0.isEmpty }.map { ($0, tokenizer.encode($0, addSpecialTokens: false).count + 2) }
        }
        let config = ARSamplerConfig(maxNewTokens: first.maxGenToks, temperature: 0, useCache: true, stopAtEOS: true)
        let output = try sampler.generate(prompts: batch.map(\.context), config: config, stopRow: { row, answer in
            windows[row].contains { stop, window in
                self.tokenizer.decode(Array(answer.suffix(window)), skipSpecialTokens: false).contains(stop)
            }
        })
        return output.answers
    }
}

/// dLLM's / LLaDA's sampler settings from `--model_args` (`steps`, `gen_length`,
/// `block_length`/`block_size`, `remasking`, `threshold`, `temperature`, `use_cache`/`dual_cache`;
/// `cfg` is shared with the Monte Carlo likelihood). Unset: `gen_length` is the request's
/// `max_gen_toks`, `steps` and `block_length` equal `gen_length` (one block, a token per step).
public struct DiffusionGenerationSettings: Equatable, Sendable {
    public var steps: Int?
    public var genLength: Int?
    public var blockLength: Int?
    public var remasking = Remasking.lowConfidence
    public var threshold: Double?
    public var temperature = 0.0
    public var cache = CacheMode.none

    public init() {}

    /// The sampler configuration for requests asking for `maxGenToks` tokens.
    public func config(maxGenToks: Int, cfg: Double) -> MDLMSamplerConfig {
        let length = genLength ?? maxGenToks
        return MDLMSamplerConfig(steps: steps ?? length, genLength: length, blockLength: blockLength ?? length,
                                 temperature: temperature, remasking: remasking, cfgScale: cfg, threshold: threshold,
                                 cache: cache, stopAtEOS: true)
    }
}

/// Masked-diffusion generation (LLaDA's `generate`, dLLM's `MDLMSampler`) for `generate_until`,
/// as LLaDA's and dLLM's eval harnesses run it: `gen_length` tokens after the context, the answer
/// up to its first EOS. Each row's noise is keyed by its document (`noiseKey`) and the seed.
public final class DiffusionUntilGenerator: UntilGenerator {
    public let sampler: MDLMSampler<Float>
    public let settings: DiffusionGenerationSettings
    public let cfg: Double
    public let noise: CounterNoise
    public let maxLength: Int

    public init(sampler: MDLMSampler<Float>, settings: DiffusionGenerationSettings, cfg: Double, seed: UInt64, maxLength: Int? = nil) {
        self.sampler = sampler
        self.settings = settings
        self.cfg = cfg
        noise = CounterNoise(seed: seed)
        self.maxLength = min(maxLength ?? sampler.model.maxPositions, sampler.model.maxPositions)
    }

    public func contextLimit(maxGenToks: Int) -> Int { maxLength - settings.config(maxGenToks: maxGenToks, cfg: cfg).genLength }

    public func generate(_ batch: [EncodedGeneration]) throws -> [[Int32]] {
        guard let first = batch.first else { return [] }
        let config = settings.config(maxGenToks: first.maxGenToks, cfg: cfg)
        let output = try sampler.generate(prompts: batch.map(\.context), config: config, noise: noise,
                                          sampleKeys: batch.map(\.noiseKey))
        return output.answers.map { answer in
            guard let eos = sampler.eosID, let end = answer.firstIndex(of: eos) else { return answer }
            return Array(answer[..<end])
        }
    }
}
