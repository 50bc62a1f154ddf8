import DLLMCompute

/// Offsets of one block's tensors in the flat buffer.
struct LlamaLayerOffsets {
    var attnNorm = 0, q = 0, k = 0, v = 0, o = 0, mlpNorm = 0, gate = 0, up = 0, down = 0
    var qBias: Int?, kBias: Int?, vBias: Int?
    var qNorm: Int?, kNorm: Int?   // (HD) each, Qwen3's per-head query/key norms
    /// LLaDA-MoE's sparse MLP, in place of gate/up/down (which are then unused).
    var moe: MixtureOfExpertsOffsets?
}

/// Where every LLaMA-family tensor lives: embedding, then each block contiguously
/// (so FSDP can shard and gather a block as one slice), then final norm and head.
struct LlamaOffsets {
    var embedding = 0
    var layers: [LlamaLayerOffsets] = []
    var finalNorm = 0
    /// The output head: the embedding itself when tied.
    var head = 0
    /// The Edit Flows heads (``LlamaSpec/editFlowHeads``), in the final block.
    var editFlow: EditFlowHeadOffsets?

    static func build(_ s: LlamaSpec) -> (ParameterLayout, LlamaOffsets, [Range<Int>]) {
        var layout = ParameterLayout()
        var o = LlamaOffsets()
        var blocks: [Range<Int>] = []
        let n = s.names, C = s.hidden, QD = s.heads * s.headDim, KVD = s.kvHeads * s.headDim
        precondition(!s.qkNorm || (n.qNorm != nil && n.kNorm != nil), "LlamaSpec: \(s.naming) checkpoints have no query/key norms")
        o.embedding = layout.append(n.embedding, [s.vocab, C])
        blocks.append(0..<layout.count)
        for l in 0..<s.layers {
            let start = layout.count
            var w = LlamaLayerOffsets()
            w.attnNorm = layout.append(n.attnNorm.layer(l), [C])
            w.q = layout.append(n.q.layer(l) + ".weight", [QD, C])
            if s.qkvBias { w.qBias = layout.append(n.q.layer(l) + ".bias", [QD]) }
            if s.qkNorm { w.qNorm = layout.append(n.qNorm!.layer(l), [s.headDim]) }
            w.k = layout.append(n.k.layer(l) + ".weight", [KVD, C])
            if s.qkvBias { w.kBias = layout.append(n.k.layer(l) + ".bias", [KVD]) }
            if s.qkNorm { w.kNorm = layout.append(n.kNorm!.layer(l), [s.headDim]) }
            w.v = layout.append(n.v.layer(l) + ".weight", [KVD, C])
            if s.qkvBias { w.vBias = layout.append(n.v.layer(l) + ".bias", [KVD]) }
            w.o = layout.append(n.o.layer(l), [C, QD])
            w.mlpNorm = layout.append(n.mlpNorm.layer(l), [C])
            if let m = s.mixtureOfExperts, m.moeLayers[l] {
                w.moe = MixtureOfExpertsOffsets.append(to: &layout, layer: l, spec: m, hidden: C)
            } else {
                w.gate = layout.append(n.gate.layer(l), [s.intermediate, C])
                w.up = layout.append(n.up.layer(l), [s.intermediate, C])
                w.down = layout.append(n.down.layer(l), [C, s.intermediate])
            }
            o.layers.append(w)
            blocks.append(start..<layout.count)
        }
        let start = layout.count
        o.finalNorm = layout.append(n.finalNorm, [C])
        o.head = s.tiedEmbeddings ? o.embedding : layout.append(n.head, [s.vocab, C])
        if s.tiedEmbeddings { layout.tie(n.head, to: n.embedding) }
        if s.editFlowHeads { o.editFlow = EditFlowHeadOffsets.append(to: &layout, vocab: s.vocab, hidden: C) }
        blocks.append(start..<layout.count)
        return (layout, o, blocks)
    }
}

/// Saved activations for backward and the per-layer gradient scratch, for up to `rows` = B·T rows.
///
/// With `checkpointed`, only the residual stream (L + 1 buffers) is kept per layer: every other
/// per-layer array holds L references to one shared buffer, which backward refills by running the
/// layer's forward again. With `tiled` attention a layer keeps its (B, NH, T) log-sum-exp instead of
/// its (B, NH, T, T) probabilities. The final norm's output and the logits hold `headRows` rows
/// (the rows the head runs on, ≤ B·T). A smaller batch reuses the buffers (row-major prefixes).
final class LlamaActivations<S: ComputeScalar> {
    /// Capacity: rows (B·T) and, for the full kernel, B·T·T (probabilities per head).
    let rows: Int, squareRows: Int, headRows: Int
    let tiled: Bool, checkpointed: Bool
    /// bf16 products without adapters: the block linears' inputs (ln1, ln2, the SwiGLU output) are
    /// kept only as packed bf16 rows, the form every product and weight gradient reads (the same
    /// rounding, so the same numbers), and their float32 buffers are one scratch all layers share.
    let bf16Inputs: Bool
    var ln1Packed: [BFloat16Rows] = [], ln2Packed: [BFloat16Rows] = [], swigluPacked: [BFloat16Rows] = []  // (N, C), (N, C), (N, I)
    /// With `bf16Inputs`, also the gate and up outputs, rounded to bf16 as autocast's products
    /// return them (SwiGLU reads the rounded values); their float32 buffers are a shared scratch.
    var gateBF16: [BFloat16Rows] = [], upBF16: [BFloat16Rows] = []  // (N·I) plain values each
    var residual: [Buffer<S>] = []     // L+1 × (N, C)
    var ln1: [Buffer<S>] = [], ln1Rstd: [Buffer<S>] = []   // (N, C), (N)
    var q: [Buffer<S>] = [], k: [Buffer<S>] = [], v: [Buffer<S>] = []  // (N, NH·HD), (N, NKV·HD) ×2, after rotary
    // qkNorm only (else empty): projections before the per-head norm, and its (N·NH), (N·NKV) rstd.
    var qRaw: [Buffer<S>] = [], kRaw: [Buffer<S>] = [], qRstd: [Buffer<S>] = [], kRstd: [Buffer<S>] = []
    var att: [Buffer<S>] = []          // (B, NH, T, T) probabilities, or (B, NH, T) log-sum-exp when tiled
    var atty: [Buffer<S>] = []         // (N, NH·HD)
    var res2: [Buffer<S>] = []         // (N, C)
    var ln2: [Buffer<S>] = [], ln2Rstd: [Buffer<S>] = []
    var gate: [Buffer<S>] = [], up: [Buffer<S>] = [], swiglu: [Buffer<S>] = []  // (N, I)
    let lnf: Buffer<S>, lnfRstd: Buffer<S>   // (R, C), (R), R = headRows
    let logits: Buffer<S>                    // (R, V)
    let lse: Buffer<S>, losses: Buffer<S>    // (R)
    let scratchC: Buffer<S>                  // (N, C)
    let grads: Grads
    /// MoE layers' routing and expert activations (nil for dense layers; one set shared by every
    /// MoE layer when checkpointed), refilled by every forward.
    var moe: [MixtureOfExpertsActivations<S>?] = []

    /// Gradient scratch reused by every layer in backward.
    struct Grads {
        let residual: Buffer<S>, ln: Buffer<S>          // (N, C)
        let wide: Buffer<S>, gate: Buffer<S>, up: Buffer<S>  // (N, I)
        let atty: Buffer<S>, q: Buffer<S>, k: Buffer<S>, v: Buffer<S>
        let scores: Buffer<S>                           // (threads, T, T), full kernel only
        let moe: MixtureOfExpertsGradients<S>?          // MoE models only
    }

    init(spec s: LlamaSpec, B: Int, T: Int, headRows R: Int, tiled: Bool, checkpointed: Bool, bf16Inputs: Bool) {
        let N = B * T, C = s.hidden, QD = s.heads * s.headDim, KVD = s.kvHeads * s.headDim, I = s.intermediate
        rows = N
        headRows = R
        squareRows = tiled ? 0 : N * T
        self.tiled = tiled
        self.checkpointed = checkpointed
        self.bf16Inputs = bf16Inputs
        func buf(_ n: Int) -> Buffer<S> { Buffer(count: n) }
        /// One buffer per layer, or one shared by every layer when checkpointed.
        func perLayer(_ n: Int) -> [Buffer<S>] {
            if checkpointed { return Array(repeating: buf(n), count: s.layers) }
            return (0..<s.layers).map { _ in buf(n) }
        }
        /// A linear's float32 input: per layer, or one shared scratch when kept in bf16.
        func linearInput(_ n: Int) -> [Buffer<S>] { bf16Inputs ? Array(repeating: buf(n), count: s.layers) : perLayer(n) }
        /// With `bf16Inputs`, one bf16 buffer per layer (one shared when checkpointed); else none.
        func bf16PerLayer(_ make: () -> BFloat16Rows) -> [BFloat16Rows] {
            guard bf16Inputs else { return [] }
            if checkpointed { return Array(repeating: make(), count: s.layers) }
            return (0..<s.layers).map { _ in make() }
        }
        ln1Packed = bf16PerLayer { BFloat16Rows(rows: N, width: C) }
        ln2Packed = bf16PerLayer { BFloat16Rows(rows: N, width: C) }
        swigluPacked = bf16PerLayer { BFloat16Rows(rows: N, width: I) }
        gateBF16 = bf16PerLayer { BFloat16Rows(count: N * I) }
        upBF16 = bf16PerLayer { BFloat16Rows(count: N * I) }
        residual = (0...s.layers).map { _ in buf(N * C) }
        if let m = s.mixtureOfExperts {
            let shared = checkpointed ? MixtureOfExpertsActivations<S>(tokens: N, spec: m, hidden: C) : nil
            moe = (0..<s.layers).map { l in
                m.moeLayers[l] ? shared ?? MixtureOfExpertsActivations(tokens: N, spec: m, hidden: C) : nil
            }
        } else {
            moe = [MixtureOfExpertsActivations<S>?](repeating: nil, count: s.layers)
        }
        ln1 = linearInput(N * C); ln1Rstd = perLayer(N)
        q = perLayer(N * QD); k = perLayer(N * KVD); v = perLayer(N * KVD)
        if s.qkNorm {
            qRaw = perLayer(N * QD); kRaw = perLayer(N * KVD)
            qRstd = perLayer(N * s.heads); kRstd = perLayer(N * s.kvHeads)
        }
        att = perLayer(tiled ? N * s.heads : N * s.heads * T); atty = perLayer(N * QD)
        res2 = perLayer(N * C); ln2 = linearInput(N * C); ln2Rstd = perLayer(N)
        gate = linearInput(N * I); up = linearInput(N * I); swiglu = linearInput(N * I)
        lnf = buf(R * C); lnfRstd = buf(R)
        logits = buf(R * s.vocab)
        lse = buf(R); losses = buf(R)
        scratchC = buf(N * C)
        grads = Grads(residual: buf(N * C), ln: buf(N * C), wide: buf(N * I), gate: buf(N * I), up: buf(N * I),
                      atty: buf(N * QD), q: buf(N * QD), k: buf(N * KVD), v: buf(N * KVD),
                      scores: buf(tiled ? 0 : attentionScratchCount(T: T)),
                      moe: s.mixtureOfExperts.map { MixtureOfExpertsGradients(tokens: N, spec: $0, hidden: C) })
    }

    /// Whether a (B, T) batch with the head on `headRows` rows fits these buffers as prefixes, under the same options.
    func fits(B: Int, T: Int, headRows R: Int, tiled: Bool, checkpointed: Bool, bf16Inputs: Bool) -> Bool {
        guard self.tiled == tiled, self.checkpointed == checkpointed, self.bf16Inputs == bf16Inputs,
              B * T <= rows, R <= headRows else { return false }
        return tiled || (B * T * T <= squareRows && attentionScratchCount(T: T) <= grads.scores.count)
    }
}
