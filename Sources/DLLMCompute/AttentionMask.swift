import RealModule
/// Which keys each query may attend to, for a batch of `B` sequences of length `T`.
///
/// The base is bidirectional (masked diffusion: every token sees every token) or
/// causal (autoregressive). On top of it, `keyPadding` removes padding keys and
/// an `allowed` pattern restricts arbitrary (query, key) pairs (block diffusion, mask
/// annealing); all three are ANDed. A query row with no allowed key outputs zeros.
///
/// Storage stays compact: padding is (B·T) bytes, and a pattern every sequence shares
/// (DiffuLLaMA's annealed mask, a block-diffusion mask from ``init(_:B:T:keyPadding:rule:)``)
/// is one (T, T) byte matrix; only a per-sequence pattern costs (B, T, T) bytes.
public struct AttentionMask: Sendable {
    public enum Base: String, Sendable, Codable { case bidirectional, causal }

    public let base: Base
    public let B: Int
    public let T: Int
    /// (B·T) 1 for real keys, 0 for padding; nil when no key is padding.
    @usableFromInline let keyPadding: [UInt8]?
    /// 0/1 query-major pattern: (T, T) shared by every sequence (`patternStride` 0) or (B, T, T)
    /// (`patternStride` T·T); nil when the base and padding alone decide.
    @usableFromInline let pattern: [UInt8]?
    @usableFromInline let patternStride: Int

    /// - Parameters:
    ///   - keyPadding: (B·T) `true` for real tokens, `false` for padding keys.
    ///   - allowed: (B·T·T) query-major, `true` where query `i` of sequence `b` may attend to key `j`.
    public init(_ base: Base, B: Int, T: Int, keyPadding: [Bool]? = nil, allowed: [Bool]? = nil) {
        precondition(allowed == nil || allowed!.count == B * T * T, "AttentionMask: allowed must hold B·T·T values")
        self.init(base, B: B, T: T, keyPadding: keyPadding, pattern: allowed.map { $0.map { $0 ? 1 : 0 } }, shared: false)
    }

    /// A mask whose pattern every sequence shares.
    /// - Parameter sharedAllowed: (T·T) query-major, `true` where query `i` may attend to key `j`.
    public init(_ base: Base, B: Int, T: Int, keyPadding: [Bool]? = nil, sharedAllowed: [Bool]) {
        precondition(sharedAllowed.count == T * T, "AttentionMask: sharedAllowed must hold T·T values")
        self.init(base, B: B, T: T, keyPadding: keyPadding, pattern: sharedAllowed.map { $0 ? 1 : 0 }, shared: true)
    }

    /// A mask whose shared pattern is computed by `rule(i, j)` (true where query `i` may attend
    /// to key `j`), evaluated once per pair into (T, T) bytes.
    public init(_ base: Base, B: Int, T: Int, keyPadding: [Bool]? = nil, rule: (Int, Int) -> Bool) {
        var bytes = [UInt8](repeating: 0, count: T * T)
        for i in 0..<T { for j in 0..<T where rule(i, j) { bytes[i * T + j] = 1 } }
        self.init(base, B: B, T: T, keyPadding: keyPadding, pattern: bytes, shared: true)
    }

    init(_ base: Base, B: Int, T: Int, keyPadding: [Bool]?, pattern: [UInt8]?, shared: Bool) {
        precondition(keyPadding == nil || keyPadding!.count == B * T, "AttentionMask: keyPadding must hold B·T values")
        self.base = base
        self.B = B
        self.T = T
        self.keyPadding = keyPadding.map { $0.map { $0 ? 1 : 0 } }
        self.pattern = pattern
        patternStride = shared ? 0 : T * T
    }

    /// Bidirectional attention over right-padded sequences of the given lengths.
    public static func padded(_ base: Base, lengths: [Int], T: Int) -> AttentionMask {
        let pad = lengths.flatMap { len in (0..<T).map { $0 < len } }
        return AttentionMask(base, B: lengths.count, T: T, keyPadding: pad)
    }

    /// Whether only the base decides (no padding, no pattern): kernels then use key ranges.
    @inlinable public var isBaseOnly: Bool { keyPadding == nil && pattern == nil }

    @inlinable
    public func allows(_ b: Int, _ i: Int, _ j: Int) -> Bool {
        if base == .causal && j > i { return false }
        if let keyPadding, keyPadding[b * T + j] == 0 { return false }
        if let pattern, pattern[b * patternStride + i * T + j] == 0 { return false }
        return true
    }

    /// Calls `body` with a pointer view of the mask for the kernels' inner loops.
    @inlinable
    public func withView<R>(_ body: (AttentionMaskView) -> R) -> R {
        func withBytes(_ array: [UInt8]?, _ f: (UnsafePointer<UInt8>?) -> R) -> R {
            guard let array else { return f(nil) }
            return array.withUnsafeBufferPointer { f($0.baseAddress!) }
        }
        return withBytes(keyPadding) { pad in
            withBytes(pattern) { pat in
                body(AttentionMaskView(causal: base == .causal, T: T, keyPadding: pad, pattern: pat, patternStride: patternStride))
            }
        }
    }
}

/// ``AttentionMask`` as raw pointers, valid inside ``AttentionMask/withView(_:)`` only.
public struct AttentionMaskView {
    public let causal: Bool
    public let T: Int
    @usableFromInline let keyPadding: UnsafePointer<UInt8>?
    @usableFromInline let pattern: UnsafePointer<UInt8>?
    @usableFromInline let patternStride: Int

    @inlinable
    init(causal: Bool, T: Int, keyPadding: UnsafePointer<UInt8>?, pattern: UnsafePointer<UInt8>?, patternStride: Int) {
        self.causal = causal
        self.T = T
        self.keyPadding = keyPadding
        self.pattern = pattern
        self.patternStride = patternStride
    }

    /// Whether only the base decides.
    @inlinable public var isBaseOnly: Bool { keyPadding == nil && pattern == nil }

    /// One past the last key query `i` may see under the base.
    @inlinable @inline(__always) public func keyEnd(_ i: Int) -> Int { causal ? i + 1 : T }

    @inlinable @inline(__always)
    public func allows(_ b: Int, _ i: Int, _ j: Int) -> Bool {
        if causal && j > i { return false }
        if let keyPadding, keyPadding[b * T + j] == 0 { return false }
        if let pattern, pattern[b * patternStride + i * T + j] == 0 { return false }
        return true
    }
}
