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

/// What one MoE layer's forward keeps for backward, in arenas allocated once for up to
/// `tokenCapacity` tokens and refilled by every forward. Every token visits k experts, so the
/// experts' rows add up to N·k: expert e's (M_e, ·) rows are the arena rows from `firstRow[e]`,
/// and a shorter batch or a different routing reuses the same memory.
final class MixtureOfExpertsActivations<S: ComputeScalar> {
    let tokenCapacity: Int
    let probabilities: Buffer<S>     // (N, E) router softmax
    var selected: [Int] = []         // (N, k) experts of each token, most probable first
    var tokens: [[Int]] = []         // per expert: (token, slot) pairs as n·k + j, in token order
    var firstRow: [Int] = []         // per expert: its first row in the arenas
    let inputs: Buffer<S>, outputs: Buffer<S>              // (N·k, C): gathered normed rows; outputs before the routing weight
    let gates: Buffer<S>, ups: Buffer<S>, hidden: Buffer<S>  // (N·k, Ie)
    let sharedGate: Buffer<S>?, sharedUp: Buffer<S>?, sharedHidden: Buffer<S>?  // (N, Is)
    let sharedOutput: Buffer<S>?     // (N, C), added after the experts' sum (forward's scratch)

    init(tokens N: Int, spec m: MixtureOfExpertsSpec, hidden C: Int) {
        tokenCapacity = N
        let rows = N * m.topK
        probabilities = Buffer(count: N * m.experts)
        inputs = Buffer(count: rows * C); outputs = Buffer(count: rows * C)
        gates = Buffer(count: rows * m.expertIntermediate); ups = Buffer(count: rows * m.expertIntermediate)
        hidden = Buffer(count: rows * m.expertIntermediate)
        let shared = m.sharedIntermediate.map { N * $0 }
        sharedGate = shared.map { Buffer(count: $0) }; sharedUp = shared.map { Buffer(count: $0) }
        sharedHidden = shared.map { Buffer(count: $0) }
        sharedOutput = shared.map { _ in Buffer(count: N * C) }
    }

    /// Expert e's first row in an arena whose rows are `width` wide.
    func rows(of arena: Buffer<S>, expert e: Int, width: Int) -> UnsafeMutablePointer<S> { arena.pointer + firstRow[e] * width }
}

/// Backward's scratch for the MoE layers, shared by all of them (backward visits one layer and one
/// expert at a time): the routing gradient, and one expert's (or the shared expert's) row gradients.
final class MixtureOfExpertsGradients<S: ComputeScalar> {
    let tokenCapacity: Int
    let probabilities: Buffer<S>             // (N, E)
    let rows: Buffer<S>, inputs: Buffer<S>   // (N, C): dY weighted, dX
    let hidden: Buffer<S>, gate: Buffer<S>, up: Buffer<S>  // (N, max(Ie, Is))

    init(tokens N: Int, spec m: MixtureOfExpertsSpec, hidden C: Int) {
        tokenCapacity = N
        let I = max(m.expertIntermediate, m.sharedIntermediate ?? 0)
        probabilities = Buffer(count: N * m.experts)
        rows = Buffer(count: N * C); inputs = Buffer(count: N * C)
        hidden = Buffer(count: N * I); gate = Buffer(count: N * I); up = Buffer(count: N * I)
    }

    /// The SwiGLU backward's three (N, I) scratch rows.
    var swiglu: SwiGLUGradientScratch<S> { SwiGLUGradientScratch(hidden: hidden.pointer, gate: gate.pointer, up: up.pointer) }
}

/// Where ``swigluMLPBackward`` writes its (N, I) intermediate gradients.
struct SwiGLUGradientScratch<S: ComputeScalar> {
    let hidden: UnsafeMutablePointer<S>, gate: UnsafeMutablePointer<S>, up: UnsafeMutablePointer<S>
}

/// `out (N, C) = Σ_j p(e_j | x)·expert_{e_j}(x) + shared(x)` for the normed rows `x` (N, C), mirroring
/// `LLaDAMoESparseMoeBlock.forward` (experts visited in index order, tokens in order) and the decoder
/// layer's shared expert. Returns the activations backward needs. `bf16` (a Float model's
/// `bf16: true` training pass) runs the router's and the experts' products as autocast runs
/// `nn.Linear`, in bfloat16 with float32 accumulation, and rounds the experts' gate and up outputs
/// as the dense MLP does (``swigluForwardBF16(_:_:_:keeping:_:count:)``); routing, weighting and
/// the sums over experts stay float32. What backward needs goes into `a` (at least N tokens).
func mixtureOfExpertsForward<S: ComputeScalar>(_ out: UnsafeMutablePointer<S>, _ x: UnsafePointer<S>, parameters p: UnsafePointer<S>,
                                               offsets o: MixtureOfExpertsOffsets, spec m: MixtureOfExpertsSpec,
                                               N: Int, C: Int, bf16: Bool = false, into a: MixtureOfExpertsActivations<S>) {
    let E = m.experts, k = m.topK, Ie = m.expertIntermediate
    precondition(N <= a.tokenCapacity, "mixtureOfExpertsForward: \(N) tokens past the activations' \(a.tokenCapacity)")
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
    a.firstRow = [Int](repeating: 0, count: E)
    for e in 1..<max(1, E) { a.firstRow[e] = a.firstRow[e - 1] + a.tokens[e - 1].count }
    out.update(repeating: 0, count: N * C)
    for e in 0..<E {
        let slots = a.tokens[e], M = slots.count
        guard M > 0 else { continue }
        let X = a.rows(of: a.inputs, expert: e, width: C), Y = a.rows(of: a.outputs, expert: e, width: C)
        for (r, slot) in slots.enumerated() { (X + r * C).update(from: x + (slot / k) * C, count: C) }
        swigluMLPForward(Y, X, a.rows(of: a.gates, expert: e, width: Ie), a.rows(of: a.ups, expert: e, width: Ie),
                         a.rows(of: a.hidden, expert: e, width: Ie), p, o.experts[e], N: M, C: C, I: Ie, bf16: bf16)
        for (r, slot) in slots.enumerated() {
            let n = slot / k, w = probs[n * E + e]
            let dst = out + n * C, src = Y + r * C
            for c in 0..<C { dst[c] += w * src[c] }
        }
    }
    if let s = o.shared, let Is = m.sharedIntermediate {
        // The activations were built from the same spec, so the shared expert's buffers exist.
        let Y = a.sharedOutput!.pointer
        swigluMLPForward(Y, x, a.sharedGate!.pointer, a.sharedUp!.pointer, a.sharedHidden!.pointer, p, s, N: N, C: C, I: Is, bf16: bf16)
        accumulate(out, Y, count: N * C)
    }
}

/// Backward of ``mixtureOfExpertsForward``: from `dout` (N, C), accumulates into `dx` (N, C) and the
/// gradients `g` of the router, the experts and the shared expert. The top-k choice passes no
/// gradient (as in PyTorch); the routing weights do, through the softmax into the router. `bf16` as
/// the forward ran: every product's backward in bfloat16 with float32 accumulation.
func mixtureOfExpertsBackward<S: ComputeScalar>(_ dx: UnsafeMutablePointer<S>, gradients g: UnsafeMutablePointer<S>,
                                                _ dout: UnsafePointer<S>, _ x: UnsafePointer<S>, parameters p: UnsafePointer<S>,
                                                offsets o: MixtureOfExpertsOffsets, spec m: MixtureOfExpertsSpec,
                                                saved a: MixtureOfExpertsActivations<S>, scratch d: MixtureOfExpertsGradients<S>,
                                                N: Int, C: Int, bf16: Bool = false) {
    let E = m.experts, k = m.topK, Ie = m.expertIntermediate
    precondition(N <= d.tokenCapacity, "mixtureOfExpertsBackward: \(N) tokens past the scratch's \(d.tokenCapacity)")
    let probs = a.probabilities.pointer
    let dprobs = d.probabilities.pointer  // (N, E), nonzero at the selected experts
    dprobs.update(repeating: 0, count: N * E)
    for e in 0..<E {
        let slots = a.tokens[e], M = slots.count
        guard M > 0 else { continue }
        let dY = d.rows.pointer, dX = d.inputs.pointer  // (M, C) each; M ≤ N, a token visits an expert once
        let outputs = a.rows(of: a.outputs, expert: e, width: C)
        for (r, slot) in slots.enumerated() {
            let n = slot / k, w = probs[n * E + e]
            let dout = dout + n * C, y = outputs + r * C, dst = dY + r * C
            var dw: S = 0
            for c in 0..<C { dst[c] = w * dout[c]; dw += dout[c] * y[c] }
            dprobs[n * E + e] += dw
        }
        dX.update(repeating: 0, count: M * C)
        swigluMLPBackward(dX, g, dY, a.rows(of: a.inputs, expert: e, width: C), a.rows(of: a.gates, expert: e, width: Ie),
                          a.rows(of: a.ups, expert: e, width: Ie), a.rows(of: a.hidden, expert: e, width: Ie),
                          p, o.experts[e], N: M, C: C, I: Ie, bf16: bf16, scratch: d.swiglu)
        for (r, slot) in slots.enumerated() { accumulate(dx + (slot / k) * C, dX + r * C, count: C) }
    }
    if let s = o.shared, let Is = m.sharedIntermediate {
        swigluMLPBackward(dx, g, dout, x, a.sharedGate!.pointer, a.sharedUp!.pointer, a.sharedHidden!.pointer, p, s, N: N, C: C, I: Is,
                          bf16: bf16, scratch: d.swiglu)
    }
    // Softmax backward: dlogit_e = p_e·(dp_e − Σ_f p_f·dp_f).
    let dlogits = dprobs
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
                                         _ p: UnsafePointer<S>, _ o: SwiGLUOffsets, N: Int, C: Int, I: Int, bf16: Bool = false,
                                         scratch: SwiGLUGradientScratch<S>) {
    let dh = scratch.hidden, dgate = scratch.gate, dup = scratch.up  // (N, I) each; the kernels add into them
    for buffer in [dh, dgate, dup] { buffer.update(repeating: 0, count: N * I) }
    trainingLinearBackward(dh, g + o.down, nil, dy, h, p + o.down, N: N, C: I, OC: C, bf16: bf16)
    if bf16 {
        swigluBackwardBF16(mutableFloats(dgate), mutableFloats(dup), rawFloats(dh),
                           gate: rawFloats(gate), up: rawFloats(up), count: N * I)
    } else {
        swigluBackward(dgate, dup, dh, gate, up, count: N * I)
    }
    trainingLinearBackward(dx, g + o.gate, nil, dgate, x, p + o.gate, N: N, C: C, OC: I, bf16: bf16)
    trainingLinearBackward(dx, g + o.up, nil, dup, x, p + o.up, N: N, C: C, OC: I, bf16: bf16)
}

