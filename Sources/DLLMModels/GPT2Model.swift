import DLLMCompute

/// GPT-2 (Radford et al. 2019) as HF `GPT2LMHeadModel` computes it: token plus learned
/// position embeddings, pre-LayerNorm blocks with a fused QKV `Conv1D`, GELU MLP,
/// final LayerNorm and an output head tied to the token embedding. Weights stay in
/// Conv1D's (in, out) layout, so checkpoints load and save without transposes.
/// Used for DiffuGPT-style adaptation of an autoregressive model into a diffusion one.
/// The forward is written once (``GPT2Forward``) for training and cached inference.
public final class GPT2Model<S: ComputeScalar>: LanguageModel {
    public typealias Scalar = S
    public let config: GPT2Configuration
    public let layout: ParameterLayout
    public let parameters: Buffer<S>
    public let gradients: Buffer<S>
    public let blockRanges: [Range<Int>]
    let offsets: GPT2Offsets
    var acts: GPT2Activations<S>?
    var lastBatch: TokenBatch?
    public var hooks: BlockHooks?
    /// `bf16: true` (``setBF16Matmuls(_:)``): the training pass's Conv1D linears, the tied head and
    /// attention's two products multiply bfloat16-rounded inputs with float32 accumulation, forward
    /// and backward (``trainingLinearForward(_:_:_:_:N:C:OC:layout:bf16:)``,
    /// ``AttentionPrecision/bfloat16``), as autocast's `addmm`, `linear` and `matmul` do; the
    /// LayerNorms, GELU, softmax, the loss and every stored activation stay float32.
    public private(set) var bf16Matmuls = false
    public var supportsBF16Matmuls: Bool { S.self == Float.self }
    public func setBF16Matmuls(_ on: Bool) {
        precondition(!on || supportsBF16Matmuls, "GPT2Model: bf16 matrix products need a Float model")
        bf16Matmuls = on
    }
    var attentionPrecision: AttentionPrecision { bf16Matmuls ? .bfloat16 : .native }
    /// Full attention (saved probabilities) or tiled (no T×T matrix); `.automatic` tiles when the
    /// kept probabilities would pass ``AttentionKernel/fullAttentionBudget``.
    public var attentionKernel: AttentionKernel = .automatic
    /// HF `gradient_checkpointing`: keep only each block's input, recompute the block in backward.
    public var gradientCheckpointing = false
    public var supportsGradientCheckpointing: Bool { true }
    public func setGradientCheckpointing(_ on: Bool) { gradientCheckpointing = on }
    var lastMask: AttentionMask?
    var lastLogitRows: [Int]?

    public var architecture: any ModelArchitecture { config }
    public var vocabularySize: Int { config.vocabSize }
    public var maxPositions: Int { config.nPositions }

    /// `ln_1`, `ln_2` and `ln_f` are `nn.LayerNorm` in HF's GPT-2, so the Trainer skips
    /// their weights and biases by module type (their names match no pattern).
    public var normalizationParameterNames: Set<String> {
        Set(layout.names.filter { name in
            name.hasPrefix("transformer.ln_f.") || name.contains(".ln_1.") || name.contains(".ln_2.")
        })
    }

    public init(config: GPT2Configuration) {
        self.config = config
        let (layout, offsets, blocks) = GPT2Offsets.build(config)
        self.layout = layout
        self.offsets = offsets
        blockRanges = blocks
        parameters = Buffer(count: layout.count)
        gradients = Buffer(count: layout.count)
    }

    public var logits: UnsafeMutablePointer<S> {
        guard let acts else { preconditionFailure("GPT2Model: forward has not run") }
        return acts.logits.pointer
    }

    /// The training use of the one forward pass (``GPT2Forward``): every intermediate saved for backward.
    public func forward(_ batch: TokenBatch, mask: AttentionMask) { train(batch, mask: mask, logitRows: nil) }

    /// The final norm and head on the rows a masked-diffusion loss reads: ``logits`` then holds
    /// `logitRows.count` rows.
    public var supportsLogitPositions: Bool { true }

    public func forward(_ batch: TokenBatch, mask: AttentionMask, logitRows: [Int]) {
        train(batch, mask: mask, logitRows: checkedLogitRows(logitRows, N: batch.B * batch.T, model: "GPT2Model"))
    }

    /// Rows the last training forward computed logits for (B·T unless narrowed).
    public var logitRowCount: Int {
        guard let batch = lastBatch else { preconditionFailure("GPT2Model: forward has not run") }
        return lastLogitRows?.count ?? batch.B * batch.T
    }

    func train(_ batch: TokenBatch, mask: AttentionMask, logitRows: [Int]?) {
        precondition(batch.T <= config.nPositions, "GPT2Model: sequence length \(batch.T) exceeds n_positions \(config.nPositions)")
        let tiled = attentionKernel.usesTiles(B: batch.B, heads: config.nHead, T: batch.T,
                                              layersKept: gradientCheckpointing ? 1 : config.nLayer, scalarBytes: MemoryLayout<S>.size)
        if acts == nil || !acts!.fits(B: batch.B, T: batch.T, tiled: tiled, checkpointed: gradientCheckpointing) {
            acts = nil  // free the old set before allocating the new one
            acts = GPT2Activations(config, B: batch.B, T: batch.T, tiled: tiled, checkpointed: gradientCheckpointing)
        }
        lastBatch = batch
        lastMask = mask
        lastLogitRows = logitRows
        _ = trainingForward(batch, mask: mask, hooks: hooks).run()
    }

    /// The training pass over the kept activations, attention full or tiled as they were built.
    func trainingForward(_ batch: TokenBatch, mask: AttentionMask, hooks: BlockHooks?) -> GPT2Forward<S> {
        guard let a = acts else { preconditionFailure("GPT2Model: no activations") }
        let attention = ForwardAttention.training(mask: mask, saved: a.att, tiled: a.tiled, precision: attentionPrecision)
        let request = ForwardRequest(training: batch, attention: attention, logitRows: lastLogitRows, hooks: hooks)
        return GPT2Forward(model: self, storage: .saved(a), request: request)
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func loss(targets: [Int32], weights: [S]?) -> Double {
        guard let a = acts, lastBatch != nil else { preconditionFailure("GPT2Model: loss before forward") }
        return savedLogitsLoss("GPT2Model", losses: a.losses, lse: a.lse, logits: a.logits, targets: targets, weights: weights,
                               N: logitRowCount, V: config.vocabSize)
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(targets: [Int32], weights: [S]?, dloss: S = 1) {
        guard let a = acts, let batch = lastBatch, let mask = lastMask else { preconditionFailure("GPT2Model: backward before forward") }
        let B = batch.B, T = batch.T, N = B * T
        let C = config.nEmbd, L = config.nLayer, NH = config.nHead, HD = C / NH, F = config.inner, V = config.vocabSize
        let p = parameters.pointer, g = gradients.pointer, o = offsets, d = a.grads, bf16 = bf16Matmuls, R = logitRowCount
        targets.withUnsafeBufferPointer { t in
            withOptionalPointer(weights) { w in
                crossEntropyBackward(a.logits.pointer, a.logits.pointer, a.lse.pointer, t.baseAddress!, w, dloss: dloss, N: R, V: V)
            }
        }
        // Under checkpointing, each block's intermediates are recomputed (no hooks: backward's own
        // hooks around the block already hold its parameters) just before its backward.
        let recompute = a.checkpointed ? trainingForward(batch, mask: mask, hooks: nil) : nil
        hooks?.beforeBackward?(L + 1)
        d.ln.zero()
        trainingLinearBackward(d.ln.pointer, g + o.wte, nil, a.logits.pointer, a.lnf.pointer, p + o.wte, N: R, C: C, OC: V, bf16: bf16)
        d.residual.zero()
        if let rows = lastLogitRows {  // the head's rows: their gradient (R, C) in d.atty, then added to theirs
            d.atty.zero()
            layernormBackward(d.atty.pointer, g + o.lnfw, g + o.lnfb, d.ln.pointer, a.headRows.pointer, p + o.lnfw,
                              a.lnfMean.pointer, a.lnfRstd.pointer, N: R, C: C)
            scatterAdd(rows: rows, from: d.atty.pointer, width: C, into: d.residual.pointer)
        } else {
            layernormBackward(d.residual.pointer, g + o.lnfw, g + o.lnfb, d.ln.pointer, a.residual[L].pointer, p + o.lnfw,
                              a.lnfMean.pointer, a.lnfRstd.pointer, N: N, C: C)
        }
        hooks?.afterBackward?(L + 1)
        for l in stride(from: L - 1, through: 0, by: -1) {
            hooks?.beforeBackward?(l + 1)
            defer { hooks?.afterBackward?(l + 1) }
            recompute?.layer(l)
            let w = o.layers[l]
            d.wide.zero()
            trainingLinearBackward(d.wide.pointer, g + w.mlpProjW, g + w.mlpProjB, d.residual.pointer, a.fcGelu[l].pointer, p + w.mlpProjW,
                                   N: N, C: F, OC: C, layout: .inOut, bf16: bf16)
            d.fc.zero()
            geluBackward(d.fc.pointer, d.wide.pointer, a.fc[l].pointer, count: N * F, kind: config.gelu)
            d.ln.zero()
            trainingLinearBackward(d.ln.pointer, g + w.fcW, g + w.fcB, d.fc.pointer, a.ln2[l].pointer, p + w.fcW, N: N, C: C, OC: F, layout: .inOut, bf16: bf16)
            layernormBackward(d.residual.pointer, g + w.ln2w, g + w.ln2b, d.ln.pointer, a.res2[l].pointer, p + w.ln2w,
                              a.ln2Mean[l].pointer, a.ln2Rstd[l].pointer, N: N, C: C)
            d.atty.zero()
            trainingLinearBackward(d.atty.pointer, g + w.projW, g + w.projB, d.residual.pointer, a.atty[l].pointer, p + w.projW,
                                   N: N, C: C, OC: C, layout: .inOut, bf16: bf16)
            d.qkv.zero()
            let qkv = a.qkv[l].pointer, dqkv = d.qkv.pointer
            if a.tiled {
                tiledAttentionBackward(dqkv, dqkv + C, dqkv + 2 * C, d.atty.pointer, a.atty[l].pointer, ldo: C, a.att[l].pointer,
                                       qkv, ldq: 3 * C, qkv + C, ldk: 3 * C, qkv + 2 * C, ldv: 3 * C,
                                       mask: mask, B: B, T: T, NH: NH, NKV: NH, HD: HD, precision: attentionPrecision)
            } else {
                attentionBackward(dqkv, dqkv + C, dqkv + 2 * C, d.scores.buffer, d.atty.pointer, ldo: C, a.att[l].pointer,
                                  qkv, ldq: 3 * C, qkv + C, ldk: 3 * C, qkv + 2 * C, ldv: 3 * C, B: B, T: T, NH: NH, NKV: NH, HD: HD,
                                  precision: attentionPrecision)
            }
            d.ln.zero()
            trainingLinearBackward(d.ln.pointer, g + w.attnW, g + w.attnB, dqkv, a.ln1[l].pointer, p + w.attnW, N: N, C: C, OC: 3 * C, layout: .inOut, bf16: bf16)
            layernormBackward(d.residual.pointer, g + w.ln1w, g + w.ln1b, d.ln.pointer, a.residual[l].pointer, p + w.ln1w,
                              a.ln1Mean[l].pointer, a.ln1Rstd[l].pointer, N: N, C: C)
        }
        hooks?.beforeBackward?(0)
        defer { hooks?.afterBackward?(0) }
        batch.ids.withUnsafeBufferPointer { ids in
            batch.positions.withUnsafeBufferPointer { pos in
                embeddingBackward(g + o.wte, d.residual.pointer, ids.baseAddress!, N: N, C: C,
                                  positions: pos.baseAddress!, dpositionTable: g + o.wpe)
            }
        }
    }
}

struct GPT2LayerOffsets {
    var ln1w = 0, ln1b = 0, attnW = 0, attnB = 0, projW = 0, projB = 0
    var ln2w = 0, ln2b = 0, fcW = 0, fcB = 0, mlpProjW = 0, mlpProjB = 0
}

/// GPT-2's tensors in HF `GPT2LMHeadModel` naming (`transformer.` prefix; the tied
/// `lm_head.weight` is not stored).
struct GPT2Offsets {
    var wte = 0, wpe = 0, lnfw = 0, lnfb = 0
    var layers: [GPT2LayerOffsets] = []

    static func build(_ c: GPT2Configuration) -> (ParameterLayout, GPT2Offsets, [Range<Int>]) {
        var layout = ParameterLayout()
        var o = GPT2Offsets()
        var blocks: [Range<Int>] = []
        let C = c.nEmbd, F = c.inner
        o.wte = layout.append("transformer.wte.weight", [c.vocabSize, C])
        o.wpe = layout.append("transformer.wpe.weight", [c.nPositions, C])
        blocks.append(0..<layout.count)
        for l in 0..<c.nLayer {
            let start = layout.count
            let h = "transformer.h.\(l)."
            var w = GPT2LayerOffsets()
            w.ln1w = layout.append(h + "ln_1.weight", [C]); w.ln1b = layout.append(h + "ln_1.bias", [C])
            w.attnW = layout.append(h + "attn.c_attn.weight", [C, 3 * C]); w.attnB = layout.append(h + "attn.c_attn.bias", [3 * C])
            w.projW = layout.append(h + "attn.c_proj.weight", [C, C]); w.projB = layout.append(h + "attn.c_proj.bias", [C])
            w.ln2w = layout.append(h + "ln_2.weight", [C]); w.ln2b = layout.append(h + "ln_2.bias", [C])
            w.fcW = layout.append(h + "mlp.c_fc.weight", [C, F]); w.fcB = layout.append(h + "mlp.c_fc.bias", [F])
            w.mlpProjW = layout.append(h + "mlp.c_proj.weight", [F, C]); w.mlpProjB = layout.append(h + "mlp.c_proj.bias", [C])
            o.layers.append(w)
            blocks.append(start..<layout.count)
        }
        let start = layout.count
        o.lnfw = layout.append("transformer.ln_f.weight", [C])
        o.lnfb = layout.append("transformer.ln_f.bias", [C])
        layout.tie("lm_head.weight", to: "transformer.wte.weight")
        blocks.append(start..<layout.count)
        return (layout, o, blocks)
    }
}

/// Allocated for the first batch's (B, T) and kept for every later batch that fits (B·T rows and
/// B·T² attention entries at most; issue 19's variable-length batches): each pass uses the
/// first B·T rows of every buffer, so a shorter batch runs on views of the same memory.
/// `tiled`: attention keeps (B, NH, T) log-sum-exps instead of (B, NH, T, T) probabilities.
/// `checkpointed`: every block shares one set of intermediates (backward recomputes each block
/// into it); only the residual stream's L + 1 block inputs are kept per layer.
final class GPT2Activations<S: ComputeScalar> {
    /// Capacity: rows (B·T) and attention entries per head (B·T², 0 when tiled).
    let rows: Int, squareRows: Int
    let tiled: Bool, checkpointed: Bool
    var residual: [Buffer<S>] = []                                       // L+1 × (N, C)
    var ln1: [Buffer<S>] = [], ln1Mean: [Buffer<S>] = [], ln1Rstd: [Buffer<S>] = []
    var qkv: [Buffer<S>] = []                                            // (N, 3C)
    var att: [Buffer<S>] = []                                            // (B, NH, T, T), or (B, NH, T) when tiled
    var atty: [Buffer<S>] = [], res2: [Buffer<S>] = []                   // (N, C)
    var ln2: [Buffer<S>] = [], ln2Mean: [Buffer<S>] = [], ln2Rstd: [Buffer<S>] = []
    var fc: [Buffer<S>] = [], fcGelu: [Buffer<S>] = []                   // (N, F)
    let lnf: Buffer<S>, lnfMean: Buffer<S>, lnfRstd: Buffer<S>
    let logits: Buffer<S>, lse: Buffer<S>, losses: Buffer<S>, scratchC: Buffer<S>
    let headRows: Buffer<S>                                              // (R, C): the residual stream's rows the head runs on
    let grads: Grads

    struct Grads {
        let residual: Buffer<S>, ln: Buffer<S>, atty: Buffer<S>   // (N, C)
        let qkv: Buffer<S>                                        // (N, 3C)
        let wide: Buffer<S>, fc: Buffer<S>                        // (N, F)
        let scores: Buffer<S>                                     // attentionScratchCount(T:), none when tiled
    }

    init(_ c: GPT2Configuration, B: Int, T: Int, tiled: Bool, checkpointed: Bool) {
        rows = B * T
        squareRows = tiled ? 0 : B * T * T
        self.tiled = tiled
        self.checkpointed = checkpointed
        let N = B * T, C = c.nEmbd, F = c.inner
        func buf(_ n: Int) -> Buffer<S> { Buffer(count: n) }
        residual = (0...c.nLayer).map { _ in buf(N * C) }
        for _ in 0..<(checkpointed ? 1 : c.nLayer) {
            ln1.append(buf(N * C)); ln1Mean.append(buf(N)); ln1Rstd.append(buf(N))
            qkv.append(buf(N * 3 * C)); att.append(buf(B * c.nHead * T * (tiled ? 1 : T)))
            atty.append(buf(N * C)); res2.append(buf(N * C))
            ln2.append(buf(N * C)); ln2Mean.append(buf(N)); ln2Rstd.append(buf(N))
            fc.append(buf(N * F)); fcGelu.append(buf(N * F))
        }
        lnf = buf(N * C); lnfMean = buf(N); lnfRstd = buf(N)
        logits = buf(N * c.vocabSize); lse = buf(N); losses = buf(N); scratchC = buf(N * C); headRows = buf(N * C)
        grads = Grads(residual: buf(N * C), ln: buf(N * C), atty: buf(N * C), qkv: buf(N * 3 * C),
                      wide: buf(N * F), fc: buf(N * F), scores: buf(tiled ? 0 : attentionScratchCount(T: T)))
        if checkpointed {  // layer l's intermediates are the one shared set
            for list in [\GPT2Activations.ln1, \.ln1Mean, \.ln1Rstd, \.qkv, \.att, \.atty, \.res2, \.ln2, \.ln2Mean, \.ln2Rstd,
                         \.fc, \.fcGelu] {
                self[keyPath: list] = Array(repeating: self[keyPath: list][0], count: c.nLayer)
            }
        }
    }

    func fits(B: Int, T: Int, tiled: Bool, checkpointed: Bool) -> Bool {
        guard self.tiled == tiled, self.checkpointed == checkpointed, B * T <= rows else { return false }
        return tiled || (B * T * T <= squareRows && attentionScratchCount(T: T) <= grads.scores.count)
    }
}
