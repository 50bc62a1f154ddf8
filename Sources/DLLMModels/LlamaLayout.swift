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

/// Saved activations for backward and the per-layer gradient scratch, for a (B, T) batch.
final class LlamaActivations<S: ComputeScalar> {
    let B: Int, T: Int
    var residual: [Buffer<S>] = []     // L+1 × (N, C)
    var ln1: [Buffer<S>] = [], ln1Rstd: [Buffer<S>] = []   // (N, C), (N)
    var q: [Buffer<S>] = [], k: [Buffer<S>] = [], v: [Buffer<S>] = []  // (N, NH·HD), (N, NKV·HD) ×2, after rotary
    // qkNorm only (else empty): projections before the per-head norm, and its (N·NH), (N·NKV) rstd.
    var qRaw: [Buffer<S>] = [], kRaw: [Buffer<S>] = [], qRstd: [Buffer<S>] = [], kRstd: [Buffer<S>] = []
    var att: [Buffer<S>] = []          // (B, NH, T, T)
    var atty: [Buffer<S>] = []         // (N, NH·HD)
    var res2: [Buffer<S>] = []         // (N, C)
    var ln2: [Buffer<S>] = [], ln2Rstd: [Buffer<S>] = []
    var gate: [Buffer<S>] = [], up: [Buffer<S>] = [], swiglu: [Buffer<S>] = []  // (N, I)
    let lnf: Buffer<S>, lnfRstd: Buffer<S>   // (N, C), (N)
    let logits: Buffer<S>                    // (N, V)
    let lse: Buffer<S>, losses: Buffer<S>    // (N)
    let scratchC: Buffer<S>                  // (N, C)
    let grads: Grads
    /// MoE layers' routing and expert activations (nil for dense layers), refilled by every forward.
    var moe: [MixtureOfExpertsActivations<S>?] = []

    /// Gradient scratch reused by every layer in backward.
    struct Grads {
        let residual: Buffer<S>, ln: Buffer<S>          // (N, C)
        let wide: Buffer<S>, gate: Buffer<S>, up: Buffer<S>  // (N, I)
        let atty: Buffer<S>, q: Buffer<S>, k: Buffer<S>, v: Buffer<S>
        let scores: Buffer<S>                           // (T, T)
    }

    init(spec s: LlamaSpec, B: Int, T: Int) {
        self.B = B
        self.T = T
        let N = B * T, C = s.hidden, QD = s.heads * s.headDim, KVD = s.kvHeads * s.headDim, I = s.intermediate
        func buf(_ n: Int) -> Buffer<S> { Buffer(count: n) }
        residual = (0...s.layers).map { _ in buf(N * C) }
        moe = [MixtureOfExpertsActivations<S>?](repeating: nil, count: s.layers)
        for _ in 0..<s.layers {
            ln1.append(buf(N * C)); ln1Rstd.append(buf(N))
            q.append(buf(N * QD)); k.append(buf(N * KVD)); v.append(buf(N * KVD))
            if s.qkNorm {
                qRaw.append(buf(N * QD)); kRaw.append(buf(N * KVD))
                qRstd.append(buf(N * s.heads)); kRstd.append(buf(N * s.kvHeads))
            }
            att.append(buf(B * s.heads * T * T)); atty.append(buf(N * QD))
            res2.append(buf(N * C)); ln2.append(buf(N * C)); ln2Rstd.append(buf(N))
            gate.append(buf(N * I)); up.append(buf(N * I)); swiglu.append(buf(N * I))
        }
        lnf = buf(N * C); lnfRstd = buf(N)
        logits = buf(N * s.vocab)
        lse = buf(N); losses = buf(N)
        scratchC = buf(N * C)
        grads = Grads(residual: buf(N * C), ln: buf(N * C), wide: buf(N * I), gate: buf(N * I), up: buf(N * I),
                      atty: buf(N * QD), q: buf(N * QD), k: buf(N * KVD), v: buf(N * KVD), scores: buf(attentionScratchCount(T: T)))
    }

    func fits(B: Int, T: Int) -> Bool { self.B == B && self.T == T }
}
