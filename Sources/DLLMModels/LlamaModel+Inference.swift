import DLLMCompute

/// Scratch buffers of the inference forwards, by index into `KVCache.workspace`.
enum InferenceBuffer: Int {
    case residual, normed, query, key, value, attention, projection, wideA, wideB, mean, rstd, scores, rows, rowMean, rowRstd, logits
    /// Quantised activation rows or a dequantised matrix (``quantizedLinear``).
    case quantizedScratch
}

extension LlamaModel {
    public func makeCache(batch: Int, capacity: Int) -> KVCache<S> {
        precondition(capacity <= spec.maxPositions, "LlamaModel: cache of \(capacity) slots exceeds \(spec.maxPositions) positions")
        return KVCache(layers: spec.layers, batch: batch, capacity: capacity, width: spec.kvHeads * spec.headDim)
    }

    /// The training forward's arithmetic (same kernels, same order per layer) without
    /// saved activations, over `step`'s queries only, with keys/values from `cache`;
    /// the final norm and head run on `step.logitRows` only. Mirrors LLaDA's
    /// `LLaDAModel.forward(..., past_key_values, use_cache=True)` as Fast-dLLM calls it.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func inferenceForward(_ step: InferenceStep, cache: KVCache<S>) -> UnsafeMutablePointer<S> {
        let B = step.B, Tq = step.Tq, N = B * Tq
        let C = spec.hidden, L = spec.layers, NH = spec.heads, NKV = spec.kvHeads, HD = spec.headDim
        let I = spec.intermediate, V = spec.vocab, QD = NH * HD, KVD = NKV * HD
        precondition(cache.B == B && cache.layers == L && cache.width == KVD, "LlamaModel: cache does not fit this model and batch")
        let p = parameters.pointer, o = offsets, eps = S(spec.rmsNormEps)
        let quantized = quantizedWeights
        // Every matrix as (C, OC), the head separately; with quantized weights the fp32 matrices
        // that remain are read in place (.outIn), so no transposed copy is made.
        let t = quantized == nil ? transposedWeights(cache) : nil
        func ws(_ b: InferenceBuffer, _ count: Int) -> UnsafeMutablePointer<S> { cache.workspace(b.rawValue, count: count) }
        /// out (N, OC) = inp (N, C) · W + bias for the matrix at `offset` of the flat buffer (`transposed`
        /// its (C, OC) copy), or its quantized form.
        func linear(_ out: UnsafeMutablePointer<S>, _ inp: UnsafePointer<S>, _ matrix: QuantizedMatrix?, offset: Int,
                    transposed: UnsafePointer<S>?, _ bias: UnsafePointer<S>?, N: Int, C: Int, OC: Int) {
            if let matrix {
                precondition(matrix.rows == OC && matrix.cols == C, "LlamaModel: quantized matrix (\(matrix.rows), \(matrix.cols)) for (\(OC), \(C))")
                let scratch = UnsafeMutableRawPointer(ws(.quantizedScratch, quantizedLinearScratchBytes(matrix, N: N) / MemoryLayout<S>.stride + 1))
                quantizedLinear(UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self),
                                UnsafeRawPointer(inp).assumingMemoryBound(to: Float.self), matrix,
                                bias.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) }, N: N, scratch: scratch)
            } else if let transposed {
                inferenceLinear(out, inp, transposed, bias, N: N, C: C, OC: OC, layout: .inOut)
            } else {
                inferenceLinear(out, inp, p + offset, bias, N: N, C: C, OC: OC, layout: .outIn)
            }
        }
        /// Quantized products sharing the input `inp` (N, C): (output, matrix, bias offset) each.
        func group(_ items: [(UnsafeMutablePointer<S>, QuantizedMatrix, Int?)], _ inp: UnsafePointer<S>, N: Int, C: Int) {
            let parts = items.map { out, matrix, bias in
                precondition(matrix.cols == C, "LlamaModel: quantized matrix (\(matrix.rows), \(matrix.cols)) for input width \(C)")
                return QuantizedProduct(out: UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self), matrix: matrix,
                                        bias: bias.map { UnsafeRawPointer(p + $0).assumingMemoryBound(to: Float.self) })
            }
            let scratch = UnsafeMutableRawPointer(ws(.quantizedScratch, quantizedLinearGroupScratchBytes(parts, N: N) / MemoryLayout<S>.stride + 1))
            quantizedLinearGroup(parts, UnsafeRawPointer(inp).assumingMemoryBound(to: Float.self), N: N, scratch: scratch)
        }
        let x = ws(.residual, N * C), ln = ws(.normed, N * C), rstd = ws(.rstd, N * NH)  // NH ≥ NKV rows for qkNorm
        let q = ws(.query, N * QD), k = ws(.key, N * KVD), v = ws(.value, N * KVD)
        let atty = ws(.attention, N * QD), proj = ws(.projection, N * C)
        let gate = ws(.wideA, N * I), up = ws(.wideB, N * I)
        let scores = ws(.scores, cachedAttentionScratchCount(Tq: Tq, capacity: cache.capacity))
        var positions = [Int32](repeating: 0, count: N)
        for b in 0..<B {
            for i in 0..<Tq { positions[b * Tq + i] = Int32(step.queryStart[b] + i) }
        }

        if let table = quantized?.embedding {
            // Only the looked-up rows are dequantised.
            let out = UnsafeMutableRawPointer(x).assumingMemoryBound(to: Float.self)
            for (n, id) in step.ids.enumerated() {
                precondition(id >= 0 && Int(id) < V, "LlamaModel: token id \(id) outside the vocabulary of \(V)")
                table.dequantizeRows(Int(id)..<Int(id) + 1, into: out + n * C)
            }
        } else {
            step.ids.withUnsafeBufferPointer { ids in
                embeddingForward(x, ids.baseAddress!, p + o.embedding, N: N, C: C, V: V)
            }
        }
        positions.withUnsafeBufferPointer { pos in
            for l in 0..<L {
                let w = o.layers[l], qw = quantized?.layers[l]
                func tw(_ offset: Int) -> UnsafePointer<S>? { t.map { $0.layers + offset } }
                rmsnormForward(ln, rstd, x, p + w.attnNorm, N: N, C: C, eps: eps)
                if let mq = qw?.q, let mk = qw?.k, let mv = qw?.v {
                    group([(q, mq, w.qBias), (k, mk, w.kBias), (v, mv, w.vBias)], ln, N: N, C: C)
                } else {
                    linear(q, ln, qw?.q, offset: w.q, transposed: tw(w.q), w.qBias.map { p + $0 }, N: N, C: C, OC: QD)
                    linear(k, ln, qw?.k, offset: w.k, transposed: tw(w.k), w.kBias.map { p + $0 }, N: N, C: C, OC: KVD)
                    linear(v, ln, qw?.v, offset: w.v, transposed: tw(w.v), w.vBias.map { p + $0 }, N: N, C: C, OC: KVD)
                }
                if let qn = w.qNorm, let kn = w.kNorm {  // Qwen3: per-head norms, in place
                    rmsnormForward(q, rstd, q, p + qn, N: N * NH, C: HD, eps: eps)
                    rmsnormForward(k, rstd, k, p + kn, N: N * NKV, C: HD, eps: eps)
                }
                rotary.apply(q, positions: pos.baseAddress!, N: N, heads: NH, ld: QD)
                rotary.apply(k, positions: pos.baseAddress!, N: N, heads: NKV, ld: KVD)
                cache.store(cache.keys, layer: l, k, ld: KVD, B: B, Tq: Tq, queryStart: step.queryStart)
                cache.store(cache.values, layer: l, v, ld: KVD, B: B, Tq: Tq, queryStart: step.queryStart)
                cachedAttentionForward(atty, ldo: QD, q, ldq: QD, keys: cache.keys[l].pointer, values: cache.values[l].pointer,
                                       capacity: cache.capacity, scratch: scores, queryStart: step.queryStart,
                                       keyLength: step.keyLength, causal: step.causal, B: B, Tq: Tq, NH: NH, NKV: NKV, HD: HD)
                linear(proj, atty, qw?.o, offset: w.o, transposed: tw(w.o), nil, N: N, C: QD, OC: C)
                residualForward(x, x, proj, count: N * C)
                rmsnormForward(ln, rstd, x, p + w.mlpNorm, N: N, C: C, eps: eps)
                if let mg = qw?.gate, let mu = qw?.up {
                    group([(gate, mg, nil), (up, mu, nil)], ln, N: N, C: C)
                } else {
                    linear(gate, ln, qw?.gate, offset: w.gate, transposed: tw(w.gate), nil, N: N, C: C, OC: I)
                    linear(up, ln, qw?.up, offset: w.up, transposed: tw(w.up), nil, N: N, C: C, OC: I)
                }
                swigluForward(gate, gate, up, count: N * I)
                linear(proj, gate, qw?.down, offset: w.down, transposed: tw(w.down), nil, N: N, C: I, OC: C)
                residualForward(x, x, proj, count: N * C)
            }
        }
        let R = step.logitCount
        let rows = ws(.rows, R * C), logits = ws(.logits, R * V), rowRstd = ws(.rowRstd, R)
        let selected = gatherRows(step.logitRows, of: x, N: N, width: C, workspace: cache, buffer: .normed)
        rmsnormForward(rows, rowRstd, selected, p + o.finalNorm, N: R, C: C, eps: eps)
        linear(logits, rows, quantized?.head, offset: o.head, transposed: t?.head, nil, N: R, C: C, OC: V)
        return logits
    }
}

extension LlamaModel {
    /// The cache's transposed copies of the weights, built on first use: `layers` mirrors the
    /// blocks of the flat buffer with every matrix stored (C, OC) at its own offset, `head` is (C, V).
    /// (Norm weights and biases are read from `parameters`.)
    func transposedWeights(_ cache: KVCache<S>) -> (layers: UnsafePointer<S>, head: UnsafePointer<S>) {
        if cache.transposedWeights.isEmpty {
            let p = parameters.pointer
            // Only the blocks' span is stored; the returned pointer is offset back so that
            // `layers + w.q` addresses it with the flat buffer's offsets.
            let base = blockRanges[1].lowerBound, end = blockRanges[spec.layers].upperBound
            let layers = Buffer<S>(count: end - base), head = Buffer<S>(count: spec.vocab * spec.hidden)
            let C = spec.hidden, QD = spec.heads * spec.headDim, KVD = spec.kvHeads * spec.headDim, I = spec.intermediate
            for w in offsets.layers {
                for (offset, OC, IC) in [(w.q, QD, C), (w.k, KVD, C), (w.v, KVD, C), (w.o, C, QD),
                                         (w.gate, I, C), (w.up, I, C), (w.down, C, I)] {
                    transpose(layers.pointer + (offset - base), p + offset, rows: OC, cols: IC)
                }
            }
            transpose(head.pointer, p + offsets.head, rows: spec.vocab, cols: C)
            cache.transposedWeights = [layers, head]
        }
        let base = blockRanges[1].lowerBound
        return (UnsafePointer(cache.transposedWeights[0].pointer - base), UnsafePointer(cache.transposedWeights[1].pointer))
    }
}

/// The rows of `source` (N, width) that `selection` names, gathered into workspace
/// buffer `buffer`, or `source` itself when there is no selection.
func gatherRows<S: ComputeScalar>(_ selection: [Int]?, of source: UnsafeMutablePointer<S>, N: Int, width: Int,
                                  workspace cache: KVCache<S>, buffer: InferenceBuffer) -> UnsafeMutablePointer<S> {
    guard let selection else { return source }
    let target = cache.workspace(buffer.rawValue, count: max(selection.count, N) * width)
    precondition(target != source, "gatherRows: the gather buffer is the source")
    for (r, n) in selection.enumerated() {
        precondition(n >= 0 && n < N, "gatherRows: row \(n) outside 0..<\(N)")
        (target + r * width).update(from: source + n * width, count: width)
    }
    return target
}
