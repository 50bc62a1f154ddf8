import DLLMCompute

extension GPT2Model {
    public func makeCache(batch: Int, capacity: Int) -> KVCache<S> {
        precondition(capacity <= config.nPositions, "GPT2Model: cache of \(capacity) slots exceeds n_positions \(config.nPositions)")
        return KVCache(layers: config.nLayer, batch: batch, capacity: capacity, width: config.nEmbd)
    }

    /// The training forward's arithmetic without saved activations, over `step`'s
    /// queries with keys/values from `cache` (HF `GPT2LMHeadModel.forward` with
    /// `past_key_values`); the final LayerNorm and the tied head run on
    /// `step.logitRows` only.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func inferenceForward(_ step: InferenceStep, cache: KVCache<S>) -> UnsafeMutablePointer<S> {
        let B = step.B, Tq = step.Tq, N = B * Tq
        let C = config.nEmbd, L = config.nLayer, NH = config.nHead, HD = C / NH, F = config.inner, V = config.vocabSize
        precondition(cache.B == B && cache.layers == L && cache.width == C, "GPT2Model: cache does not fit this model and batch")
        let p = parameters.pointer, o = offsets, eps = S(config.eps)
        func ws(_ b: InferenceBuffer, _ count: Int) -> UnsafeMutablePointer<S> { cache.workspace(b.rawValue, count: count) }
        let x = ws(.residual, N * C), ln = ws(.normed, N * C), mean = ws(.mean, N), rstd = ws(.rstd, N)
        let qkv = ws(.query, N * 3 * C), atty = ws(.attention, N * C), proj = ws(.projection, N * C)
        let fc = ws(.wideA, N * F)
        let scores = ws(.scores, cachedAttentionScratchCount(Tq: Tq, capacity: cache.capacity))
        var positions = [Int32](repeating: 0, count: N)
        for b in 0..<B {
            for i in 0..<Tq { positions[b * Tq + i] = Int32(step.queryStart[b] + i) }
        }
        step.ids.withUnsafeBufferPointer { ids in
            positions.withUnsafeBufferPointer { pos in
                embeddingForward(x, ids.baseAddress!, p + o.wte, N: N, C: C, V: V,
                                 positions: pos.baseAddress!, positionTable: p + o.wpe, P: config.nPositions)
            }
        }
        for l in 0..<L {
            let w = o.layers[l]
            layernormForward(ln, mean, rstd, x, p + w.ln1w, p + w.ln1b, N: N, C: C, eps: eps)
            inferenceLinear(qkv, ln, p + w.attnW, p + w.attnB, N: N, C: C, OC: 3 * C, layout: .inOut)
            cache.store(cache.keys, layer: l, qkv, ld: 3 * C, column: C, B: B, Tq: Tq, queryStart: step.queryStart)
            cache.store(cache.values, layer: l, qkv, ld: 3 * C, column: 2 * C, B: B, Tq: Tq, queryStart: step.queryStart)
            cachedAttentionForward(atty, ldo: C, qkv, ldq: 3 * C, keys: cache.keys[l].pointer, values: cache.values[l].pointer,
                                   capacity: cache.capacity, scratch: scores, queryStart: step.queryStart,
                                   keyLength: step.keyLength, causal: step.causal, B: B, Tq: Tq, NH: NH, NKV: NH, HD: HD)
            inferenceLinear(proj, atty, p + w.projW, p + w.projB, N: N, C: C, OC: C, layout: .inOut)
            residualForward(x, x, proj, count: N * C)
            layernormForward(ln, mean, rstd, x, p + w.ln2w, p + w.ln2b, N: N, C: C, eps: eps)
            inferenceLinear(fc, ln, p + w.fcW, p + w.fcB, N: N, C: C, OC: F, layout: .inOut)
            geluForward(fc, fc, count: N * F, kind: config.gelu)
            inferenceLinear(proj, fc, p + w.mlpProjW, p + w.mlpProjB, N: N, C: F, OC: C, layout: .inOut)
            residualForward(x, x, proj, count: N * C)
        }
        let R = step.logitCount
        let rows = ws(.rows, R * C), logits = ws(.logits, R * V)
        let rowMean = ws(.rowMean, R), rowRstd = ws(.rowRstd, R)
        let selected = gatherRows(step.logitRows, of: x, N: N, width: C, workspace: cache, buffer: .normed)
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
