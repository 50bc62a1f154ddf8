import Foundation

/// Sharing one prefix between sequences: a context run once (batch of one) is copied into every
/// row of a wider cache, whose rows then continue from the context's end with
/// ``InferenceStep`` `queryStart = count`. Later steps overwrite the slots from `queryStart` on
/// before reading them, so a cache "truncates" back to its prefix by writing from there again.
extension KVCache {
    /// Copies slots `0 ..< count` of row `row` of `source` (every layer's keys and values, and
    /// their half copies when both caches keep one) into the same slots of every row of this cache.
    public func fillPrefix(from source: KVCache<S>, row: Int, count: Int) {
        precondition(source.layers == layers && source.width == width, "KVCache: prefix from a cache of another model")
        precondition(row >= 0 && row < source.B && count >= 0 && count <= source.capacity && count <= capacity,
                     "KVCache: prefix of \(count) slots of row \(row) does not fit")
        let scalars = count * width
        for l in 0..<layers {
            for b in 0..<B {
                key(layer: l, row: b, slot: 0).update(from: source.key(layer: l, row: row, slot: 0), count: scalars)
                value(layer: l, row: b, slot: 0).update(from: source.value(layer: l, row: row, slot: 0), count: scalars)
            }
            guard !halfKeys.isEmpty, !source.halfKeys.isEmpty else { continue }
            let bytes = scalars * MemoryLayout<UInt16>.stride
            for (target, origin) in [(halfKeys[l], source.halfKeys[l]), (halfValues[l], source.halfValues[l])] {
                let from = origin.pointer + row * source.capacity * width * MemoryLayout<UInt16>.stride
                for b in 0..<B { (target.pointer + b * capacity * width * MemoryLayout<UInt16>.stride).copyMemory(from: from, byteCount: bytes) }
            }
        }
    }

    /// Reuses `source`'s snapshot of the model's transposed matrices (built by its first forward)
    /// instead of building another: both caches must belong to the same, unchanged model.
    public func shareWeightSnapshot(of source: KVCache<S>) {
        precondition(source.layers == layers && source.width == width, "KVCache: weights of a cache of another model")
        if transposedWeights.isEmpty { transposedWeights = source.transposedWeights }
    }
}
