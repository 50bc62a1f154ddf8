
/// DiffuLLaMA's attention-mask annealing (Gong et al. 2025, "Scaling Diffusion Language
/// Models via Adaptation from Autoregressive Models"): the causal mask of the AR model is
/// opened up gradually. At optimizer step `s` (0-based) the ratio is
/// `r = min(1, (s + 1) / anneal_steps)` and query `i` may attend to key `j` when
/// `j ≤ i` (causal) OR a Bernoulli(r) draw for the pair (i, j) is 1.
///
/// Mirrors DiffuLLaMA `LLaMA-Factory/src/llamafactory/train/ddm/trainer.py`
/// `get_anneal_attn_mask` and its ratio in `CustomDiffusionTrainer.inner_forward`: one
/// (T, T) draw per forward, shared by every sequence of the batch. Here the draw is keyed
/// by (seed, step) only, so every micro-batch and every rank of a step sees the same mask
/// and results do not depend on the rank layout. A Bernoulli(r) draw is `u < r` for a
/// uniform `u` in [0, 1) (at r = 1 every pair is open, as `torch.bernoulli(1)` is).
public struct AttentionAnnealing: Sendable, Equatable {
    /// Steps over which the ratio grows to 1 (DiffuLLaMA's `anneal_steps`, default 10,000).
    public var steps: Int

    public init(steps: Int = 10_000) {
        precondition(steps >= 1, "AttentionAnnealing: steps must be at least 1")
        self.steps = steps
    }

    /// `min(1, (step + 1) / anneal_steps)`.
    public func ratio(step: Int) -> Double { min(1, Double(step + 1) / Double(steps)) }

    /// The (T, T) uniforms of a step, query-major, from a generator keyed by (seed, step)
    /// and a stream no sample index uses.
    public static func uniforms(T: Int, step: Int, seed: UInt64) -> [Double] {
        var rng = SeededGenerator(seed: seed, stream: UInt64(step), Self.streamTag)
        return (0..<(T * T)).map { _ in rng.nextUniform() }
    }

    /// The deterministic core: (T·T) query-major, `true` where query `i` may attend to key `j`.
    public static func allowed(T: Int, ratio: Double, uniforms: [Double]) -> [Bool] {
        precondition(uniforms.count == T * T, "AttentionAnnealing: \(uniforms.count) uniforms for T = \(T)")
        var out = [Bool](repeating: false, count: T * T)
        for i in 0..<T {
            for j in 0..<T { out[i * T + j] = j <= i || uniforms[i * T + j] < ratio }
        }
        return out
    }

    /// The pattern of `step`, or nil once the ratio is 1 (every pair open: plain bidirectional).
    public func allowed(T: Int, step: Int, seed: UInt64) -> [Bool]? {
        let r = ratio(step: step)
        if r >= 1 { return nil }
        return Self.allowed(T: T, ratio: r, uniforms: Self.uniforms(T: T, step: step, seed: seed))
    }

    /// A batch's mask: every sequence shares the (T·T) pattern `allowed`, ANDed with key padding.
    public static func mask(B: Int, T: Int, allowed: [Bool], keyPadding: [Bool]? = nil) -> AttentionMask {
        precondition(allowed.count == T * T, "AttentionAnnealing: the pattern must hold T·T values")
        return AttentionMask(.bidirectional, B: B, T: T, keyPadding: keyPadding, sharedAllowed: allowed)
    }

    /// Sample indices are non-negative `Int`s; this key lies above all of them.
    static let streamTag: UInt64 = .max
}
