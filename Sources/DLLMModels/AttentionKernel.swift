import DLLMCompute

/// Which attention kernel a training forward runs; both compute the same attention
/// (equal to 1e-5 in fp32, `TiledAttentionTests`), they differ in memory and speed.
public enum AttentionKernel: String, Sendable, CaseIterable {
    /// `attentionForward`: each layer keeps its (B, NH, T, T) probabilities for backward.
    case full
    /// `tiledAttentionForward`: each layer keeps only a (B, NH, T) log-sum-exp; backward
    /// recomputes the probabilities tile by tile. O(T) memory per head.
    case tiled
    /// Full while the probabilities the kept layers save for backward fit
    /// ``fullAttentionBudget``, tiled beyond: the full kernel's few large products are faster
    /// (reference config, T = 512, batch 8, a 2-core Xeon, alternating runs: 492 and 485 tokens/s
    /// full against 444 and 464 tiled, for 513 MiB more resident memory; docs/benchmarks.md "Same-run
    /// checks on this machine kind"), the tiled one saves the memory.
    case automatic

    /// Bytes of attention probabilities the full kernel may keep, all kept layers together.
    public static let fullAttentionBudget = 2 << 30

    /// (B, NH, T, T) probabilities per kept layer (one layer under gradient checkpointing).
    public static func probabilityBytes(B: Int, heads: Int, T: Int, layersKept: Int, scalarBytes: Int) -> Double {
        Double(B) * Double(heads) * Double(T) * Double(T) * Double(scalarBytes) * Double(layersKept)
    }

    public func usesTiles(B: Int, heads: Int, T: Int, layersKept: Int, scalarBytes: Int) -> Bool {
        switch self {
        case .full: return false
        case .tiled: return true
        case .automatic:
            return Self.probabilityBytes(B: B, heads: heads, T: T, layersKept: layersKept, scalarBytes: scalarBytes)
                > Double(Self.fullAttentionBudget)
        }
    }
}
