import DLLMCompute
import DLLMSampling
import DLLMTokenizers
import Foundation

/// The outcome of a `generate_until` task beside `TaskEvaluation`'s documents: per document its
/// request, generated ids, response (lm-eval's `resps`, cut at the stop strings) and, per filter,
/// the extracted answer and its exact match.
public struct GenerationOutcome: Sendable {
    public var requests: [GenerateUntilRequest]
    public var encoded: [EncodedGeneration]
    public var generatedTokens: [[Int32]]
    public var responses: [String]
    /// Filter name → per-document answer (`filtered_resps`).
    public var filtered: [String: [String]]
    /// Filter name → per-document `exact_match`.
    public var exactMatch: [String: [Double]]

    public var truncations: Int { encoded.filter(\.truncated).count }
}

/// Runs `generate_until` tasks (lm-eval `ConfigurableTask` with `output_type: generate_until`
/// through `HFLM.generate_until`): one request per document, the text generated after its context
/// cut at the stop strings (`postprocess_generated_text`), each filter's answer scored by the
/// task's `exact_match` against `doc_to_target`.
public struct GenerationEvaluator {
    public var generator: any UntilGenerator
    public var tokenizer: BPETextTokenizer
    /// `--gen_kwargs`, applied over each task's `generation_kwargs`.
    public var genKwargs: String?
    public var shard: EvalShard
    public var sumOverRanks: (([Double]) -> [Double])?

    public init(generator: any UntilGenerator, tokenizer: BPETextTokenizer, genKwargs: String? = nil, shard: EvalShard = .whole,
                sumOverRanks: (([Double]) -> [Double])? = nil) {
        precondition(shard.count == 1 || sumOverRanks != nil, "a sharded evaluator needs a sum over the ranks")
        self.generator = generator
        self.tokenizer = tokenizer
        self.genKwargs = genKwargs
        self.shard = shard
        self.sumOverRanks = sumOverRanks
    }

    /// HFLM's `handle_stop_sequences`: the EOS token's text joins the stop strings.
    var eosText: String? { tokenizer.eosTokenID.map { tokenizer.decode([$0], skipSpecialTokens: false) } }

    /// Mirrors HFLM `tok_batch_encode` for one context: the tokenizer's special tokens unless the
    /// text starts with BOS's text already, then the last `limit` ids (`left_truncate_len`).
    public func encode(_ request: GenerateUntilRequest, noiseKey: UInt64) throws -> EncodedGeneration {
        let limit = generator.contextLimit(maxGenToks: request.kwargs.maxGenToks)
        guard limit > 0 else {
            throw EvalError.invalidOption(name: "max_gen_toks \(request.kwargs.maxGenToks)",
                                          detail: "leaves no room for a context in the model's length (lm-eval asserts max_length > max_gen_toks)")
        }
        let bosText = tokenizer.bosTokenID.map { tokenizer.decode([$0], skipSpecialTokens: false) }
        let startsWithBOS = bosText.map { !$0.isEmpty && request.context.hasPrefix($0) } ?? false
        let ids = tokenizer.encode(request.context, addSpecialTokens: !startsWithBOS)
        var until = request.kwargs.until
        if let eosText, !until.contains(eosText) { until.append(eosText) }
        return EncodedGeneration(context: Array(ids.suffix(limit)), until: until, maxGenToks: request.kwargs.maxGenToks,
                                 truncated: ids.count > limit, noiseKey: noiseKey)
    }

    /// The noise key of a document: its task's and its index's, mixed (never its batch or rank).
    static func noiseKey(task: String, document: Int) -> UInt64 {
        let taskKey = RequestAddress(task: task, document: document, request: 0).taskKey
        return CounterNoise.mix(taskKey ^ CounterNoise.mix(UInt64(document)))
    }

    public func evaluate(_ task: EvalTask, documents: [EvalDocument], originalCount: Int, batchSize: Int,
                         progress: ((Int, Int) -> Void)? = nil) throws -> TaskEvaluation {
        guard let settings = task.generation else { preconditionFailure("\(task.name) is not a generate_until task") }
        let kwargs = try settings.kwargs.overridden(by: genKwargs)
        let requests = documents.map { GenerateUntilRequest(context: $0.context, kwargs: kwargs) }
        let encoded = try zip(requests, documents).map { try encode($0, noiseKey: Self.noiseKey(task: task.name, document: $1.index)) }
        let owned = try generator.generate(encoded, batchSize: batchSize, shard: shard) { progress?($0, encoded.count) }
        let generated = gathered(owned)
        let responses = generated.indices.map { i in
            GenerationScoring.cut(tokenizer.decode(generated[i], skipSpecialTokens: true), at: encoded[i].until)
        }
        var filtered: [String: [String]] = [:], exactMatch: [String: [Double]] = [:]
        for filter in settings.filters {
            let answers = responses.map(filter.apply)
            filtered[filter.name] = answers
            exactMatch[filter.name] = zip(answers, documents).map { settings.exactMatch.score(prediction: $0, reference: $1.choices[0]) }
        }
        let outcome = GenerationOutcome(requests: requests, encoded: encoded, generatedTokens: generated, responses: responses,
                                        filtered: filtered, exactMatch: exactMatch)
        return TaskEvaluation(task: task, documents: documents, originalCount: originalCount, requests: [], encoded: [], answers: [],
                              scores: [], generation: outcome)
    }

    /// Every rank's generated ids on every rank: lengths, then the ids at their offsets, each
    /// written by the rank that generated it and zeros by the others, so the sums are exact.
    func gathered(_ partial: [[Int32]?]) -> [[Int32]] {
        guard shard.count > 1, let sumOverRanks else { return partial.map { $0! } }
        let lengths = sumOverRanks(partial.map { Double($0?.count ?? 0) }).map { Int($0) }
        var offsets = [0]
        for n in lengths { offsets.append(offsets.last! + n) }
        var packed = [Double](repeating: 0, count: offsets.last!)
        for (i, ids) in partial.enumerated() {
            guard let ids else { continue }
            for (j, id) in ids.enumerated() { packed[offsets[i] + j] = Double(id) }
        }
        let summed = sumOverRanks(packed)
        return lengths.indices.map { i in summed[offsets[i]..<offsets[i + 1]].map { Int32($0) } }
    }
}
