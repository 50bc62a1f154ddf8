import DLLMCompute

/// A LLaMA-family decoder (LLaMA, Qwen2, Qwen3, LLaDA) over one flat parameter buffer.
///
/// Per layer: RMSNorm → Q/K/V projections (+bias for Qwen2) → per-head Q/K RMSNorm
/// (Qwen3, HF `Qwen3Attention`) → rotary → attention
/// (mask chosen by the caller) → output projection → residual → RMSNorm →
/// SwiGLU MLP → residual; then a final RMSNorm and the output head (tied to the
/// embedding when the checkpoint says so). Mirrors HF `LlamaForCausalLM` and
/// LLaDA's `LLaDALlamaBlock`; each step is one forward/backward kernel pair.
/// The forward is written once (``LlamaForward``) for training and cached inference.
public final class LlamaModel<S: ComputeScalar>: LanguageModel {
    public typealias Scalar = S
    public let spec: LlamaSpec
    public let layout: ParameterLayout
    public let parameters: Buffer<S>
    public let gradients: Buffer<S>
    public let blockRanges: [Range<Int>]
    let offsets: LlamaOffsets
    let rotary: RotaryTable<S>
    var acts: LlamaActivations<S>?
    var lastBatch: TokenBatch?
    var lastMask: AttentionMask?
    /// Rows of the last training forward's (B·T) whose logits it computed (nil: every row).
    var lastLogitRows: [Int]?
    /// The Edit Flows heads' outputs of the last ``editFlowForward(_:mask:)``.
    var editFlowBuffers: EditFlowHeadBuffers<S>?
    /// bf16 backward: the LM head's dlogits as packed bf16 rows (``crossEntropyBackwardBF16``).
    var headGradientRows: BFloat16Rows?
    /// LoRA adapters on the block linears (``LoRAAdapters``). With adapters the base is frozen:
    /// backward computes no gradient for any base parameter, only the adapters' and the inputs'.
    public var adapters: LoRAAdapters<S>?
    public var hooks: BlockHooks?
    /// The training forward's attention kernel (``AttentionKernel``).
    public var attentionKernel: AttentionKernel = .automatic
    /// HF `gradient_checkpointing`: keep only each block's input, recompute the block in backward.
    public var gradientCheckpointing = false
    /// `bf16: true` (``setBF16Matmuls(_:)``): the training pass's block linears, LM head and
    /// attention products (Q·Kᵀ, P·V and their backward) multiply in bfloat16 with float32
    /// accumulation (``bf16LinearForward(_:_:_:_:N:C:OC:layout:)``, ``AttentionPrecision/bfloat16``); norms,
    /// softmax, the loss and LoRA adapters stay float32; mixture-of-experts MLPs take bf16 products too
    /// (``mixtureOfExpertsForward``).
    /// Float models only; false leaves every float32 path as it was.
    public var bf16Matmuls = false {
        didSet { precondition(!bf16Matmuls || S.self == Float.self, "LlamaModel: bf16 matrix products need a Float model") }
    }
    /// Whether the training pass keeps the block linears' inputs as packed bf16 rows
    /// (``LlamaActivations/bf16Inputs``): bf16 products, no LoRA adapters or frozen base (their
    /// float32 products read the float32 input) and no mixture-of-experts MLP (it gathers float32 rows per expert).
    var keepsBF16Inputs: Bool {
        bf16Matmuls && packsBF16Inputs && adapters == nil && frozenBase == nil && spec.mixtureOfExperts == nil
    }
    /// Off, bf16 training keeps float32 inputs and packs them per product (the same numbers; tests compare).
    var packsBF16Inputs = true
    /// The training attention's product precision that ``bf16Matmuls`` implies.
    var attentionPrecision: AttentionPrecision { bf16Matmuls ? .bfloat16 : .native }
    /// Matrices the inference path reads in a ggml block format instead of from `parameters`
    /// (whose slots for them are then never filled). Float models only.
    public var quantizedWeights: QuantizedLlamaWeights? {
        didSet {
            precondition(quantizedWeights == nil || S.self == Float.self, "LlamaModel: quantized weights need a Float model")
            precondition(quantizedWeights.map { $0.layers.count == spec.layers } ?? true, "LlamaModel: one quantized entry per layer")
        }
    }

    /// Frozen quantised matrices the training forward and backward multiply by instead of the fp32
    /// ones (LoRA over a quantised base); they get no weight gradient. Float models only.
    public var frozenBase: FrozenLlamaBase? {
        didSet {
            precondition(frozenBase == nil || S.self == Float.self, "LlamaModel: a frozen quantised base needs a Float model")
            precondition(frozenBase.map { $0.layers.count == spec.layers } ?? true, "LlamaModel: one frozen base entry per layer")
        }
    }

    public var architecture: any ModelArchitecture { spec }
    public var vocabularySize: Int { spec.vocab }
    public var maxPositions: Int { spec.maxPositions }

    /// Every RMSNorm weight. HF's name patterns catch them under HF naming; under
    /// LLaDA's, `model.transformer.ln_f.weight` needs this list.
    public var normalizationParameterNames: Set<String> {
        let n = spec.names
        return Set((0..<spec.layers).flatMap { [n.attnNorm.layer($0), n.mlpNorm.layer($0)] } + [n.finalNorm])
    }

    public init(spec: LlamaSpec) {
        self.spec = spec
        let (layout, offsets, blocks) = LlamaOffsets.build(spec)
        self.layout = layout
        self.offsets = offsets
        self.blockRanges = blocks
        parameters = Buffer(count: layout.count)
        gradients = Buffer(count: layout.count)
        rotary = RotaryTable(headDim: spec.headDim, maxPositions: spec.maxPositions, theta: spec.ropeTheta)
    }

    public var logits: UnsafeMutablePointer<S> {
        guard let acts else { preconditionFailure("LlamaModel: forward has not run") }
        return acts.logits.pointer
    }

    /// The training use of the one forward pass (``LlamaForward``): every intermediate saved for backward.
    public func forward(_ batch: TokenBatch, mask: AttentionMask) {
        forward(batch, mask: mask, logitPositions: 0..<batch.T)
    }

    public var supportsLogitPositions: Bool { true }

    /// The training forward with the final norm and the head on positions `logitPositions` of each
    /// sequence: the final norm's output and the logits are allocated and computed for those B·count rows only.
    public func forward(_ batch: TokenBatch, mask: AttentionMask, logitPositions: Range<Int>) {
        precondition(!logitPositions.isEmpty && logitPositions.lowerBound >= 0 && logitPositions.upperBound <= batch.T,
                     "LlamaModel: logit positions \(logitPositions) outside 0..<\(batch.T)")
        let rows = logitPositions == 0..<batch.T ? nil : logitRows(at: logitPositions, B: batch.B, T: batch.T)
        prepareActivations(for: batch, mask: mask, logitRows: rows)
        adapters?.beginForward(N: batch.B * batch.T, checkpointed: gradientCheckpointing)
        _ = trainingForward(batch, mask: mask, hooks: hooks).run()
    }

    /// The training forward with the final norm and the head on rows `logitRows` (ascending,
    /// distinct, within B·T). The head's buffers keep room for every row, since the count changes
    /// from batch to batch (a masked-diffusion batch's masked positions).
    public func forward(_ batch: TokenBatch, mask: AttentionMask, logitRows: [Int]) {
        let N = batch.B * batch.T
        prepareActivations(for: batch, mask: mask, logitRows: checkedLogitRows(logitRows, N: N, model: "LlamaModel"), headCapacity: N)
        adapters?.beginForward(N: N, checkpointed: gradientCheckpointing)
        _ = trainingForward(batch, mask: mask, hooks: hooks).run()
    }

    /// Rows the last training forward computed logits for: the rows of ``logits`` (B·T unless
    /// ``forward(_:mask:logitPositions:)`` narrowed them).
    public var logitRowCount: Int {
        guard let batch = lastBatch else { preconditionFailure("LlamaModel: forward has not run") }
        return lastLogitRows?.count ?? batch.B * batch.T
    }

    /// (Re)allocates the saved activations for `batch` (the head on `logitRows`, ascending, or on all;
    /// its buffers for at least `headCapacity` rows) under the kernel and checkpointing options, and
    /// remembers the batch, mask and rows for backward.
    func prepareActivations(for batch: TokenBatch, mask: AttentionMask, logitRows: [Int]? = nil, headCapacity: Int = 0) {
        precondition(batch.T <= spec.maxPositions, "LlamaModel: sequence length \(batch.T) exceeds \(spec.maxPositions) positions")
        let tiled = attentionKernel.usesTiles(B: batch.B, heads: spec.heads, T: batch.T,
                                              layersKept: gradientCheckpointing ? 1 : spec.layers,
                                              scalarBytes: MemoryLayout<S>.size)
        let headRows = logitRows?.count ?? batch.B * batch.T
        let bf16Inputs = keepsBF16Inputs
        if acts == nil || !acts!.fits(B: batch.B, T: batch.T, headRows: headRows, tiled: tiled, checkpointed: gradientCheckpointing,
                                      bf16Inputs: bf16Inputs) {
            acts = nil  // free the old set before allocating the new one
            acts = LlamaActivations(spec: spec, B: batch.B, T: batch.T, headRows: max(headRows, headCapacity), tiled: tiled,
                                    checkpointed: gradientCheckpointing, bf16Inputs: bf16Inputs)
        }
        lastBatch = batch
        lastMask = mask
        lastLogitRows = logitRows
    }

    /// The training pass over `batch` into the saved activations.
    func trainingForward(_ batch: TokenBatch, mask: AttentionMask, hooks: BlockHooks?) -> LlamaForward<S> {
        let a = acts!
        let attention = ForwardAttention.training(mask: mask, saved: a.att, tiled: a.tiled, precision: attentionPrecision)
        let request = ForwardRequest(training: batch, attention: attention, logitRows: lastLogitRows, hooks: hooks)
        return LlamaForward(model: self, request: request, storage: .saved(a), matrices: .training)
    }

    public var supportsGradientCheckpointing: Bool { true }
    public func setGradientCheckpointing(_ on: Bool) { gradientCheckpointing = on }

    public var supportsBF16Matmuls: Bool { S.self == Float.self }
    public func setBF16Matmuls(_ on: Bool) { bf16Matmuls = on }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func loss(targets: [Int32], weights: [S]?) -> Double {
        guard let a = acts, let batch = lastBatch else { preconditionFailure("LlamaModel: loss before forward") }
        return savedLogitsLoss("LlamaModel", losses: a.losses, lse: a.lse, logits: a.logits, targets: targets, weights: weights,
                               N: lastLogitRows?.count ?? batch.B * batch.T, V: spec.vocab)
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(targets: [Int32], weights: [S]?, dloss: S = 1) {
        guard let a = acts, let batch = lastBatch else { preconditionFailure("LlamaModel: backward before forward") }
        let R = lastLogitRows?.count ?? batch.B * batch.T, C = spec.hidden, V = spec.vocab  // the head's rows
        precondition(targets.count == R && (weights == nil || weights!.count == R), "LlamaModel: targets/weights must hold \(R) values")
        let p = parameters.pointer, g = gradients.pointer, o = offsets

        if bf16Matmuls && frozenBase == nil && adapters?.headCopy == nil {
            backwardBF16Head(targets: targets, weights: weights, dloss: dloss, activations: a, batch: batch, rows: R)
            return
        }
        // dlogits overwrite the logits in place.
        targets.withUnsafeBufferPointer { t in
            withOptionalPointer(weights) { w in
                crossEntropyBackward(a.logits.pointer, a.logits.pointer, a.lse.pointer, t.baseAddress!, w, dloss: dloss, N: R, V: V)
            }
        }
        backpropagate(batch: batch, activations: a) { dHidden in
            if let lora = adapters, let copy = lora.headCopy {
                // LoRA's modules_to_save: the head's trainable copy gets the weight gradient.
                linearBackward(dHidden, lora.gradients.pointer + copy, nil, a.logits.pointer, a.lnf.pointer, lora.parameters.pointer + copy,
                               N: R, C: C, OC: V)
                return
            }
            backwardLinear(dHidden, baseGradient(g, o.head), nil, a.logits.pointer, a.lnf.pointer, p + o.head, frozen: frozenBase?.head, N: R, C: C, OC: V)
        }
    }

    /// ``backward(targets:weights:dloss:)`` under `bf16: true` with a trainable (or absent) head
    /// gradient: dlogits go straight into packed bf16 rows, which the head's two products read (as
    /// autocast's head reads its bf16 output gradient), bit-identical to rounding float32 dlogits.
    func backwardBF16Head(targets: [Int32], weights: [S]?, dloss: S, activations a: LlamaActivations<S>, batch: TokenBatch, rows R: Int) {
        let C = spec.hidden, V = spec.vocab, count = bf16PackedRowsCount(N: R, C: V)
        if headGradientRows == nil || headGradientRows!.count < count { headGradientRows = nil; headGradientRows = BFloat16Rows(count: count) }
        let rows = headGradientRows!.pointer
        targets.withUnsafeBufferPointer { t in
            withOptionalPointer(weights) { w in
                crossEntropyBackwardBF16(into: rows, rawFloats(a.logits.pointer), rawFloats(a.lse.pointer), t.baseAddress!,
                                         w.map { rawFloats($0) }, dloss: Float(dloss), N: R, V: V)
            }
        }
        let g = gradients.pointer, p = parameters.pointer
        backpropagate(batch: batch, activations: a) { dHidden in
            bf16LinearBackward(mutableFloats(dHidden), baseGradient(g, offsets.head).map { mutableFloats($0) }, packedDout: rows,
                               rawFloats(a.lnf.pointer), rawFloats(p + offsets.head), N: R, C: C, OC: V)
        }
    }

    /// Where a base parameter's gradient goes: nil when the base is frozen (LoRA adapters attached),
    /// so no base gradient is computed.
    @inline(__always)
    func baseGradient(_ g: UnsafeMutablePointer<S>, _ offset: Int) -> UnsafeMutablePointer<S>? {
        adapters == nil ? g + offset : nil
    }

    /// Backward from the last hidden state down: `head` accumulates the gradient of the final
    /// norm's output into its (R, C) argument, one row per row the head ran on (and the head's
    /// parameter gradients); the rest of the pass is the same whichever head ran. Rows the head
    /// skipped get no gradient from it.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func backpropagate(batch: TokenBatch, activations a: LlamaActivations<S>, head: (UnsafeMutablePointer<S>) -> Void) {
        let B = batch.B, T = batch.T, N = B * T
        let C = spec.hidden, L = spec.layers, NH = spec.heads, NKV = spec.kvHeads, HD = spec.headDim
        let I = spec.intermediate
        let QD = NH * HD, KVD = NKV * HD
        let p = parameters.pointer, g = gradients.pointer
        let o = offsets
        let d = a.grads
        let lora = adapters
        func base(_ offset: Int) -> UnsafeMutablePointer<S>? { baseGradient(g, offset) }
        // Under checkpointing, each block's intermediates are recomputed (no hooks: backward's own
        // hooks around the block already hold its parameters) just before its backward.
        guard let mask = lastMask else { preconditionFailure("LlamaModel: backward before forward") }
        let recompute = a.checkpointed ? trainingForward(batch, mask: mask, hooks: nil) : nil
        hooks?.beforeBackward?(L + 1)
        d.ln.zero()
        head(d.ln.pointer)
        d.residual.zero()
        for run in logitRowRuns(lastLogitRows, N: N) {
            let first = run.source.lowerBound
            rmsnormBackward(d.residual.pointer + first * C, base(o.finalNorm), d.ln.pointer + run.selected * C, a.residual[L].pointer + first * C,
                            p + o.finalNorm, a.lnfRstd.pointer + run.selected, N: run.source.count, C: C)
        }
        hooks?.afterBackward?(L + 1)

        batch.positions.withUnsafeBufferPointer { pos in
            for l in stride(from: L - 1, through: 0, by: -1) {
                hooks?.beforeBackward?(l + 1)
                defer { hooks?.afterBackward?(l + 1) }
                recompute?.layer(l, positions: pos.baseAddress!)
                let w = o.layers[l], f = frozenBase?.layers[l]
                // MLP: residual[l+1] = res2 + down(swiglu(gate(ln2), up(ln2))), or the sparse MoE MLP
                d.ln.zero()
                if let moe = w.moe, let m = spec.mixtureOfExperts {
                    precondition(lora == nil, "LlamaModel: LoRA adapters on mixture-of-experts layers are refused at load")
                    guard let saved = a.moe[l], let scratch = a.grads.moe else {
                        preconditionFailure("LlamaModel: MoE layer \(l) without its activations or backward scratch")
                    }
                    mixtureOfExpertsBackward(d.ln.pointer, gradients: g, d.residual.pointer, a.ln2[l].pointer, parameters: p,
                                             offsets: moe, spec: m, saved: saved, scratch: scratch, N: N, C: C, bf16: bf16Matmuls)
                } else {
                    d.wide.zero()
                    if a.bf16Inputs {
                        backwardBF16Group(d.wide.pointer, [(d.residual.pointer, w.down, nil, C)], packed: a.swigluPacked[l].pointer, N: N, C: I)
                    } else {
                        backwardLinear(d.wide.pointer, base(w.down), nil, d.residual.pointer, a.swiglu[l].pointer, p + w.down, frozen: f?.down, N: N, C: I, OC: C)
                        lora?.backward(d.wide.pointer, d.residual.pointer, a.swiglu[l].pointer, layer: l, .down, N: N)
                    }
                    if a.bf16Inputs {
                        // At the kept bf16 gate and up, the gradients straight into bf16 rows for
                        // the gate and up products, in d.gate's and d.up's memory.
                        backwardBF16GateUp(d.ln.pointer, layer: w, a.ln2Packed[l].pointer, dout: d.wide.pointer,
                                           gateBits: a.gateBF16[l].pointer, upBits: a.upBF16[l].pointer,
                                           gateRows: d.gate.pointer, upRows: d.up.pointer, N: N, C: C, I: I)
                    } else {
                        d.gate.zero(); d.up.zero()
                        if bf16Matmuls {  // at the float32 gate and up, rounded as the forward rounded them
                            swigluBackwardBF16(mutableFloats(d.gate.pointer), mutableFloats(d.up.pointer), rawFloats(d.wide.pointer),
                                               gate: rawFloats(a.gate[l].pointer), up: rawFloats(a.up[l].pointer), count: N * I)
                        } else {
                            swigluBackward(d.gate.pointer, d.up.pointer, d.wide.pointer, a.gate[l].pointer, a.up[l].pointer, count: N * I)
                        }
                        if bf16Matmuls && lora == nil && f == nil {
                            backwardBF16Group(d.ln.pointer, [(d.gate.pointer, w.gate, nil, I), (d.up.pointer, w.up, nil, I)], a.ln2[l].pointer, N: N, C: C)
                        } else {
                            backwardLinear(d.ln.pointer, base(w.gate), nil, d.gate.pointer, a.ln2[l].pointer, p + w.gate, frozen: f?.gate, N: N, C: C, OC: I)
                            lora?.backward(d.ln.pointer, d.gate.pointer, a.ln2[l].pointer, layer: l, .gate, N: N)
                            backwardLinear(d.ln.pointer, base(w.up), nil, d.up.pointer, a.ln2[l].pointer, p + w.up, frozen: f?.up, N: N, C: C, OC: I)
                            lora?.backward(d.ln.pointer, d.up.pointer, a.ln2[l].pointer, layer: l, .up, N: N)
                        }
                    }
                }
                rmsnormBackward(d.residual.pointer, base(w.mlpNorm), d.ln.pointer, a.res2[l].pointer, p + w.mlpNorm, a.ln2Rstd[l].pointer, N: N, C: C)
                // Attention: res2 = x + o(attention(rope(q(ln1)), rope(k(ln1)), v(ln1)))
                d.atty.zero()
                backwardLinear(d.atty.pointer, base(w.o), nil, d.residual.pointer, a.atty[l].pointer, p + w.o, frozen: f?.o, N: N, C: QD, OC: C)
                lora?.backward(d.atty.pointer, d.residual.pointer, a.atty[l].pointer, layer: l, .o, N: N)
                d.q.zero(); d.k.zero(); d.v.zero()
                if a.tiled {
                    tiledAttentionBackward(d.q.pointer, d.k.pointer, d.v.pointer, d.atty.pointer, a.atty[l].pointer, ldo: QD,
                                           a.att[l].pointer, a.q[l].pointer, ldq: QD, a.k[l].pointer, ldk: KVD, a.v[l].pointer, ldv: KVD,
                                           mask: mask, B: B, T: T, NH: NH, NKV: NKV, HD: HD, precision: attentionPrecision)
                } else {
                    attentionBackward(d.q.pointer, d.k.pointer, d.v.pointer, d.scores.buffer, d.atty.pointer, ldo: QD,
                                      a.att[l].pointer, a.q[l].pointer, ldq: QD, a.k[l].pointer, ldk: KVD, a.v[l].pointer, ldv: KVD,
                                      B: B, T: T, NH: NH, NKV: NKV, HD: HD, precision: attentionPrecision)
                }
                rotary.apply(d.q.pointer, positions: pos.baseAddress!, N: N, heads: NH, ld: QD, inverse: true)
                rotary.apply(d.k.pointer, positions: pos.baseAddress!, N: N, heads: NKV, ld: KVD, inverse: true)
                if let qn = w.qNorm, let kn = w.kNorm {
                    // Through the per-head norms (d.atty, now free, is the scratch): d.q, d.k become
                    // gradients of the raw projections.
                    d.atty.zero()
                    rmsnormBackward(d.atty.pointer, base(qn), d.q.pointer, a.qRaw[l].pointer, p + qn, a.qRstd[l].pointer, N: N * NH, C: HD)
                    d.q.pointer.update(from: d.atty.pointer, count: N * QD)
                    d.atty.zero()
                    rmsnormBackward(d.atty.pointer, base(kn), d.k.pointer, a.kRaw[l].pointer, p + kn, a.kRstd[l].pointer, N: N * NKV, C: HD)
                    d.k.pointer.update(from: d.atty.pointer, count: N * KVD)
                }
                d.ln.zero()
                let qkv = [(d.q.pointer, w.q, w.qBias, QD), (d.k.pointer, w.k, w.kBias, KVD), (d.v.pointer, w.v, w.vBias, KVD)]
                if a.bf16Inputs {
                    backwardBF16Group(d.ln.pointer, qkv, packed: a.ln1Packed[l].pointer, N: N, C: C)
                } else if bf16Matmuls && lora == nil && f == nil {
                    backwardBF16Group(d.ln.pointer, qkv, a.ln1[l].pointer, N: N, C: C)
                } else {
                    backwardLinear(d.ln.pointer, base(w.q), w.qBias.flatMap(base), d.q.pointer, a.ln1[l].pointer, p + w.q, frozen: f?.q, N: N, C: C, OC: QD)
                    lora?.backward(d.ln.pointer, d.q.pointer, a.ln1[l].pointer, layer: l, .q, N: N)
                    backwardLinear(d.ln.pointer, base(w.k), w.kBias.flatMap(base), d.k.pointer, a.ln1[l].pointer, p + w.k, frozen: f?.k, N: N, C: C, OC: KVD)
                    lora?.backward(d.ln.pointer, d.k.pointer, a.ln1[l].pointer, layer: l, .k, N: N)
                    backwardLinear(d.ln.pointer, base(w.v), w.vBias.flatMap(base), d.v.pointer, a.ln1[l].pointer, p + w.v, frozen: f?.v, N: N, C: C, OC: KVD)
                    lora?.backward(d.ln.pointer, d.v.pointer, a.ln1[l].pointer, layer: l, .v, N: N)
                }
                rmsnormBackward(d.residual.pointer, base(w.attnNorm), d.ln.pointer, a.residual[l].pointer, p + w.attnNorm, a.ln1Rstd[l].pointer, N: N, C: C)
            }
        }
        hooks?.beforeBackward?(0)
        // The embedding's gradient: the base's, or under LoRA only a modules_to_save copy's.
        let table = lora.map { lora in lora.embeddingCopy.map { lora.gradients.pointer + $0 } }
            ?? (frozenBase?.embedding == nil ? g + o.embedding : nil)
        if let table {
            batch.ids.withUnsafeBufferPointer { ids in
                embeddingBackward(table, d.residual.pointer, ids.baseAddress!, N: N, C: C)
            }
        }
        hooks?.afterBackward?(0)
    }
}

extension LlamaModel {
    /// `linearBackward`, or for a matrix of the frozen quantised base only the gradient through
    /// its input (no weight or bias gradient: the base is frozen).
    func backwardLinear(_ dinp: UnsafeMutablePointer<S>, _ dweight: UnsafeMutablePointer<S>?, _ dbias: UnsafeMutablePointer<S>?,
                        _ dout: UnsafePointer<S>, _ inp: UnsafePointer<S>, _ weight: UnsafePointer<S>, frozen: FrozenQuantizedMatrix?,
                        N: Int, C: Int, OC: Int) {
        if let frozen, let base = frozenBase {
            precondition(frozen.rows == OC && frozen.cols == C, "LlamaModel: frozen base matrix (\(frozen.rows), \(frozen.cols)) for (\(OC), \(C))")
            frozenLinearBackwardInput(mutableFloats(dinp), rawFloats(dout), frozen, N: N, scratch: base.scratch)
        } else {
            trainingLinearBackward(dinp, dweight, dbias, dout, inp, weight, N: N, C: C, OC: OC, bf16: bf16Matmuls)
        }
    }
}

extension LlamaModel {
    /// bf16 products of linears that read one input (q, k, v; gate, up), no adapters or frozen
    /// base: `bf16LinearBackwardGroup` packs `inp` once for all the weight gradients. Each part is
    /// (dout, weight offset, bias offset, OC); gradients land at the same offsets of `gradients`.
    func backwardBF16Group(_ dinp: UnsafeMutablePointer<S>, _ parts: [(UnsafeMutablePointer<S>, Int, Int?, Int)],
                           _ inp: UnsafePointer<S>, N: Int, C: Int) {
        bf16LinearBackwardGroup(mutableFloats(dinp), bf16Gradients(parts), rawFloats(inp), N: N, C: C)
    }

    /// ``backwardBF16Group(_:_:_:N:C:)`` with the input kept as packed bf16 rows (``LlamaActivations/bf16Inputs``).
    func backwardBF16Group(_ dinp: UnsafeMutablePointer<S>, _ parts: [(UnsafeMutablePointer<S>, Int, Int?, Int)],
                           packed: UnsafePointer<UInt16>, N: Int, C: Int) {
        bf16LinearBackwardGroup(mutableFloats(dinp), bf16Gradients(parts), packedInput: packed, N: N, C: C)
    }

    /// The gate and up linears' backward under ``LlamaActivations/bf16Inputs``: SwiGLU's gradients at
    /// the kept bf16 gate and up outputs go straight into packed bf16 rows (`gateRows`, `upRows`:
    /// the (N, I) float buffers' memory, reused), which both products read; `dinp` accumulates.
    func backwardBF16GateUp(_ dinp: UnsafeMutablePointer<S>, layer w: LlamaLayerOffsets, _ packedInput: UnsafePointer<UInt16>,
                            dout: UnsafePointer<S>, gateBits: UnsafePointer<UInt16>, upBits: UnsafePointer<UInt16>,
                            gateRows: UnsafeMutablePointer<S>, upRows: UnsafeMutablePointer<S>, N: Int, C: Int, I: Int) {
        let count = bf16PackedRowsCount(N: N, C: I), ld = count / max(1, N)
        precondition(S.self == Float.self && count <= 2 * N * I,
                     "LlamaModel: bf16 gate/up rows (\(count) values) exceed their float buffers")
        let p = parameters.pointer, g = gradients.pointer
        gateRows.withMemoryRebound(to: UInt16.self, capacity: count) { gate in
            upRows.withMemoryRebound(to: UInt16.self, capacity: count) { up in
                swigluBackwardBF16(rows: gate, up, ld: ld, rawFloats(dout), gateBits: gateBits, upBits: upBits, N: N, I: I)
                bf16LinearBackwardGroup(mutableFloats(dinp), [
                    (dout: UnsafePointer(gate), weight: rawFloats(p + w.gate), dweight: Optional(mutableFloats(g + w.gate)), OC: I),
                    (dout: UnsafePointer(up), weight: rawFloats(p + w.up), dweight: Optional(mutableFloats(g + w.up)), OC: I),
                ], packedInput: packedInput, N: N, C: C)
            }
        }
    }

    /// (dout, weight offset, bias offset, OC) as the gradients of `parameters`' matrices.
    func bf16Gradients(_ parts: [(UnsafeMutablePointer<S>, Int, Int?, Int)]) -> [BFloat16LinearGradients] {
        let p = parameters.pointer, g = gradients.pointer
        return parts.map { dout, weight, bias, OC in
            (linear: BFloat16Linear(out: mutableFloats(dout), weight: rawFloats(p + weight), bias: nil, OC: OC),
             dweight: Optional(mutableFloats(g + weight)), dbias: bias.map { mutableFloats(g + $0) })
        }
    }
}

/// Calls `body` with a pointer to `array`'s storage, or nil.
@inlinable
func withOptionalPointer<S, R>(_ array: [S]?, _ body: (UnsafePointer<S>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress) }
}
