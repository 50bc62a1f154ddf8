import RealModule
/// Which keys each query may attend to, for a batch of `B` sequences of length `T`.
///
/// The base is bidirectional (masked diffusion: every token sees every token) or
/// causal (autoregressive). On top of it, `keyPadding` removes padding keys and
/// `allowed` is an arbitrary per-sequence boolean matrix (block diffusion, mask
/// annealing); all three are ANDed. A query row with no allowed key outputs zeros.
public struct AttentionMask: Sendable {
    public enum Base: String, Sendable, Codable { case bidirectional, causal }

    public let base: Base
    public let B: Int
    public let T: Int
    /// (B, T, T) as 0/1, query-major; nil when the base alone decides.
    @usableFromInline let dense: [UInt8]?

    /// - Parameters:
    ///   - keyPadding: (B·T) `true` for real tokens, `false` for padding keys.
    ///   - allowed: (B·T·T) query-major, `true` where query `i` may attend to key `j`.
    public init(_ base: Base, B: Int, T: Int, keyPadding: [Bool]? = nil, allowed: [Bool]? = nil) {
        precondition(keyPadding == nil || keyPadding!.count == B * T, "AttentionMask: keyPadding must hold B·T values")
        precondition(allowed == nil || allowed!.count == B * T * T, "AttentionMask: allowed must hold B·T·T values")
        self.base = base
        self.B = B
        self.T = T
        if keyPadding == nil && allowed == nil {
            dense = nil
            return
        }
        var d = [UInt8](repeating: 0, count: B * T * T)
        for b in 0..<B {
            for i in 0..<T {
                for j in 0..<T {
                    var ok = base == .bidirectional || j <= i
                    if let keyPadding, !keyPadding[b * T + j] { ok = false }
                    if let allowed, !allowed[(b * T + i) * T + j] { ok = false }
                    d[(b * T + i) * T + j] = ok ? 1 : 0
                }
            }
        }
        dense = d
    }

    /// Bidirectional attention over right-padded sequences of the given lengths.
    public static func padded(_ base: Base, lengths: [Int], T: Int) -> AttentionMask {
        let pad = lengths.flatMap { len in (0..<T).map { $0 < len } }
        return AttentionMask(base, B: lengths.count, T: T, keyPadding: pad)
    }

    @inlinable
    public func allows(_ b: Int, _ i: Int, _ j: Int) -> Bool {
        if let dense { return dense[(b * T + i) * T + j] != 0 }
        return base == .bidirectional || j <= i
    }
}
