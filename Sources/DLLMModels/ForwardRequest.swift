import DLLMCompute

/// What one forward pass is asked for, whatever the architecture (``LlamaForward``, ``GPT2Forward``):
/// the tokens, where keys and values come from, which rows' logits are wanted, and the block hooks.
struct ForwardRequest<S: ComputeScalar> {
    /// (B·T) token ids and their positions.
    let ids: [Int32], positions: [Int32]
    /// Batch rows and queries per row.
    let B: Int, T: Int
    let attention: ForwardAttention<S>
    /// Rows of `0 ..< B·T` whose logits are wanted (nil for all): the final norm and head run on these only.
    let logitRows: [Int]?
    /// Called around each block (training, where a parallel strategy installs them).
    let hooks: BlockHooks?

    /// A training pass over `batch` whose attention (`.full` or `.tiled`) saves what its backward needs,
    /// with logits on `logitRows` (ascending) or on every row.
    init(training batch: TokenBatch, attention: ForwardAttention<S>, logitRows: [Int]? = nil, hooks: BlockHooks?) {
        ids = batch.ids
        positions = batch.positions
        B = batch.B
        T = batch.T
        self.attention = attention
        self.logitRows = logitRows
        self.hooks = hooks
    }

    /// An inference pass for `step`, its keys and values in `cache` (whose workspace lends the attention scratch).
    init(inference step: InferenceStep, cache: KVCache<S>) {
        ids = step.ids
        positions = step.positions
        B = step.B
        T = step.Tq
        let scores = cache.workspace(InferenceBuffer.scores.rawValue, count: cachedAttentionScratchCount(Tq: step.Tq, capacity: cache.capacity))
        attention = .cached(cache, step, scratch: scores)
        logitRows = step.logitRows
        hooks = nil
    }
}

/// `rows` (ascending indices into `0 ..< N`, or nil for all) as runs of consecutive rows: each run's
/// rows in the (N, ·) source and where the run starts among the selected rows. A training pass
/// normalises and differentiates the selected rows of the last residual run by run, where they lie.
func logitRowRuns(_ rows: [Int]?, N: Int) -> [(source: Range<Int>, selected: Int)] {
    guard let rows else { return [(0..<N, 0)] }
    var runs: [(source: Range<Int>, selected: Int)] = []
    for (j, row) in rows.enumerated() {
        precondition(row >= 0 && row < N && (j == 0 || row > rows[j - 1]), "logitRowRuns: rows must ascend within 0..<\(N)")
        if let last = runs.last, last.source.upperBound == row {
            runs[runs.count - 1].source = last.source.lowerBound..<(row + 1)
        } else {
            runs.append((row..<(row + 1), j))
        }
    }
    return runs
}

/// How one forward pass's attention finds its keys and values: the option that makes a single
/// forward serve both training and cached inference (every architecture's forward calls
/// ``attend(layer:_:ldo:_:ldq:_:ldk:_:ldv:B:T:NH:NKV:HD:)`` once per layer).
enum ForwardAttention<S: ComputeScalar> {
    /// Training: the `T` queries of each batch row attend to that row's `T` keys under `mask`
    /// (`attentionForward`), layer `l`'s probabilities saved in `probabilities[l]`, (B, NH, T, T), for backward;
    /// the products in `precision` (bf16 under `bf16: true`).
    case full(mask: AttentionMask, probabilities: [Buffer<S>], precision: AttentionPrecision = .native)
    /// Training without the (T, T) matrix (`tiledAttentionForward`): layer `l`'s (B, NH, T)
    /// log-sum-exp saved in `logsumexp[l]` for `tiledAttentionBackward`; the products in `precision`.
    case tiled(mask: AttentionMask, logsumexp: [Buffer<S>], precision: AttentionPrecision = .native)
    /// Inference: the step's keys and values are written to its slots of `cache`, then its queries
    /// attend over the cached slots (`cachedAttentionForward`); `scratch` holds
    /// `cachedAttentionScratchCount(Tq:capacity:)` scalars.
    case cached(KVCache<S>, InferenceStep, scratch: UnsafeMutablePointer<S>)

    /// A training pass's attention over the per-layer buffers its activations keep: (B, NH, T)
    /// log-sum-exps when `tiled`, else (B, NH, T, T) probabilities.
    static func training(mask: AttentionMask, saved: [Buffer<S>], tiled: Bool, precision: AttentionPrecision) -> ForwardAttention {
        tiled ? .tiled(mask: mask, logsumexp: saved, precision: precision) : .full(mask: mask, probabilities: saved, precision: precision)
    }

    /// `out` (B·T, ldo) = attention of `q` (B·T, ldq) over `k`, `v` (B·T, ldk/ldv) for layer `l`,
    /// query head `h` at column `h·HD`, key/value head `h / (NH/NKV)`.
    func attend(layer l: Int, _ out: UnsafeMutablePointer<S>, ldo: Int,
                _ q: UnsafeMutablePointer<S>, ldq: Int, _ k: UnsafeMutablePointer<S>, ldk: Int,
                _ v: UnsafeMutablePointer<S>, ldv: Int, B: Int, T: Int, NH: Int, NKV: Int, HD: Int) {
        switch self {
        case let .full(mask, probabilities, precision):
            attentionForward(out, ldo: ldo, probabilities[l].pointer, q, ldq: ldq, k, ldk: ldk, v, ldv: ldv,
                             mask: mask, B: B, T: T, NH: NH, NKV: NKV, HD: HD, precision: precision)
        case let .tiled(mask, logsumexp, precision):
            tiledAttentionForward(out, ldo: ldo, logsumexp[l].pointer, q, ldq: ldq, k, ldk: ldk, v, ldv: ldv,
                                  mask: mask, B: B, T: T, NH: NH, NKV: NKV, HD: HD, precision: precision)
        case let .cached(cache, step, scores):
            cache.store(layer: l, keys: k, ldk: ldk, values: v, ldv: ldv, B: B, Tq: T, queryStart: step.queryStart)
            cachedAttentionForward(out, ldo: ldo, q, ldq: ldq, keys: cache.keys[l].pointer, values: cache.values[l].pointer,
                                   capacity: cache.capacity, scratch: scores, queryStart: step.queryStart,
                                   keyLength: step.keyLength, causal: step.causal, keyStart: step.keyStart,
                                   blockSize: step.blockSize, B: B, Tq: T, NH: NH, NKV: NKV, HD: HD, half: cache.halfCache(layer: l))
        }
    }
}

extension InferenceStep {
    /// (B·Tq) position of every query: `explicitPositions`, or slot `queryStart[b] + i`.
    var positions: [Int32] {
        if let explicitPositions { return explicitPositions }
        var positions = [Int32](repeating: 0, count: B * Tq)
        for b in 0..<B {
            for i in 0..<Tq { positions[b * Tq + i] = Int32(queryStart[b] + i) }
        }
        return positions
    }
}
