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
        // A quantized model (a GGUF) keeps an IEEE half copy of keys and values for decoding, as llama.cpp does.
        return KVCache(layers: spec.layers, batch: batch, capacity: capacity, width: spec.kvHeads * spec.headDim,
                       halfCopy: quantizedWeights != nil && useHalfKeyValueCache)
    }

    /// The inference use of the one forward pass (``LlamaForward``): no saved activations, `step`'s
    /// queries only, keys/values written to and read from `cache`, the final norm and head on
    /// `step.logitRows` only, matrices transposed or quantized. Mirrors LLaDA's
    /// `LLaDAModel.forward(..., past_key_values, use_cache=True)` as Fast-dLLM calls it.
    public func inferenceForward(_ step: InferenceStep, cache: KVCache<S>) -> UnsafeMutablePointer<S> {
        precondition(cache.B == step.B && cache.layers == spec.layers && cache.width == spec.kvHeads * spec.headDim,
                     "LlamaModel: cache does not fit this model and batch")
        // Every matrix as (C, OC), the head separately; with quantized weights the fp32 matrices
        // that remain are read in place (.outIn), so no transposed copy is made.
        let matrices: LlamaForward<S>.Matrices = quantizedWeights.map { .quantized($0) }
            ?? { let t = transposedWeights(cache); return .transposed(layers: t.layers, head: t.head) }()
        let scratch = LlamaLayerBuffers(scratch: cache, spec: spec, N: step.B * step.Tq)
        return LlamaForward(model: self, request: ForwardRequest(inference: step, cache: cache),
                            storage: .scratch(scratch, cache: cache), matrices: matrices).run()
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
                // A MoE layer's sparse MLP reads the flat matrices (``mixtureOfExpertsForward``).
                let mlp = w.moe == nil ? [(w.gate, I, C), (w.up, I, C), (w.down, C, I)] : []
                for (offset, OC, IC) in [(w.q, QD, C), (w.k, KVD, C), (w.v, KVD, C), (w.o, C, QD)] + mlp {
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
    precondition(selection.allSatisfy { $0 >= 0 && $0 < N }, "gatherRows: a row outside 0..<\(N)")
    gather(rows: selection, of: source, width: width, into: target)
    return target
}
