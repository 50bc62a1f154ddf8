import DLLMCompute

/// BERT (Devlin et al. 2019) as HF `BertModel` computes it, run as a masked-diffusion language
/// model (dLLM's BERT-Chat pipeline): word + absolute position + token-type embeddings and a
/// LayerNorm; per layer, post-LayerNorm blocks `x = LN(x + Attn(x))`, `x = LN(x + FFN(x))` with
/// exact (erf) GELU; then an output head tied to the word embeddings, without bias:
/// `logits = h · Eᵀ`. Every token has token type 0 (dllm feeds single sequences).
///
/// The head is dllm's, not HF's: sentence-encoder checkpoints such as all-MiniLM-L6-v2 carry no
/// `BertForMaskedLM` head (its dense + LayerNorm transform and bias), so the logits are the last
/// hidden state against the embedding table (docs/bert.md). Weights are `nn.Linear`'s (out, in).
/// The forward is written once (``BertForward``) for training and cached inference.
public final class BertModel<S: ComputeScalar>: LanguageModel {
    public typealias Scalar = S
    public let config: BertConfiguration
    public let layout: ParameterLayout
    public let parameters: Buffer<S>
    public let gradients: Buffer<S>
    public let blockRanges: [Range<Int>]
    let offsets: BertOffsets
    var acts: BertActivations<S>?
    var lastBatch: TokenBatch?
    public var hooks: BlockHooks?
    /// `bf16: true` (``setBF16Matmuls(_:)``): the training pass's linears, the tied head and
    /// attention's two products multiply bfloat16-rounded inputs with float32 accumulation, forward
    /// and backward (``trainingLinearForward(_:_:_:_:N:C:OC:layout:bf16:)``,
    /// ``AttentionPrecision/bfloat16``), as autocast's `linear` and `matmul` do; the LayerNorms,
    /// GELU, softmax, the loss and every stored activation stay float32.
    public private(set) var bf16Matmuls = false
    public var supportsBF16Matmuls: Bool { S.self == Float.self }
    public func setBF16Matmuls(_ on: Bool) {
        precondition(!on || supportsBF16Matmuls, "BertModel: bf16 matrix products need a Float model")
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
    public var maxPositions: Int { config.maxPositionEmbeddings }

    /// Every `LayerNorm` weight and bias (HF's Trainer skips `nn.LayerNorm` modules in weight decay).
    public var normalizationParameterNames: Set<String> { Set(layout.names.filter { $0.contains("LayerNorm.") }) }

    public init(config: BertConfiguration) {
        self.config = config
        let (layout, offsets, blocks) = BertOffsets.build(config)
        self.layout = layout
        self.offsets = offsets
        blockRanges = blocks
        parameters = Buffer(count: layout.count)
        gradients = Buffer(count: layout.count)
    }

    public var logits: UnsafeMutablePointer<S> {
        guard let acts else { preconditionFailure("BertModel: forward has not run") }
        return acts.logits.pointer
    }

    /// The training use of the one forward pass (``BertForward``): every intermediate saved for backward.
    public func forward(_ batch: TokenBatch, mask: AttentionMask) { train(batch, mask: mask, logitRows: nil) }

    /// The head on the rows a masked-diffusion loss reads: ``logits`` then holds `logitRows.count` rows.
    public var supportsLogitPositions: Bool { true }

    public func forward(_ batch: TokenBatch, mask: AttentionMask, logitRows: [Int]) {
        train(batch, mask: mask, logitRows: checkedLogitRows(logitRows, N: batch.B * batch.T, model: "BertModel"))
    }

    /// Rows the last training forward computed logits for (B·T unless narrowed).
    public var logitRowCount: Int {
        guard let batch = lastBatch else { preconditionFailure("BertModel: forward has not run") }
        return lastLogitRows?.count ?? batch.B * batch.T
    }

    func train(_ batch: TokenBatch, mask: AttentionMask, logitRows: [Int]?) {
        precondition(batch.T <= config.maxPositionEmbeddings,
                     "BertModel: sequence length \(batch.T) exceeds max_position_embeddings \(config.maxPositionEmbeddings)")
        let tiled = attentionKernel.usesTiles(B: batch.B, heads: config.numAttentionHeads, T: batch.T,
                                              layersKept: gradientCheckpointing ? 1 : config.numHiddenLayers,
                                              scalarBytes: MemoryLayout<S>.size)
        if acts == nil || !acts!.fits(B: batch.B, T: batch.T, tiled: tiled, checkpointed: gradientCheckpointing) {
            acts = nil  // free the old set before allocating the new one
            acts = BertActivations(config, B: batch.B, T: batch.T, tiled: tiled, checkpointed: gradientCheckpointing)
        }
        lastBatch = batch
        lastMask = mask
        lastLogitRows = logitRows
        _ = trainingForward(batch, mask: mask, hooks: hooks).run()
    }

    /// The training pass over the kept activations, attention full or tiled as they were built.
    func trainingForward(_ batch: TokenBatch, mask: AttentionMask, hooks: BlockHooks?) -> BertForward<S> {
        guard let a = acts else { preconditionFailure("BertModel: no activations") }
        let attention = ForwardAttention.training(mask: mask, saved: a.att, tiled: a.tiled, precision: attentionPrecision)
        let request = ForwardRequest(training: batch, attention: attention, logitRows: lastLogitRows, hooks: hooks)
        return BertForward(model: self, storage: .saved(a), request: request)
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func loss(targets: [Int32], weights: [S]?) -> Double {
        guard let a = acts, lastBatch != nil else { preconditionFailure("BertModel: loss before forward") }
        return savedLogitsLoss("BertModel", losses: a.losses, lse: a.lse, logits: a.logits, targets: targets, weights: weights,
                               N: logitRowCount, V: config.vocabSize)
    }

    /// Backward of ``loss(targets:weights:)`` through the tied head, the post-LN blocks in reverse
    /// and the embedding LayerNorm into the word, position and token-type-0 embeddings.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(targets: [Int32], weights: [S]?, dloss: S = 1) {
        guard let a = acts, let batch = lastBatch, let mask = lastMask else { preconditionFailure("BertModel: backward before forward") }
        let B = batch.B, T = batch.T, N = B * T
        let C = config.hiddenSize, L = config.numHiddenLayers, NH = config.numAttentionHeads, HD = C / NH
        let F = config.intermediateSize, V = config.vocabSize
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
        // d.x: gradient of the current block's output, (N, C).
        d.x.zero()
        if let rows = lastLogitRows {  // the head's rows: their gradient (R, C) in d.residual, then added to theirs
            d.residual.zero()
            trainingLinearBackward(d.residual.pointer, g + o.word, nil, a.logits.pointer, a.headRows.pointer, p + o.word, N: R, C: C, OC: V, bf16: bf16)
            scatterAdd(rows: rows, from: d.residual.pointer, width: C, into: d.x.pointer)
        } else {
            trainingLinearBackward(d.x.pointer, g + o.word, nil, a.logits.pointer, a.hidden[L].pointer, p + o.word, N: N, C: C, OC: V, bf16: bf16)
        }
        hooks?.afterBackward?(L + 1)
        for l in stride(from: L - 1, through: 0, by: -1) {
            hooks?.beforeBackward?(l + 1)
            defer { hooks?.afterBackward?(l + 1) }
            recompute?.layer(l)
            let w = o.layers[l]
            // Output LayerNorm: d.residual = ∂/∂(h1 + FFN(h1)).
            d.residual.zero()
            layernormBackward(d.residual.pointer, g + w.ln2w, g + w.ln2b, d.x.pointer, a.afterMLP[l].pointer, p + w.ln2w,
                              a.mean2[l].pointer, a.rstd2[l].pointer, N: N, C: C)
            d.wide.zero()
            trainingLinearBackward(d.wide.pointer, g + w.outW, g + w.outB, d.residual.pointer, a.fcGelu[l].pointer, p + w.outW, N: N, C: F, OC: C, bf16: bf16)
            d.fc.zero()
            geluBackward(d.fc.pointer, d.wide.pointer, a.fc[l].pointer, count: N * F, kind: .exact)
            d.x.pointer.update(from: d.residual.pointer, count: N * C)
            trainingLinearBackward(d.x.pointer, g + w.interW, g + w.interB, d.fc.pointer, a.normed1[l].pointer, p + w.interW, N: N, C: C, OC: F, bf16: bf16)
            // Attention LayerNorm: d.residual = ∂/∂(x + Attn(x)).
            d.residual.zero()
            layernormBackward(d.residual.pointer, g + w.ln1w, g + w.ln1b, d.x.pointer, a.afterAttention[l].pointer, p + w.ln1w,
                              a.mean1[l].pointer, a.rstd1[l].pointer, N: N, C: C)
            d.attended.zero()
            trainingLinearBackward(d.attended.pointer, g + w.attnOutW, g + w.attnOutB, d.residual.pointer, a.attended[l].pointer, p + w.attnOutW,
                                   N: N, C: C, OC: C, bf16: bf16)
            d.qkv.zero()
            let qkv = a.qkv[l].pointer, dqkv = d.qkv.pointer
            if a.tiled {
                tiledAttentionBackward(dqkv, dqkv + C, dqkv + 2 * C, d.attended.pointer, a.attended[l].pointer, ldo: C, a.att[l].pointer,
                                       qkv, ldq: 3 * C, qkv + C, ldk: 3 * C, qkv + 2 * C, ldv: 3 * C,
                                       mask: mask, B: B, T: T, NH: NH, NKV: NH, HD: HD, precision: attentionPrecision)
            } else {
                attentionBackward(dqkv, dqkv + C, dqkv + 2 * C, d.scores.buffer, d.attended.pointer, ldo: C, a.att[l].pointer,
                                  qkv, ldq: 3 * C, qkv + C, ldk: 3 * C, qkv + 2 * C, ldv: 3 * C, B: B, T: T, NH: NH, NKV: NH, HD: HD,
                                  precision: attentionPrecision)
            }
            d.x.pointer.update(from: d.residual.pointer, count: N * C)
            trainingLinearBackward(d.x.pointer, g + w.qkvW, g + w.qkvB, dqkv, a.hidden[l].pointer, p + w.qkvW, N: N, C: C, OC: 3 * C, bf16: bf16)
        }
        hooks?.beforeBackward?(0)
        defer { hooks?.afterBackward?(0) }
        d.residual.zero()
        layernormBackward(d.residual.pointer, g + o.embLnW, g + o.embLnB, d.x.pointer, a.embeddings.pointer, p + o.embLnW,
                          a.embMean.pointer, a.embRstd.pointer, N: N, C: C)
        batch.ids.withUnsafeBufferPointer { ids in
            batch.positions.withUnsafeBufferPointer { pos in
                embeddingBackward(g + o.word, d.residual.pointer, ids.baseAddress!, N: N, C: C,
                                  positions: pos.baseAddress!, dpositionTable: g + o.position)
            }
        }
        // Every token has type 0: its row gathers the whole gradient.
        let dtype0 = g + o.tokenType
        for n in 0..<N {
            let row = d.residual.pointer + n * C
            for c in 0..<C { dtype0[c] += row[c] }
        }
    }
}

struct BertLayerOffsets {
    /// Query, key and value weights stored back to back, (3C, C), and so their biases, (3C):
    /// one `nn.Linear`-layout product computes all three.
    var qkvW = 0, qkvB = 0, attnOutW = 0, attnOutB = 0, ln1w = 0, ln1b = 0
    var interW = 0, interB = 0, outW = 0, outB = 0, ln2w = 0, ln2b = 0
}

/// BERT's tensors in HF `BertModel` naming (no `bert.` prefix, as sentence-transformers saves it).
struct BertOffsets {
    var word = 0, position = 0, tokenType = 0, embLnW = 0, embLnB = 0
    var layers: [BertLayerOffsets] = []

    static func build(_ c: BertConfiguration) -> (ParameterLayout, BertOffsets, [Range<Int>]) {
        var layout = ParameterLayout()
        var o = BertOffsets()
        var blocks: [Range<Int>] = []
        let C = c.hiddenSize, F = c.intermediateSize
        o.word = layout.append("embeddings.word_embeddings.weight", [c.vocabSize, C])
        o.position = layout.append("embeddings.position_embeddings.weight", [c.maxPositionEmbeddings, C])
        o.tokenType = layout.append("embeddings.token_type_embeddings.weight", [c.tokenTypes, C])
        o.embLnW = layout.append("embeddings.LayerNorm.weight", [C])
        o.embLnB = layout.append("embeddings.LayerNorm.bias", [C])
        blocks.append(0..<layout.count)
        for l in 0..<c.numHiddenLayers {
            let start = layout.count
            let h = "encoder.layer.\(l)."
            var w = BertLayerOffsets()
            w.qkvW = layout.append(h + "attention.self.query.weight", [C, C])
            _ = layout.append(h + "attention.self.key.weight", [C, C])
            _ = layout.append(h + "attention.self.value.weight", [C, C])
            w.qkvB = layout.append(h + "attention.self.query.bias", [C])
            _ = layout.append(h + "attention.self.key.bias", [C])
            _ = layout.append(h + "attention.self.value.bias", [C])
            w.attnOutW = layout.append(h + "attention.output.dense.weight", [C, C])
            w.attnOutB = layout.append(h + "attention.output.dense.bias", [C])
            w.ln1w = layout.append(h + "attention.output.LayerNorm.weight", [C])
            w.ln1b = layout.append(h + "attention.output.LayerNorm.bias", [C])
            w.interW = layout.append(h + "intermediate.dense.weight", [F, C])
            w.interB = layout.append(h + "intermediate.dense.bias", [F])
            w.outW = layout.append(h + "output.dense.weight", [C, F])
            w.outB = layout.append(h + "output.dense.bias", [C])
            w.ln2w = layout.append(h + "output.LayerNorm.weight", [C])
            w.ln2b = layout.append(h + "output.LayerNorm.bias", [C])
            o.layers.append(w)
            blocks.append(start..<layout.count)
        }
        // The head has no tensor of its own: it reads the word embeddings under BertForMaskedLM's
        // name for its tied decoder (so parallel strategies keep block 0 gathered for it), and an
        // empty block keeps blockRanges' "embedding, each block, head" shape.
        layout.tie("cls.predictions.decoder.weight", to: "embeddings.word_embeddings.weight")
        blocks.append(layout.count..<layout.count)
        return (layout, o, blocks)
    }
}

/// Allocated for the first batch's (B, T) and kept for every later batch that fits (B·T rows and
/// B·T² attention entries at most; issue 19's variable-length batches): each pass uses the
/// first B·T rows of every buffer, so a shorter batch runs on views of the same memory.
/// `tiled`: attention keeps (B, NH, T) log-sum-exps instead of (B, NH, T, T) probabilities.
/// `checkpointed`: every block shares one set of intermediates (backward recomputes each block
/// into it); only the L + 1 block inputs (`hidden`) are kept per layer.
final class BertActivations<S: ComputeScalar> {
    /// Capacity: rows (B·T) and attention entries per head (B·T², 0 when tiled).
    let rows: Int, squareRows: Int
    let tiled: Bool, checkpointed: Bool
    let embeddings: Buffer<S>, embMean: Buffer<S>, embRstd: Buffer<S>  // (N, C), (N), (N)
    var hidden: [Buffer<S>] = []                                         // L+1 × (N, C): block inputs, then the last hidden state
    var qkv: [Buffer<S>] = []                                            // (N, 3C)
    var att: [Buffer<S>] = []                                            // (B, NH, T, T), or (B, NH, T) when tiled
    var attended: [Buffer<S>] = [], afterAttention: [Buffer<S>] = []     // (N, C)
    var normed1: [Buffer<S>] = [], mean1: [Buffer<S>] = [], rstd1: [Buffer<S>] = []
    var fc: [Buffer<S>] = [], fcGelu: [Buffer<S>] = []                   // (N, F)
    var afterMLP: [Buffer<S>] = [], mean2: [Buffer<S>] = [], rstd2: [Buffer<S>] = []
    let logits: Buffer<S>, lse: Buffer<S>, losses: Buffer<S>, scratchC: Buffer<S>
    let headRows: Buffer<S>                                              // (R, C): the last hidden state's rows the head runs on
    let grads: Grads

    struct Grads {
        let x: Buffer<S>, residual: Buffer<S>, attended: Buffer<S>   // (N, C)
        let qkv: Buffer<S>                                          // (N, 3C)
        let wide: Buffer<S>, fc: Buffer<S>                          // (N, F)
        let scores: Buffer<S>                                       // attentionScratchCount(T:), none when tiled
    }

    init(_ c: BertConfiguration, B: Int, T: Int, tiled: Bool, checkpointed: Bool) {
        rows = B * T
        squareRows = tiled ? 0 : B * T * T
        self.tiled = tiled
        self.checkpointed = checkpointed
        let N = B * T, C = c.hiddenSize, F = c.intermediateSize
        func buf(_ n: Int) -> Buffer<S> { Buffer(count: n) }
        embeddings = buf(N * C); embMean = buf(N); embRstd = buf(N)
        hidden = (0...c.numHiddenLayers).map { _ in buf(N * C) }
        for _ in 0..<(checkpointed ? 1 : c.numHiddenLayers) {
            qkv.append(buf(N * 3 * C)); att.append(buf(B * c.numAttentionHeads * T * (tiled ? 1 : T)))
            attended.append(buf(N * C)); afterAttention.append(buf(N * C))
            normed1.append(buf(N * C)); mean1.append(buf(N)); rstd1.append(buf(N))
            fc.append(buf(N * F)); fcGelu.append(buf(N * F))
            afterMLP.append(buf(N * C)); mean2.append(buf(N)); rstd2.append(buf(N))
        }
        logits = buf(N * c.vocabSize); lse = buf(N); losses = buf(N); scratchC = buf(N * C); headRows = buf(N * C)
        grads = Grads(x: buf(N * C), residual: buf(N * C), attended: buf(N * C), qkv: buf(N * 3 * C),
                      wide: buf(N * F), fc: buf(N * F), scores: buf(tiled ? 0 : attentionScratchCount(T: T)))
        if checkpointed {  // layer l's intermediates are the one shared set
            for list in [\BertActivations.qkv, \.att, \.attended, \.afterAttention, \.normed1, \.mean1, \.rstd1, \.fc, \.fcGelu,
                         \.afterMLP, \.mean2, \.rstd2] {
                self[keyPath: list] = Array(repeating: self[keyPath: list][0], count: c.numHiddenLayers)
            }
        }
    }

    func fits(B: Int, T: Int, tiled: Bool, checkpointed: Bool) -> Bool {
        guard self.tiled == tiled, self.checkpointed == checkpointed, B * T <= rows else { return false }
        return tiled || (B * T * T <= squareRows && attentionScratchCount(T: T) <= grads.scores.count)
    }
}
