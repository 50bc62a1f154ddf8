import DLLMCompute

/// The one forward pass of GPT-2 (HF `GPT2LMHeadModel.forward`), serving training
/// (``GPT2Model/forward(_:mask:)``) and cached inference (``GPT2Model/inferenceForward(_:cache:)``).
///
/// Token plus learned position embeddings; per layer: LayerNorm → fused QKV `Conv1D` → attention →
/// projection → residual → LayerNorm → GELU MLP → residual; then the final LayerNorm and the tied
/// head on the wanted rows. The options choose where intermediates live (saved per layer, or one
/// scratch set updated in place), the product kernel (`trainingLinearForward` for training, in bf16
/// under ``GPT2Model/bf16Matmuls``; `inferenceLinear` with its few-row kernel for inference) and where keys and values come from (``ForwardAttention``).
struct GPT2Forward<S: ComputeScalar> {
    enum Storage {
        /// Every layer's intermediates kept for backward.
        case saved(GPT2Activations<S>)
        /// One scratch set reused by every layer; the head's rows and its (C, V) copy from `cache`.
        case scratch(GPT2LayerBuffers<S>, cache: KVCache<S>)
    }

    let model: GPT2Model<S>
    let storage: Storage
    let request: ForwardRequest<S>

    /// Runs the pass and returns the (`logitRows.count` or B·T, V) logits.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func run() -> UnsafeMutablePointer<S> {
        let (B, T, hooks, logitRows) = (request.B, request.T, request.hooks, request.logitRows)
        let config = model.config, N = B * T
        let C = config.nEmbd, L = config.nLayer, V = config.vocabSize
        let p = model.parameters.pointer, o = model.offsets, eps = S(config.eps)
        hooks?.beforeForward?(0)
        request.ids.withUnsafeBufferPointer { ids in
            request.positions.withUnsafeBufferPointer { pos in
                embeddingForward(buffers(layer: 0).input, ids.baseAddress!, p + o.wte, N: N, C: C, V: V,
                                 positions: pos.baseAddress!, positionTable: p + o.wpe, P: config.nPositions)
            }
        }
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
            if let logitRows {  // the final norm and head on these rows only (a masked-diffusion loss reads no others)
                gather(rows: logitRows, of: x, width: C, into: a.headRows.pointer)
                rows = UnsafePointer(a.headRows.pointer)
            }
            let R = logitRows?.count ?? N
            layernormForward(a.lnf.pointer, a.lnfMean.pointer, a.lnfRstd.pointer, rows, p + o.lnfw, p + o.lnfb, N: R, C: C, eps: eps)
            trainingLinearForward(a.logits.pointer, a.lnf.pointer, p + o.wte, nil, N: R, C: C, OC: V, bf16: model.bf16Matmuls)
            return a.logits.pointer
        case .scratch(_, let cache):
            let R = logitRows?.count ?? N
            func ws(_ b: InferenceBuffer, _ count: Int) -> UnsafeMutablePointer<S> { cache.workspace(b.rawValue, count: count) }
            let rows = ws(.rows, R * C), logits = ws(.logits, R * V)
            let rowMean = ws(.rowMean, R), rowRstd = ws(.rowRstd, R)
            let selected = gatherRows(logitRows, of: x, N: N, width: C, workspace: cache, buffer: .normed)
            layernormForward(rows, rowMean, rowRstd, selected, p + o.lnfw, p + o.lnfb, N: R, C: C, eps: eps)
            if cache.transposedWeights.isEmpty {
                let head = Buffer<S>(count: V * C)  // the tied head as (C, V)
                transpose(head.pointer, p + o.wte, rows: V, cols: C)
                cache.transposedWeights = [head]
            }
            inferenceLinear(logits, rows, cache.transposedWeights[0].pointer, nil, N: R, C: C, OC: V, layout: .inOut)
            return logits
        }
    }

    /// Block `l` from its input (the residual stream at `l`) to its output at `l + 1`: the
    /// forward's loop body, and under gradient checkpointing the recomputation backward runs just
    /// before the block's own backward (``GPT2Model/gradientCheckpointing``).
    func layer(_ l: Int) {
        let (B, T) = (request.B, request.T)
        let config = model.config, N = B * T
        let C = config.nEmbd, NH = config.nHead, HD = C / NH, F = config.inner
        let p = model.parameters.pointer, eps = S(config.eps)
        let w = model.offsets.layers[l], a = buffers(layer: l)
        layernormForward(a.normed1, a.mean1, a.rstd1, a.input, p + w.ln1w, p + w.ln1b, N: N, C: C, eps: eps)
        linear(a.qkv, a.normed1, p + w.attnW, p + w.attnB, N: N, C: C, OC: 3 * C)
        request.attention.attend(layer: l, a.attended, ldo: C, a.qkv, ldq: 3 * C, a.qkv + C, ldk: 3 * C, a.qkv + 2 * C, ldv: 3 * C,
                                 B: B, T: T, NH: NH, NKV: NH, HD: HD)
        linear(a.projection, a.attended, p + w.projW, p + w.projB, N: N, C: C, OC: C)
        residualForward(a.afterAttention, a.input, a.projection, count: N * C)
        layernormForward(a.normed2, a.mean2, a.rstd2, a.afterAttention, p + w.ln2w, p + w.ln2b, N: N, C: C, eps: eps)
        linear(a.fc, a.normed2, p + w.fcW, p + w.fcB, N: N, C: C, OC: F)
        geluForward(a.fcGelu, a.fc, count: N * F, kind: config.gelu)
        linear(a.projection, a.fcGelu, p + w.mlpProjW, p + w.mlpProjB, N: N, C: F, OC: C)
        residualForward(a.output, a.afterAttention, a.projection, count: N * C)
    }

    func buffers(layer l: Int) -> GPT2LayerBuffers<S> {
        switch storage {
        case .saved(let a): return GPT2LayerBuffers(saved: a, layer: l)
        case .scratch(let buffers, _): return buffers
        }
    }

    /// `out (N, OC) = inp (N, C) · W + bias` with `W` in Conv1D's (C, OC) layout.
    func linear(_ out: UnsafeMutablePointer<S>, _ inp: UnsafePointer<S>, _ weight: UnsafePointer<S>, _ bias: UnsafePointer<S>,
                N: Int, C: Int, OC: Int) {
        if case .saved = storage {
            trainingLinearForward(out, inp, weight, bias, N: N, C: C, OC: OC, layout: .inOut, bf16: model.bf16Matmuls)
        } else {
            inferenceLinear(out, inp, weight, bias, N: N, C: C, OC: OC, layout: .inOut)
        }
    }
}

/// One GPT-2 layer's intermediates, (N, ·) each: the layer's saved activations in training, one
/// scratch set in inference (`input`, `afterAttention`, `output` one residual updated in place,
/// `fcGelu` is `fc`, both norms share `normed`, `mean` and `rstd`).
struct GPT2LayerBuffers<S: ComputeScalar> {
    var input, normed1, mean1, rstd1: UnsafeMutablePointer<S>          // (N, C), (N, C), (N), (N)
    var qkv: UnsafeMutablePointer<S>                                   // (N, 3C)
    var attended, projection: UnsafeMutablePointer<S>                  // (N, C)
    var afterAttention, normed2, mean2, rstd2: UnsafeMutablePointer<S>  // (N, C), (N, C), (N), (N)
    var fc, fcGelu: UnsafeMutablePointer<S>                            // (N, F)
    var output: UnsafeMutablePointer<S>                                // (N, C)

    init(saved a: GPT2Activations<S>, layer l: Int) {
        input = a.residual[l].pointer; normed1 = a.ln1[l].pointer; mean1 = a.ln1Mean[l].pointer; rstd1 = a.ln1Rstd[l].pointer
        qkv = a.qkv[l].pointer; attended = a.atty[l].pointer; projection = a.scratchC.pointer
        afterAttention = a.res2[l].pointer; normed2 = a.ln2[l].pointer; mean2 = a.ln2Mean[l].pointer; rstd2 = a.ln2Rstd[l].pointer
        fc = a.fc[l].pointer; fcGelu = a.fcGelu[l].pointer
        output = a.residual[l + 1].pointer
    }

    init(scratch cache: KVCache<S>, config c: GPT2Configuration, N: Int) {
        func ws(_ b: InferenceBuffer, _ count: Int) -> UnsafeMutablePointer<S> { cache.workspace(b.rawValue, count: count) }
        let C = c.nEmbd
        input = ws(.residual, N * C); normed1 = ws(.normed, N * C); mean1 = ws(.mean, N); rstd1 = ws(.rstd, N)
        qkv = ws(.query, N * 3 * C); attended = ws(.attention, N * C); projection = ws(.projection, N * C)
        afterAttention = input; normed2 = normed1; mean2 = mean1; rstd2 = rstd1
        fc = ws(.wideA, N * c.inner); fcGelu = fc
        output = input
    }
}
