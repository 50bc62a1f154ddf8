/// Open-addressing hash table from a token-id pair to `(rank, newId)`, the
/// merge lookup of BPE (the Rust crate's `MergeMap`, which packs the pair
/// into a `u64` the same way). Faster than `Dictionary` for this hot path.
struct PairTable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private var mask: Int
    private(set) var count = 0
    private static let empty = UInt64.max

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always)
    static func key(_ a: UInt32, _ b: UInt32) -> UInt64 { UInt64(a) << 32 | UInt64(b) }

    @inline(__always)
    private func slot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// Inserts or overwrites (a later merge of the same pair wins, as in the Rust crate).
    mutating func set(_ a: UInt32, _ b: UInt32, rank: UInt32, newId: UInt32) {
        if (count + 1) * 2 > keys.count { grow() }
        let k = Self.key(a, b)
        var i = slot(k)
        while keys[i] != Self.empty && keys[i] != k { i = (i + 1) & mask }
        if keys[i] == Self.empty { count += 1 }
        keys[i] = k
        values[i] = UInt64(rank) << 32 | UInt64(newId)
    }

    /// `rank << 32 | newId`, or `UInt64.max` when the pair has no merge.
    @inline(__always)
    func get(_ a: UInt32, _ b: UInt32) -> UInt64 {
        let k = Self.key(a, b)
        var i = slot(k)
        while true {
            let stored = keys[i]
            if stored == k { return values[i] }
            if stored == Self.empty { return UInt64.max }
            i = (i + 1) & mask
        }
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        keys = [UInt64](repeating: Self.empty, count: oldKeys.count * 2)
        values = [UInt64](repeating: 0, count: oldKeys.count * 2)
        mask = keys.count - 1
        count = 0
        for (i, k) in oldKeys.enumerated() where k != Self.empty {
            var j = slot(k)
            while keys[j] != Self.empty { j = (j + 1) & mask }
            keys[j] = k
            values[j] = oldValues[i]
            count += 1
        }
    }
}
