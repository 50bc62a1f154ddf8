import DLLMCompute

/// What each adapted layer keeps from forward for backward: `h = dropout(x)·Aᵀ` (N, r), and,
/// with dropout, the dropped input `dropout(x)` (N, in) (without dropout it is the base layer's input).
///
/// Under gradient checkpointing (`shared`) every layer's entry for a matrix is one buffer: backward
/// recomputes layer l's forward, adapters included (the same dropout masks, keyed by layer and
/// matrix), just before its backward, so only one layer's set is ever alive.
final class LoRAActivations<S: ComputeScalar> {
    let N: Int
    let shared: Bool
    /// [layer][linear] → (N, r)
    var hidden: [[LlamaLinear: Buffer<S>]]
    /// [layer][linear] → (N, in), only when lora_dropout > 0.
    var dropped: [[LlamaLinear: Buffer<S>]]
    /// Backward scratch: (N, r) and (N, max in).
    let dHidden: Buffer<S>, dDropped: Buffer<S>

    init(slots: [[LlamaLinear: LoRASlot]], r: Int, N: Int, dropout: Bool, shared: Bool) {
        self.N = N
        self.shared = shared
        /// One buffer per (layer, matrix), or one per matrix that every layer shares.
        func perLayer(_ count: (LoRASlot) -> Int) -> [[LlamaLinear: Buffer<S>]] {
            guard shared else { return slots.map { $0.mapValues { Buffer(count: count($0)) } } }
            var one: [LlamaLinear: Buffer<S>] = [:]
            return slots.map { layer in
                layer.mapValues { slot in
                    if let buffer = one[slot.linear], buffer.count == count(slot) { return buffer }
                    let buffer = Buffer<S>(count: count(slot))
                    one[slot.linear] = buffer
                    return buffer
                }
            }
        }
        hidden = perLayer { _ in N * r }
        dropped = dropout ? perLayer { N * $0.inputs } : slots.map { _ in [:] }
        let widest = slots.flatMap { $0.values.map(\.inputs) }.max() ?? 0
        dHidden = Buffer(count: N * r)
        dDropped = Buffer(count: dropout ? N * widest : 0)
    }
}

extension LoRAAdapters {
    /// Saved activations sized for `N` rows (kept between steps of the same shape), one layer's
    /// set shared by every layer when `shared` (gradient checkpointing).
    func activations(N: Int, shared: Bool) -> LoRAActivations<S> {
        if let saved, saved.N == N, saved.shared == shared { return saved }
        saved = nil  // free the old set before allocating the new one
        let fresh = LoRAActivations<S>(slots: slots, r: configuration.r, N: N, dropout: configuration.loraDropout > 0, shared: shared)
        saved = fresh
        return fresh
    }

    /// Starts a forward pass: a training pass draws a new dropout mask stream. `checkpointed`: the
    /// base recomputes each layer in backward, so the adapters keep one layer's activations.
    func beginForward(N: Int, checkpointed: Bool) {
        _ = activations(N: N, shared: checkpointed)
        if training && !dropoutStreamSet { dropoutStream &+= 1 }
        dropoutStreamSet = false
    }

    /// `out (N, out) += s · dropout(x) · Aᵀ · Bᵀ` for layer `l`'s `linear` when it is adapted
    /// (PEFT `lora.Linear.forward`: `result + lora_B(lora_A(dropout(x))) * scaling`).
    func forward(_ out: UnsafeMutablePointer<S>, _ x: UnsafePointer<S>, layer l: Int, _ linear: LlamaLinear, N: Int) {
        guard let slot = slots[l][linear], let a = saved else { return }
        let r = configuration.r, C = slot.inputs, OC = slot.outputs, p = parameters.pointer
        var input = x
        let p0 = configuration.loraDropout
        if p0 > 0, training, let dropped = a.dropped[l][linear] {
            // Inverted dropout (torch `nn.Dropout`): keep with probability 1 − p, scale by 1/(1 − p).
            var mask = dropoutMask(layer: l, linear)
            let keep = S(1 / (1 - p0)), d = dropped.pointer
            for i in 0..<(N * C) { d[i] = mask.dropsNext() ? 0 : x[i] * keep }
            input = UnsafePointer(dropped.pointer)
        }
        let h = a.hidden[l][linear]!.pointer
        linearForward(h, input, p + slot.a, nil, N: N, C: C, OC: r)                       // (N, r)
        gemm(.none, .transpose, m: N, n: OC, k: r, alpha: scale, h, lda: r, p + slot.b, ldb: r, beta: 1, out, ldc: OC)
    }

    /// Backward of ``forward(_:_:layer:_:N:)`` given `dout (N, out)`: accumulates `dA`, `dB` and
    /// the adapter path's part of `dx (N, in)` (the base weight's part is the caller's).
    func backward(_ dx: UnsafeMutablePointer<S>, _ dout: UnsafePointer<S>, _ x: UnsafePointer<S>, layer l: Int, _ linear: LlamaLinear, N: Int) {
        guard let slot = slots[l][linear], let a = saved else { return }
        let r = configuration.r, C = slot.inputs, OC = slot.outputs, p = parameters.pointer, g = gradients.pointer
        let h = a.hidden[l][linear]!.pointer, dh = a.dHidden.pointer
        let dropped = training && configuration.loraDropout > 0 ? a.dropped[l][linear] : nil
        let input = dropped.map { UnsafePointer($0.pointer) } ?? x
        // dB (out, r) += s · doutᵀ · h ;  dh (N, r) = s · dout · B
        gemm(.transpose, .none, m: OC, n: r, k: N, alpha: scale, dout, lda: OC, h, ldb: r, beta: 1, g + slot.b, ldc: r)
        gemm(.none, .none, m: N, n: r, k: OC, alpha: scale, dout, lda: OC, p + slot.b, ldb: r, beta: 0, dh, ldc: r)
        guard dropped != nil else {
            linearBackward(dx, g + slot.a, nil, dh, input, p + slot.a, N: N, C: C, OC: r)
            return
        }
        // Through dropout: dx += mask/(1 − p) ⊙ (dh · A), the forward's mask drawn again.
        let dd = a.dDropped.pointer
        dd.update(repeating: 0, count: N * C)
        linearBackward(dd, g + slot.a, nil, dh, input, p + slot.a, N: N, C: C, OC: r)
        let keep = S(1 / (1 - configuration.loraDropout))
        var mask = dropoutMask(layer: l, linear)
        for i in 0..<(N * C) where !mask.dropsNext() { dx[i] += dd[i] * keep }
    }

    /// The dropout draws of layer `l`'s `linear` in the current pass (the same in forward and backward).
    func dropoutMask(layer l: Int, _ linear: LlamaLinear) -> DropoutMask {
        DropoutMask(probability: configuration.loraDropout,
                    generator: SeededGenerator(seed: dropoutSeed, stream: dropoutStream, UInt64(l), UInt64(linear.rawValue)))
    }
}

/// A stream of Bernoulli(p) drops.
struct DropoutMask {
    let probability: Double
    var generator: SeededGenerator
    mutating func dropsNext() -> Bool { generator.nextUniform() < probability }
}
