import DLLMCompute

/// The sparse MLP of LLaDA-MoE (inclusionAI, 2025; dLLM `pipelines/llada/models/modeling_lladamoe.py`,
/// `LLaDAMoESparseMoeBlock`, OLMoE's block): a linear router, `softmax` over the experts, the top-k
/// experts of each token weighted by their (not renormalised) probabilities, SwiGLU experts, and an
/// optional shared SwiGLU expert every token passes through.
public struct MixtureOfExpertsSpec: Sendable, Equatable {
    /// E, experts per MoE layer.
    public var experts: Int
    /// k, experts per token.
    public var topK: Int
    /// Ie, each expert's SwiGLU width.
    public var expertIntermediate: Int
    /// Is, the shared expert's width, or nil for none.
    public var sharedIntermediate: Int?
    /// Which layers are MoE (`moe_layer_freq[l] != 0`); the others keep the dense SwiGLU MLP.
    public var moeLayers: [Bool]

    public init(experts: Int, topK: Int, expertIntermediate: Int, sharedIntermediate: Int?, moeLayers: [Bool]) {
        self.experts = experts
        self.topK = topK
        self.expertIntermediate = expertIntermediate
        self.sharedIntermediate = sharedIntermediate
        self.moeLayers = moeLayers
    }

    /// Checkpoint names (LLaDA-MoE's, with `{}` for the layer and `{e}` for the expert).
    static let router = "model.layers.{}.mlp.gate.weight"
    static let expert = "model.layers.{}.mlp.experts.{e}."
    static let shared = "model.layers.{}.shared_expert."
}

/// Offsets of a SwiGLU MLP's three matrices.
struct SwiGLUOffsets {
    var gate = 0, up = 0, down = 0
}

/// Offsets of one MoE layer's tensors.
struct MixtureOfExpertsOffsets {
    var router = 0                  // (E, C)
    var experts: [SwiGLUOffsets] = []  // (Ie, C), (Ie, C), (C, Ie) each
    var shared: SwiGLUOffsets?      // (Is, C), (Is, C), (C, Is)

    /// Appends layer `l`'s MoE tensors to `layout`.
    static func append(to layout: inout ParameterLayout, layer l: Int, spec m: MixtureOfExpertsSpec, hidden C: Int) -> Self {
        var o = Self()
        o.router = layout.append(MixtureOfExpertsSpec.router.layer(l), [m.experts, C])
        func swiglu(_ prefix: String, _ I: Int) -> SwiGLUOffsets {
            SwiGLUOffsets(gate: layout.append(prefix + "gate_proj.weight", [I, C]), up: layout.append(prefix + "up_proj.weight", [I, C]),
                          down: layout.append(prefix + "down_proj.weight", [C, I]))
        }
        for e in 0..<m.experts {
            o.experts.append(swiglu(MixtureOfExpertsSpec.expert.layer(l).replacingOccurrences(of: "{e}", with: String(e)), m.expertIntermediate))
        }
        if let Is = m.sharedIntermediate { o.shared = swiglu(MixtureOfExpertsSpec.shared.layer(l), Is) }
        return o
    }
}

/// What one MoE layer's forward keeps for backward (or discards, at inference).
final class MixtureOfExpertsActivations<S: ComputeScalar> {
    var probabilities: Buffer<S>     // (N, E) router softmax
    var selected: [Int] = []         // (N, k) experts of each token, most probable first
    var tokens: [[Int]] = []         // per expert: (token, slot) pairs as n·k + j, in token order
    var inputs: [Buffer<S>] = []     // per expert: (M, C) gathered normed rows
    var gates: [Buffer<S>] = [], ups: [Buffer<S>] = [], hidden: [Buffer<S>] = []  // per expert: (M, Ie)
    var outputs: [Buffer<S>] = []    // per expert: (M, C), before the routing weight
    var sharedGate: Buffer<S>?, sharedUp: Buffer<S>?, sharedHidden: Buffer<S>?  // (N, Is)

    init(N: Int, experts E: Int) { probabilities = Buffer(count: N * E) }
}

/// `out (N, C) = Σ_j p(e_j | x)·expert_{e_j}(x) + shared(x)` for the normed rows `x` (N, C), mirroring
/// `LLaDAMoESparseMoeBlock.forward` (experts visited in index order, tokens in order) and the decoder
/// layer's shared expert. Returns the activations backward needs. `bf16` (a Float model's
/// `bf16: true` training pass) runs the router's and the experts' products as autocast runs
/// `nn.Linear`, in bfloat16 with float32 accumulation, and rounds the experts' gate and up outputs
/// as the dense MLP does (``swigluForwardBF16(_:_:_:keeping:_:count:)``); routing, weighting and
/// the sums over experts stay float32.
@discardableResult
func mixtureOfExpertsForward<S: ComputeScalar>(_ out: UnsafeMutablePointer<S>, _ x: UnsafePointer<S>, parameters p: UnsafePointer<S>,
                                               offsets o: MixtureOfExpertsOffsets, spec m: MixtureOfExpertsSpec,
                                               N: Int, C: Int, bf16: Bool = false) -> MixtureOfExpertsActivations<S> {
    let E = m.experts, k = m.topK, Ie = m.expertIntermediate
    let a = MixtureOfExpertsActivations<S>(N: N, experts: E)
    let probs = a.probabilities.pointer
    trainingLinearForward(probs, x, p + o.router, nil, N: N, C: C, OC: E, bf16: bf16)
    a.selected = [Int](repeating: 0, count: N * k)
    for n in 0..<N {
        let row = probs + n * E
        var maxv = row[0]
        for e in 1..<E { maxv = max(maxv, row[e]) }
        var sum: S = 0
        for e in 0..<E { row[e] = S.fastExp(row[e] - maxv); sum += row[e] }
        for e in 0..<E { row[e] /= sum }
        // torch.topk: the k largest, in descending order (ties to the lower index).
        let order = (0..<E).sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
        for j in 0..<k { a.selected[n * k + j] = order[j] }
    }
    a.tokens = [[Int]](repeating: [], count: E)
    for n in 0..<N { for j in 0..<k { a.tokens[a.selected[n * k + j]].append(n * k + j) } }
    out.update(repeating: 0, count: N * C)
    for e in 0..<E {
        let slots = a.tokens[e], M = slots.count
        let X = Buffer<S>(count: M * C), G = Buffer<S>(count: M * Ie), U = Buffer<S>(count: M * Ie)
        let H = Buffer<S>(count: M * Ie), Y = Buffer<S>(count: M * C)
        a.inputs.append(X); a.gates.append(G); a.ups.append(U); a.hidden.append(H); a.outputs.append(Y)
        guard M > 0 else { continue }
        for (r, slot) in slots.enumerated() { (X.pointer + r * C).update(from: x + (slot / k) * C, count: C) }
        swigluMLPForward(Y.pointer, X.pointer, G.pointer, U.pointer, H.pointer, p, o.experts[e], N: M, C: C, I: Ie, bf16: bf16)
        for (r, slot) in slots.enumerated() {
            let n = slot / k, w = probs[n * E + e]
            let dst = out + n * C, src = Y.pointer + r * C
            for c in 0..<C { dst[c] += w * src[c] }
        }
    }
    if let s = o.shared, let Is = m.sharedIntermediate {
        let G = Buffer<S>(count: N * Is), U = Buffer<S>(count: N * Is), H = Buffer<S>(count: N * Is), Y = Buffer<S>(count: N * C)
        swigluMLPForward(Y.pointer, x, G.pointer, U.pointer, H.pointer, p, s, N: N, C: C, I: Is, bf16: bf16)
        accumulate(out, Y.pointer, count: N * C)
        a.sharedGate = G; a.sharedUp = U; a.sharedHidden = H
    }
    return a
}

/// Backward of ``mixtureOfExpertsForward``: from `dout` (N, C), accumulates into `dx` (N, C) and the
/// gradients `g` of the router, the experts and the shared expert. The top-k choice passes no
/// gradient (as in PyTorch); the routing weights do, through the softmax into the router. `bf16` as
/// the forward ran: every product's backward in bfloat16 with float32 accumulation.
func mixtureOfExpertsBackward<S: ComputeScalar>(_ dx: UnsafeMutablePointer<S>, gradients g: UnsafeMutablePointer<S>,
                                                _ dout: UnsafePointer<S>, _ x: UnsafePointer<S>, parameters p: UnsafePointer<S>,
                                                offsets o: MixtureOfExpertsOffsets, spec m: MixtureOfExpertsSpec,
                                                saved a: MixtureOfExpertsActivations<S>, N: Int, C: Int, bf16: Bool = false) {
    let E = m.experts, k = m.topK, Ie = m.expertIntermediate
    let probs = a.probabilities.pointer
    let dprobs = Buffer<S>(count: N * E)  // (N, E), nonzero at the selected experts
    for e in 0..<E {
        let slots = a.tokens[e], M = slots.count
        guard M > 0 else { continue }
        let dY = Buffer<S>(count: M * C), dX = Buffer<S>(count: M * C)
        for (r, slot) in slots.enumerated() {
            let n = slot / k, w = probs[n * E + e]
            let d = dout + n * C, y = a.outputs[e].pointer + r * C, dst = dY.pointer + r * C
            var dw: S = 0
            for c in 0..<C { dst[c] = w * d[c]; dw += d[c] * y[c] }
            dprobs.pointer[n * E + e] += dw
        }
        swigluMLPBackward(dX.pointer, g, dY.pointer, a.inputs[e].pointer, a.gates[e].pointer, a.ups[e].pointer, a.hidden[e].pointer,
                          p, o.experts[e], N: M, C: C, I: Ie, bf16: bf16)
        for (r, slot) in slots.enumerated() { accumulate(dx + (slot / k) * C, dX.pointer + r * C, count: C) }
    }
    if let s = o.shared, let Is = m.sharedIntermediate {
        swigluMLPBackward(dx, g, dout, x, a.sharedGate!.pointer, a.sharedUp!.pointer, a.sharedHidden!.pointer, p, s, N: N, C: C, I: Is, bf16: bf16)
    }
    // Softmax backward: dlogit_e = p_e·(dp_e − Σ_f p_f·dp_f).
    let dlogits = dprobs.pointer
    for n in 0..<N {
        let pr = probs + n * E, d = dlogits + n * E
        var dot: S = 0
        for e in 0..<E { dot += pr[e] * d[e] }
        for e in 0..<E { d[e] = pr[e] * (d[e] - dot) }
    }
    trainingLinearBackward(dx, g + o.router, nil, dlogits, x, p + o.router, N: N, C: C, OC: E, bf16: bf16)
}

/// `y (N, C) = down(silu(gate(x)) ⊙ up(x))`, keeping gate (N, I), up and their product `h`; with
/// `bf16`, bf16 products and the gate and up outputs rounded to bf16 before SwiGLU reads them.
func swigluMLPForward<S: ComputeScalar>(_ y: UnsafeMutablePointer<S>, _ x: UnsafePointer<S>, _ gate: UnsafeMutablePointer<S>,
                                        _ up: UnsafeMutablePointer<S>, _ h: UnsafeMutablePointer<S>, _ p: UnsafePointer<S>,
                                        _ o: SwiGLUOffsets, N: Int, C: Int, I: Int, bf16: Bool = false) {
    trainingLinearForward(gate, x, p + o.gate, nil, N: N, C: C, OC: I, bf16: bf16)
    trainingLinearForward(up, x, p + o.up, nil, N: N, C: C, OC: I, bf16: bf16)
    if bf16 {
        swigluForwardBF16(mutableFloats(h), rawFloats(gate), rawFloats(up), keeping: nil, nil, count: N * I)
    } else {
        swigluForward(h, gate, up, count: N * I)
    }
    trainingLinearForward(y, h, p + o.down, nil, N: N, C: I, OC: C, bf16: bf16)
}

/// Backward of ``swigluMLPForward``, accumulating into `dx` (N, C) and the three weight gradients.
func swigluMLPBackward<S: ComputeScalar>(_ dx: UnsafeMutablePointer<S>, _ g: UnsafeMutablePointer<S>, _ dy: UnsafePointer<S>,
                                         _ x: UnsafePointer<S>, _ gate: UnsafePointer<S>, _ up: UnsafePointer<S>, _ h: UnsafePointer<S>,
                                         _ p: UnsafePointer<S>, _ o: SwiGLUOffsets, N: Int, C: Int, I: Int, bf16: Bool = false) {
    let dh = Buffer<S>(count: N * I), dgate = Buffer<S>(count: N * I), dup = Buffer<S>(count: N * I)
    trainingLinearBackward(dh.pointer, g + o.down, nil, dy, h, p + o.down, N: N, C: I, OC: C, bf16: bf16)
    if bf16 {
        swigluBackwardBF16(mutableFloats(dgate.pointer), mutableFloats(dup.pointer), rawFloats(dh.pointer),
                           gate: rawFloats(gate), up: rawFloats(up), count: N * I)
    } else {
        swigluBackward(dgate.pointer, dup.pointer, dh.pointer, gate, up, count: N * I)
    }
    trainingLinearBackward(dx, g + o.gate, nil, dgate.pointer, x, p + o.gate, N: N, C: C, OC: I, bf16: bf16)
    trainingLinearBackward(dx, g + o.up, nil, dup.pointer, x, p + o.up, N: N, C: C, OC: I, bf16: bf16)
}

