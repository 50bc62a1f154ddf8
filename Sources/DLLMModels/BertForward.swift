import DLLMCompute

/// The one forward pass of BERT (HF `BertModel.forward`, then the tied head), serving training
/// (``BertModel/forward(_:mask:)``) and cached inference (``BertModel/inferenceForward(_:cache:)``).
///
/// Embeddings: `LN(E[id] + P[pos] + Ttype[0])`. Per layer (post-LN, `BertLayer`):
/// `a = LN₁(x + Wₒ·Attn(Wq x, Wk x, Wv x))`, `x' = LN₂(a + W₂·GELU(W₁ a))`. Head: `h · Eᵀ` on the
/// wanted rows. The storage option chooses where intermediates live (saved per layer, or one
/// scratch set), and ``ForwardAttention`` where keys and values come from.
struct BertForward<S: ComputeScalar> {
    enum Storage {
        /// Every layer's intermediates kept for backward.
        case saved(BertActivations<S>)
        /// One scratch set reused by every layer, the head's rows from `cache`'s workspace.
        case scratch(BertLayerBuffers<S>, cache: KVCache<S>)
    }

    let model: BertModel<S>
    let storage: Storage
    let request: ForwardRequest<S>

    /// Runs the pass and returns the (`logitRows.count` or B·T, V) logits.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func run() -> UnsafeMutablePointer<S> {
        let (B, T, hooks, logitRows) = (request.B, request.T, request.hooks, request.logitRows)
        let config = model.config, N = B * T
        let C = config.hiddenSize, L = config.numHiddenLayers, V = config.vocabSize
        let p = model.parameters.pointer, o = model.offsets, eps = S(config.eps)
        hooks?.beforeForward?(0)
        let first = buffers(layer: 0)
        request.ids.withUnsafeBufferPointer { ids in
            request.positions.withUnsafeBufferPointer { pos in
                embeddingForward(first.embeddings, ids.baseAddress!, p + o.word, N: N, C: C, V: V,
                                 positions: pos.baseAddress!, positionTable: p + o.position, P: config.maxPositionEmbeddings)
            }
        }
        let type0 = p + o.tokenType
        for n in 0..<N {
            let row = first.embeddings + n * C
            for c in 0..<C { row[c] += type0[c] }
        }
        layernormForward(first.input, first.embMean, first.embRstd, first.embeddings, p + o.embLnW, p + o.embLnB, N: N, C: C, eps: eps)
        hooks?.afterForward?(0)
        for l in 0..<L {
            hooks?.beforeForward?(l + 1)
            layer(l)
            hooks?.afterForward?(l + 1)
        }
        hooks?.beforeForward?(L + 1)
        defer { hooks?.afterForward?(L + 1) }
        let x = buffers(layer: L - 1).output
        switch storage {
        case .saved(let a):
            var rows = UnsafePointer(x)
            if let logitRows {  // the head on these rows only (a masked-diffusion loss reads no others)
                gather(rows: logitRows, of: x, width: C, into: a.headRows.pointer)
                rows = UnsafePointer(a.headRows.pointer)
            }
            trainingLinearForward(a.logits.pointer, rows, p + o.word, nil, N: logitRows?.count ?? N, C: C, OC: V, bf16: model.bf16Matmuls)
            return a.logits.pointer
        case .scratch(_, let cache):
            let R = logitRows?.count ?? N
            let logits = cache.workspace(InferenceBuffer.logits.rawValue, count: R * V)
            let rows = gatherRows(logitRows, of: x, N: N, width: C, workspace: cache, buffer: .rows)
            inferenceLinear(logits, rows, p + o.word, nil, N: R, C: C, OC: V)
            return logits
        }
    }

    /// Block `l` from its input (`hidden[l]`) to its output (`hidden[l + 1]`): the forward's loop
    /// body, and under gradient checkpointing the recomputation backward runs just before the
    /// block's own backward (``BertModel/gradientCheckpointing``).
    func layer(_ l: Int) {
        let (B, T) = (request.B, request.T)
        let config = model.config, N = B * T
        let C = config.hiddenSize, NH = config.numAttentionHeads, HD = C / NH, F = config.intermediateSize
        let p = model.parameters.pointer, eps = S(config.eps)
        let w = model.offsets.layers[l], a = buffers(layer: l)
        linear(a.qkv, a.input, p + w.qkvW, p + w.qkvB, N: N, C: C, OC: 3 * C)
        request.attention.attend(layer: l, a.attended, ldo: C, a.qkv, ldq: 3 * C, a.qkv + C, ldk: 3 * C, a.qkv + 2 * C, ldv: 3 * C,
                                 B: B, T: T, NH: NH, NKV: NH, HD: HD)
        linear(a.projection, a.attended, p + w.attnOutW, p + w.attnOutB, N: N, C: C, OC: C)
        residualForward(a.afterAttention, a.input, a.projection, count: N * C)
        layernormForward(a.normed1, a.mean1, a.rstd1, a.afterAttention, p + w.ln1w, p + w.ln1b, N: N, C: C, eps: eps)
        linear(a.fc, a.normed1, p + w.interW, p + w.interB, N: N, C: C, OC: F)
        geluForward(a.fcGelu, a.fc, count: N * F, kind: .exact)
        linear(a.projection, a.fcGelu, p + w.outW, p + w.outB, N: N, C: F, OC: C)
        residualForward(a.afterMLP, a.normed1, a.projection, count: N * C)
        layernormForward(a.output, a.mean2, a.rstd2, a.afterMLP, p + w.ln2w, p + w.ln2b, N: N, C: C, eps: eps)
    }

    func buffers(layer l: Int) -> BertLayerBuffers<S> {
        switch storage {
        case .saved(let a): return BertLayerBuffers(saved: a, layer: l)
        case .scratch(let buffers, _): return buffers
        }
    }

    /// `out (N, OC) = inp (N, C) · Wᵀ + bias`, `W` (OC, C) as `nn.Linear` stores it.
    func linear(_ out: UnsafeMutablePointer<S>, _ inp: UnsafePointer<S>, _ weight: UnsafePointer<S>, _ bias: UnsafePointer<S>,
                N: Int, C: Int, OC: Int) {
        if case .saved = storage {
            trainingLinearForward(out, inp, weight, bias, N: N, C: C, OC: OC, bf16: model.bf16Matmuls)
        } else {
            inferenceLinear(out, inp, weight, bias, N: N, C: C, OC: OC)
        }
    }
}

/// One BERT layer's intermediates, (N, ·) each: the layer's saved activations in training; one
/// scratch set in inference, where `input` and `output` are one buffer (the block's input is
/// consumed before its output is written) and `afterAttention`/`afterMLP` share another.
struct BertLayerBuffers<S: ComputeScalar> {
    var embeddings, embMean, embRstd: UnsafeMutablePointer<S>              // (N, C), (N), (N); layer 0 only
    var input, qkv, attended, projection: UnsafeMutablePointer<S>          // (N, C), (N, 3C), (N, C), (N, C)
    var afterAttention, normed1, mean1, rstd1: UnsafeMutablePointer<S>     // (N, C), (N, C), (N), (N)
    var fc, fcGelu: UnsafeMutablePointer<S>                                // (N, F)
    var afterMLP, mean2, rstd2, output: UnsafeMutablePointer<S>            // (N, C), (N), (N), (N, C)

    init(saved a: BertActivations<S>, layer l: Int) {
        embeddings = a.embeddings.pointer; embMean = a.embMean.pointer; embRstd = a.embRstd.pointer
        input = a.hidden[l].pointer; qkv = a.qkv[l].pointer; attended = a.attended[l].pointer; projection = a.scratchC.pointer
        afterAttention = a.afterAttention[l].pointer; normed1 = a.normed1[l].pointer; mean1 = a.mean1[l].pointer; rstd1 = a.rstd1[l].pointer
        fc = a.fc[l].pointer; fcGelu = a.fcGelu[l].pointer
        afterMLP = a.afterMLP[l].pointer; mean2 = a.mean2[l].pointer; rstd2 = a.rstd2[l].pointer
        output = a.hidden[l + 1].pointer
    }

    init(scratch cache: KVCache<S>, config c: BertConfiguration, N: Int) {
        func ws(_ b: InferenceBuffer, _ count: Int) -> UnsafeMutablePointer<S> { cache.workspace(b.rawValue, count: count) }
        let C = c.hiddenSize
        input = ws(.residual, N * C); output = input
        qkv = ws(.query, N * 3 * C); attended = ws(.attention, N * C); projection = ws(.projection, N * C)
        afterAttention = ws(.key, N * C); afterMLP = afterAttention; embeddings = afterAttention
        normed1 = ws(.normed, N * C)
        mean1 = ws(.mean, N); rstd1 = ws(.rstd, N); mean2 = mean1; rstd2 = rstd1; embMean = mean1; embRstd = rstd1
        fc = ws(.wideA, N * c.intermediateSize); fcGelu = ws(.wideB, N * c.intermediateSize)
    }
}

extension BertModel {
    public func makeCache(batch: Int, capacity: Int) -> KVCache<S> {
        precondition(capacity <= config.maxPositionEmbeddings,
                     "BertModel: cache of \(capacity) slots exceeds max_position_embeddings \(config.maxPositionEmbeddings)")
        return KVCache(layers: config.numHiddenLayers, batch: batch, capacity: capacity, width: config.hiddenSize)
    }

    /// The inference use of the one forward pass (``BertForward``): no saved activations, `step`'s
    /// queries with keys/values written to and read from `cache`, the head on `step.logitRows` only.
    public func inferenceForward(_ step: InferenceStep, cache: KVCache<S>) -> UnsafeMutablePointer<S> {
        precondition(cache.B == step.B && cache.layers == config.numHiddenLayers && cache.width == config.hiddenSize,
                     "BertModel: cache does not fit this model and batch")
        let scratch = BertLayerBuffers(scratch: cache, config: config, N: step.B * step.Tq)
        return BertForward(model: self, storage: .scratch(scratch, cache: cache), request: ForwardRequest(inference: step, cache: cache)).run()
    }
}
