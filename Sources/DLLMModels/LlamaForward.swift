import DLLMCompute

/// The one forward pass of the LLaMA family (HF `LlamaForCausalLM`, LLaDA's `LLaDALlamaBlock`),
/// serving training (``LlamaModel/forward(_:mask:)``) and cached inference
/// (``LlamaModel/inferenceForward(_:cache:)``).
///
/// Per layer: RMSNorm → Q/K/V projections (+bias for Qwen2) → per-head Q/K RMSNorm (Qwen3) →
/// rotary → attention → output projection → residual → RMSNorm → SwiGLU MLP → residual; then the
/// final RMSNorm and the output head on the wanted rows. The options choose where intermediates
/// live (``Storage``), which kernel multiplies by a matrix (``Matrices``) and where keys and values
/// come from (``ForwardAttention``); they never change the order of the arithmetic.
struct LlamaForward<S: ComputeScalar> {
    /// Where the intermediates go.
    enum Storage {
        /// Every layer's intermediates kept for backward.
        case saved(LlamaActivations<S>)
        /// One scratch set reused by every layer (updated in place), the head's rows from `cache`.
        case scratch(LlamaLayerBuffers<S>, cache: KVCache<S>)
    }

    /// How the pass multiplies by the model's matrices.
    enum Matrices {
        /// `linearForward` over the flat buffer's (out, in) matrices: the product backward differentiates.
        case training
        /// Inference over fp32 matrices transposed to (in, out) (see ``LlamaModel/transposedWeights(_:)``):
        /// `inferenceLinear`, whose few-row kernel serves decoding. `layers` is addressed with the flat offsets.
        case transposed(layers: UnsafePointer<S>, head: UnsafePointer<S>)
        /// Inference over ggml-block matrices (`quantizedLinear`); a matrix left nil is read in place from the flat buffer.
        case quantized(QuantizedLlamaWeights)
    }

    let model: LlamaModel<S>
    let request: ForwardRequest<S>
    let storage: Storage
    let matrices: Matrices
    /// When set (training storage only), the Edit Flows heads run on the last hidden state in
    /// place of the LM head, whose logits are then left unfilled.
    var editFlowHeads: EditFlowHeadBuffers<S>? = nil

    /// Runs the pass and returns the (`logitRows.count` or B·T, V) logits.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func run() -> UnsafeMutablePointer<S> {
        let B = request.B, T = request.T, hooks = request.hooks, logitRows = request.logitRows
        let spec = model.spec, N = B * T
        let C = spec.hidden, L = spec.layers, V = spec.vocab
        let p = model.parameters.pointer, o = model.offsets, eps = S(spec.rmsNormEps)

        hooks?.beforeForward?(0)
        embed(into: buffers(layer: 0).input, N: N, C: C, V: V)
        hooks?.afterForward?(0)
        request.positions.withUnsafeBufferPointer { pos in
            for l in 0..<L {
                hooks?.beforeForward?(l + 1)
                layer(l, positions: pos.baseAddress!)
                hooks?.afterForward?(l + 1)
            }
        }
        hooks?.beforeForward?(L + 1)
        defer { hooks?.afterForward?(L + 1) }
        let x = buffers(layer: L - 1).output
        let head = headBuffers(rows: logitRows?.count ?? N, N: N, C: C, V: V)
        normalizeLogitRows(of: x, into: head.normed, rstd: head.rstd, N: N, C: C, eps: eps)
        if let editFlowHeads, let offsets = o.editFlow {
            editFlowHeadsForward(editFlowHeads, hidden: head.normed, parameters: p, offsets: offsets, N: head.rows, C: C, V: V,
                                 bf16: model.bf16Matmuls)
            return head.logits
        }
        if case .training = matrices, let copy = model.adapters?.headMatrix {
            // LoRA's modules_to_save: the head's trainable copy.
            linearForward(head.logits, head.normed, copy, nil, N: head.rows, C: C, OC: V)
            return head.logits
        }
        multiply(head.logits, head.normed, offset: o.head, transposed: transposedHead, quantized: quantizedHead,
                 frozen: frozenHead, nil, N: head.rows, C: C, OC: V)
        return head.logits
    }

    /// Block `l`: from its input (`buffers(layer: l).input`) to its output, every intermediate in
    /// `buffers(layer: l)`. Backward calls it again under gradient checkpointing; the arithmetic is
    /// the same, so the recomputed intermediates equal the first ones bit for bit.
    func layer(_ l: Int, positions pos: UnsafePointer<Int32>) {
        let B = request.B, T = request.T, N = B * T, spec = model.spec
        let C = spec.hidden, NH = spec.heads, NKV = spec.kvHeads, HD = spec.headDim
        let I = spec.intermediate, QD = NH * HD, KVD = NKV * HD
        let p = model.parameters.pointer, eps = S(spec.rmsNormEps)
        let w = model.offsets.layers[l], a = buffers(layer: l)
        rmsnormForward(a.normed1, a.rstd1, a.input, p + w.attnNorm, N: N, C: C, eps: eps)
        // With qkNorm the projections land in qRaw/kRaw and their per-head norms in q/k.
        project([(a.qRaw, .q), (a.kRaw, .k), (a.v, .v)], from: a.normed1, keptAs: a.normed1Packed, layer: l, N: N)
        if let qn = w.qNorm, let kn = w.kNorm {
            // Each head's HD values are one row: (N·NH, HD) and (N·NKV, HD).
            rmsnormForward(a.q, a.qRstd!, a.qRaw, p + qn, N: N * NH, C: HD, eps: eps)
            rmsnormForward(a.k, a.kRstd!, a.kRaw, p + kn, N: N * NKV, C: HD, eps: eps)
        }
        model.rotary.apply(a.q, positions: pos, N: N, heads: NH, ld: QD)
        model.rotary.apply(a.k, positions: pos, N: N, heads: NKV, ld: KVD)
        request.attention.attend(layer: l, a.attended, ldo: QD, a.q, ldq: QD, a.k, ldk: KVD, a.v, ldv: KVD,
                                 B: B, T: T, NH: NH, NKV: NKV, HD: HD)
        project([(a.projection, .o)], from: a.attended, layer: l, N: N)
        residualForward(a.afterAttention, a.input, a.projection, count: N * C)
        rmsnormForward(a.normed2, a.rstd2, a.afterAttention, p + w.mlpNorm, N: N, C: C, eps: eps)
        if let moe = w.moe, let m = spec.mixtureOfExperts {
            // The sparse MLP always reads the flat (out, in) matrices.
            let bf16: Bool
            if case .training = matrices { bf16 = model.bf16Matmuls } else { bf16 = false }
            let kept: MixtureOfExpertsActivations<S>
            if case .saved(let activations) = storage, let layerSet = activations.moe[l] { kept = layerSet } else {
                kept = MixtureOfExpertsActivations(tokens: N, spec: m, hidden: C)  // inference: discarded after the layer
            }
            mixtureOfExpertsForward(a.projection, a.normed2, parameters: p, offsets: moe, spec: m, N: N, C: C, bf16: bf16, into: kept)
        } else {
            project([(a.gate, .gate), (a.up, .up)], from: a.normed2, keptAs: a.normed2Packed, layer: l, N: N)
            if case .training = matrices, model.bf16Matmuls {
                // The gate and up outputs rounded as autocast's bf16 products return them; kept at
                // half the bytes where the pass keeps bf16 inputs.
                swigluForwardBF16(mutableFloats(a.swiglu), rawFloats(a.gate), rawFloats(a.up), keeping: a.gateBF16, a.upBF16, count: N * I)
            } else {
                swigluForward(a.swiglu, a.gate, a.up, count: N * I)
            }
            project([(a.projection, .down)], from: a.swiglu, keptAs: a.swigluPacked, layer: l, N: N)
        }
        residualForward(a.output, a.afterAttention, a.projection, count: N * C)
    }

    // MARK: Storage

    func buffers(layer l: Int) -> LlamaLayerBuffers<S> {
        switch storage {
        case .saved(let a): return LlamaLayerBuffers(saved: a, layer: l, qkNorm: model.spec.qkNorm)
        case .scratch(let buffers, _): return buffers
        }
    }

    /// The final norm's output and statistics and the logits, for `rows` rows.
    func headBuffers(rows R: Int, N: Int, C: Int, V: Int) -> (normed: UnsafeMutablePointer<S>, rstd: UnsafeMutablePointer<S>,
                                                            logits: UnsafeMutablePointer<S>, rows: Int) {
        switch storage {
        case .saved(let a):
            return (a.lnf.pointer, a.lnfRstd.pointer, a.logits.pointer, R)
        case .scratch(_, let cache):
            let rows = cache.workspace(InferenceBuffer.rows.rawValue, count: R * C)
            let logits = cache.workspace(InferenceBuffer.logits.rawValue, count: R * V)
            return (rows, cache.workspace(InferenceBuffer.rowRstd.rawValue, count: R), logits, R)
        }
    }

    /// The final norm of the last residual's `logitRows` (or of every row) into `normed` (rows, C).
    /// A training pass normalises each run of consecutive rows where it lies (its backward reads
    /// them there); inference gathers the rows first.
    func normalizeLogitRows(of x: UnsafeMutablePointer<S>, into normed: UnsafeMutablePointer<S>, rstd: UnsafeMutablePointer<S>,
                            N: Int, C: Int, eps: S) {
        let weight = model.parameters.pointer + model.offsets.finalNorm
        switch storage {
        case .saved:
            for run in logitRowRuns(request.logitRows, N: N) {
                rmsnormForward(normed + run.selected * C, rstd + run.selected, x + run.source.lowerBound * C, weight,
                               N: run.source.count, C: C, eps: eps)
            }
        case .scratch(_, let cache):
            let selected = gatherRows(request.logitRows, of: x, N: N, width: C, workspace: cache, buffer: .normed)
            rmsnormForward(normed, rstd, selected, weight, N: request.logitRows?.count ?? N, C: C, eps: eps)
        }
    }

    // MARK: Matrices

    func embed(into x: UnsafeMutablePointer<S>, N: Int, C: Int, V: Int) {
        var tableRows: ((Range<Int>, UnsafeMutablePointer<Float>) -> Void)?
        switch matrices {
        case .quantized(let weights): tableRows = weights.embedding.map { table in { table.dequantizeRows($0, into: $1) } }
        case .training where model.adapters?.embeddingCopy == nil:
            tableRows = model.frozenBase?.embedding.map { table in { table.dequantizeRows($0, into: $1) } }
        case .training: tableRows = nil
        case .transposed: tableRows = nil
        }
        if let tableRows {
            // Only the looked-up rows are dequantised.
            let out = mutableFloats(x)
            for (n, id) in request.ids.enumerated() {
                precondition(id >= 0 && Int(id) < V, "LlamaModel: token id \(id) outside the vocabulary of \(V)")
                tableRows(Int(id)..<Int(id) + 1, out + n * C)
            }
        } else {
            var table = UnsafePointer(model.parameters.pointer + model.offsets.embedding)
            // LoRA's modules_to_save: the embedding's trainable copy.
            if case .training = matrices, let copy = model.adapters?.embeddingTable { table = copy }
            request.ids.withUnsafeBufferPointer { ids in
                embeddingForward(x, ids.baseAddress!, table, N: N, C: C, V: V)
            }
        }
    }

    var transposedHead: UnsafePointer<S>? {
        if case .transposed(_, let head) = matrices { return head }
        return nil
    }

    var quantizedHead: QuantizedMatrix? {
        if case .quantized(let weights) = matrices { return weights.head }
        return nil
    }

    /// The frozen base's head in a training pass (LoRA over a quantised base).
    var frozenHead: FrozenQuantizedMatrix? {
        if case .training = matrices { return model.frozenBase?.head }
        return nil
    }

    /// `out (N, OC) = inp (N, C) · W + bias` for each `(out, matrix)` of layer `l`, all
    /// reading `inp`; quantized matrices sharing the input go through one grouped product.
    /// `keptAs` (bf16 training, ``LlamaActivations/bf16Inputs``): `inp` is first rounded into
    /// these packed rows, which the products read and backward keeps.
    func project(_ items: [(UnsafeMutablePointer<S>, LlamaMatrix)], from inp: UnsafePointer<S>, keptAs packed: UnsafeMutablePointer<UInt16>? = nil,
                 layer l: Int, N: Int) {
        let w = model.offsets.layers[l], p = model.parameters.pointer
        if let packed {
            let C = model.spec[keyPath: items[0].1.inputs]
            bf16PackActivation(rawFloats(inp), N: N, C: C, into: packed)
            bf16LinearForwardGroup(items.map { out, matrix in
                BFloat16Linear(out: mutableFloats(out), weight: rawFloats(p + w[keyPath: matrix.offset]),
                               bias: matrix.bias.flatMap { w[keyPath: $0] }.map { rawFloats(p + $0) }, OC: model.spec[keyPath: matrix.outputs])
            }, packedInput: packed, N: N, C: C)
            return
        }
        if items.count > 1, case .quantized(let weights) = matrices {
            let parts = items.compactMap { out, matrix in
                weights.layers[l][keyPath: matrix.quantized].map {
                    QuantizedProduct(out: mutableFloats(out), matrix: $0, bias: matrix.bias.flatMap { w[keyPath: $0] }.map { rawFloats(p + $0) })
                }
            }
            if parts.count == items.count {
                let C = model.spec[keyPath: items[0].1.inputs]
                for part in parts {
                    precondition(part.matrix.cols == C, "LlamaModel: quantized matrix (\(part.matrix.rows), \(part.matrix.cols)) for input width \(C)")
                }
                let scratch = workspace(quantizedLinearGroupScratchBytes(parts, N: N))
                quantizedLinearGroup(parts, rawFloats(inp), N: N, scratch: scratch)
                return
            }
        }
        if items.count > 1, case .training = matrices, model.bf16Matmuls, model.frozenBase == nil {
            // bf16 products: the shared input is rounded and packed once for the whole group.
            let group = items.map { out, matrix in
                BFloat16Linear(out: mutableFloats(out), weight: rawFloats(p + w[keyPath: matrix.offset]),
                               bias: matrix.bias.flatMap { w[keyPath: $0] }.map { rawFloats(p + $0) }, OC: model.spec[keyPath: matrix.outputs])
            }
            bf16LinearForwardGroup(group, rawFloats(inp), N: N, C: model.spec[keyPath: items[0].1.inputs])
            for (out, matrix) in items { model.adapters?.forward(out, inp, layer: l, matrix.linear, N: N) }
            return
        }
        for (out, matrix) in items {
            let offset = w[keyPath: matrix.offset]
            var transposed: UnsafePointer<S>?, quantized: QuantizedMatrix?, frozen: FrozenQuantizedMatrix?
            switch matrices {
            case .training: frozen = model.frozenBase?.layers[l][keyPath: matrix.frozen]
            case .transposed(let layers, _): transposed = layers + offset
            case .quantized(let weights): quantized = weights.layers[l][keyPath: matrix.quantized]
            }
            multiply(out, inp, offset: offset, transposed: transposed, quantized: quantized, frozen: frozen,
                     matrix.bias.flatMap { w[keyPath: $0] }.map { UnsafePointer(p + $0) },
                     N: N, C: model.spec[keyPath: matrix.inputs], OC: model.spec[keyPath: matrix.outputs])
            if case .training = matrices { model.adapters?.forward(out, inp, layer: l, matrix.linear, N: N) }
        }
    }

    /// `out (N, OC) = inp (N, C) · W + bias` for the matrix at `offset` of the flat buffer, through its
    /// `transposed` (C, OC) copy, its `quantized` form or its `frozen` quantised base form when the pass has one.
    func multiply(_ out: UnsafeMutablePointer<S>, _ inp: UnsafePointer<S>, offset: Int, transposed: UnsafePointer<S>?,
                  quantized: QuantizedMatrix?, frozen: FrozenQuantizedMatrix? = nil, _ bias: UnsafePointer<S>?, N: Int, C: Int, OC: Int) {
        let p = model.parameters.pointer
        if let frozen, let base = model.frozenBase {
            precondition(frozen.rows == OC && frozen.cols == C, "LlamaModel: frozen base matrix (\(frozen.rows), \(frozen.cols)) for (\(OC), \(C))")
            frozenLinearForward(mutableFloats(out), rawFloats(inp), frozen, bias.map { rawFloats($0) }, N: N, scratch: base.scratch)
        } else if let matrix = quantized {
            precondition(matrix.rows == OC && matrix.cols == C, "LlamaModel: quantized matrix (\(matrix.rows), \(matrix.cols)) for (\(OC), \(C))")
            quantizedLinear(mutableFloats(out), rawFloats(inp), matrix, bias.map { rawFloats($0) }, N: N,
                            scratch: workspace(quantizedLinearScratchBytes(matrix, N: N)))
        } else if let transposed {
            inferenceLinear(out, inp, transposed, bias, N: N, C: C, OC: OC, layout: .inOut)
        } else if case .training = matrices {
            trainingLinearForward(out, inp, p + offset, bias, N: N, C: C, OC: OC, bf16: model.bf16Matmuls)
        } else {
            inferenceLinear(out, inp, p + offset, bias, N: N, C: C, OC: OC, layout: .outIn)
        }
    }

    /// Scratch of at least `bytes` for the quantized kernels (inference only).
    func workspace(_ bytes: Int) -> UnsafeMutableRawPointer {
        guard case .scratch(_, let cache) = storage else { preconditionFailure("LlamaForward: quantized matrices in a training pass") }
        return UnsafeMutableRawPointer(cache.workspace(InferenceBuffer.quantizedScratch.rawValue, count: bytes / MemoryLayout<S>.stride + 1))
    }
}

/// The same memory as `Float`s: quantized matrices exist for Float models only (``LlamaModel/quantizedWeights``).
func mutableFloats<S>(_ pointer: UnsafeMutablePointer<S>) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: Float.self)
}

func rawFloats<S>(_ pointer: UnsafePointer<S>) -> UnsafePointer<Float> {
    UnsafeRawPointer(pointer).assumingMemoryBound(to: Float.self)
}

/// A block matrix of a LLaMA-family layer: where its weights, bias and quantized form are, and its
/// (input, output) widths.
struct LlamaMatrix {
    let linear: LlamaLinear
    let offset: KeyPath<LlamaLayerOffsets, Int>
    let bias: KeyPath<LlamaLayerOffsets, Int?>?
    let quantized: KeyPath<QuantizedLlamaWeights.Layer, QuantizedMatrix?>
    let frozen: KeyPath<FrozenLlamaBase.Layer, FrozenQuantizedMatrix?>
    let inputs: KeyPath<LlamaSpec, Int>, outputs: KeyPath<LlamaSpec, Int>

    static var q: LlamaMatrix { .init(linear: .q, offset: \.q, bias: \.qBias, quantized: \.q, frozen: \.q, inputs: \.hidden, outputs: \.queryWidth) }
    static var k: LlamaMatrix { .init(linear: .k, offset: \.k, bias: \.kBias, quantized: \.k, frozen: \.k, inputs: \.hidden, outputs: \.keyValueWidth) }
    static var v: LlamaMatrix { .init(linear: .v, offset: \.v, bias: \.vBias, quantized: \.v, frozen: \.v, inputs: \.hidden, outputs: \.keyValueWidth) }
    static var o: LlamaMatrix { .init(linear: .o, offset: \.o, bias: nil, quantized: \.o, frozen: \.o, inputs: \.queryWidth, outputs: \.hidden) }
    static var gate: LlamaMatrix { .init(linear: .gate, offset: \.gate, bias: nil, quantized: \.gate, frozen: \.gate, inputs: \.hidden, outputs: \.intermediate) }
    static var up: LlamaMatrix { .init(linear: .up, offset: \.up, bias: nil, quantized: \.up, frozen: \.up, inputs: \.hidden, outputs: \.intermediate) }
    static var down: LlamaMatrix { .init(linear: .down, offset: \.down, bias: nil, quantized: \.down, frozen: \.down, inputs: \.intermediate, outputs: \.hidden) }
}

extension LlamaSpec {
    /// NH·HD and NKV·HD.
    var queryWidth: Int { heads * headDim }
    var keyValueWidth: Int { kvHeads * headDim }
}

/// One layer's intermediates, (N, ·) each. Training points them at the layer's saved activations;
/// inference at one scratch set every layer reuses, where `input`, `afterAttention` and `output` are
/// one residual buffer updated in place, `qRaw`/`kRaw` are `q`/`k` (normed in place) and `swiglu` is `gate`.
struct LlamaLayerBuffers<S: ComputeScalar> {
    var input, normed1, rstd1: UnsafeMutablePointer<S>          // (N, C), (N, C), (N)
    var qRaw, kRaw, q, k, v: UnsafeMutablePointer<S>             // (N, NH·HD), (N, NKV·HD); q, k after rotary
    var qRstd, kRstd: UnsafeMutablePointer<S>?                   // (N·NH), (N·NKV), qkNorm only
    var attended, projection: UnsafeMutablePointer<S>            // (N, NH·HD), (N, C)
    var afterAttention, normed2, rstd2: UnsafeMutablePointer<S>  // (N, C), (N, C), (N)
    var gate, up, swiglu: UnsafeMutablePointer<S>                // (N, I)
    var output: UnsafeMutablePointer<S>                          // (N, C)
    /// With ``LlamaActivations/bf16Inputs``: normed1, normed2 and swiglu as the packed bf16 rows the
    /// products read (the float32 ones are then a shared scratch); nil otherwise.
    var normed1Packed, normed2Packed, swigluPacked: UnsafeMutablePointer<UInt16>?
    /// With ``LlamaActivations/bf16Inputs``: where the gate and up outputs are kept rounded to bf16
    /// (`gate` and `up` are then a scratch all layers share); nil otherwise.
    var gateBF16, upBF16: UnsafeMutablePointer<UInt16>?

    /// Layer `l`'s saved activations.
    init(saved a: LlamaActivations<S>, layer l: Int, qkNorm: Bool) {
        if a.bf16Inputs {
            normed1Packed = a.ln1Packed[l].pointer; normed2Packed = a.ln2Packed[l].pointer; swigluPacked = a.swigluPacked[l].pointer
            gateBF16 = a.gateBF16[l].pointer; upBF16 = a.upBF16[l].pointer
        }
        input = a.residual[l].pointer; normed1 = a.ln1[l].pointer; rstd1 = a.ln1Rstd[l].pointer
        q = a.q[l].pointer; k = a.k[l].pointer; v = a.v[l].pointer
        qRaw = qkNorm ? a.qRaw[l].pointer : q; kRaw = qkNorm ? a.kRaw[l].pointer : k
        qRstd = qkNorm ? a.qRstd[l].pointer : nil; kRstd = qkNorm ? a.kRstd[l].pointer : nil
        attended = a.atty[l].pointer; projection = a.scratchC.pointer
        afterAttention = a.res2[l].pointer; normed2 = a.ln2[l].pointer; rstd2 = a.ln2Rstd[l].pointer
        gate = a.gate[l].pointer; up = a.up[l].pointer; swiglu = a.swiglu[l].pointer
        output = a.residual[l + 1].pointer
    }

    /// The inference scratch for `N` rows, from `cache`'s workspace.
    init(scratch cache: KVCache<S>, spec s: LlamaSpec, N: Int) {
        func ws(_ b: InferenceBuffer, _ count: Int) -> UnsafeMutablePointer<S> { cache.workspace(b.rawValue, count: count) }
        let C = s.hidden, QD = s.heads * s.headDim, KVD = s.kvHeads * s.headDim, I = s.intermediate
        input = ws(.residual, N * C); normed1 = ws(.normed, N * C)
        rstd1 = ws(.rstd, N * s.heads)  // NH ≥ NKV rows for qkNorm
        q = ws(.query, N * QD); k = ws(.key, N * KVD); v = ws(.value, N * KVD)
        qRaw = q; kRaw = k; qRstd = rstd1; kRstd = rstd1
        attended = ws(.attention, N * QD); projection = ws(.projection, N * C)
        afterAttention = input; normed2 = normed1; rstd2 = rstd1
        gate = ws(.wideA, N * I); up = ws(.wideB, N * I); swiglu = gate
        output = input
    }
}
