import DLLMCompute

/// Which attention kernel a training forward runs; both compute the same attention
/// (equal to 1e-5 in fp32, `TiledAttentionTests`), they differ in memory and speed.
public enum AttentionKernel: String, Sendable, CaseIterable {
    /// `attentionForward`: each layer keeps its (B, NH, T, T) probabilities for backward.
    case full
    /// `tiledAttentionForward`: each layer keeps only a (B, NH, T) log-sum-exp; backward
    /// recomputes the probabilities tile by tile. O(T) memory per head.
    case tiled
    /// Tiled from ``tiledFromLength`` tokens on, full below.
    case automatic

    /// Below this length the full kernel's few large products beat the tiles (see docs/benchmarks.md).
    public static let tiledFromLength = 512

    public func usesTiles(T: Int) -> Bool {
        switch self {
        case .full: return false
        case .tiled: return true
        case .automatic: return T >= Self.tiledFromLength
        }
    }
}
