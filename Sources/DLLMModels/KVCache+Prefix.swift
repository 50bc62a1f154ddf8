import Foundation

/// Sharing one prefix between sequences: a context run once is copied into several rows of a
/// wider cache, whose rows then continue from the context's end with
/// ``InferenceStep`` `queryStart = count`. Later steps overwrite the slots from `queryStart` on
/// before reading them, so a cache "truncates" back to its prefix by writing from there again.
extension KVCache {
    /// Copies slots `0 ..< count` of row `sourceRow` of `source` (every layer's keys and values, and
    /// their half copies when both caches keep one) into the same slots of row `row` of this cache.
    public func copyPrefix(from source: KVCache<S>, sourceRow: Int, toRow row: Int, count: Int) {
        precondition(source.layers == layers && source.width == width, "KVCache: prefix from a cache of another model")
        precondition(sourceRow >= 0 && sourceRow < source.B && row >= 0 && row < B && count >= 0
                     && count <= source.capacity && count <= capacity, "KVCache: prefix of \(count) slots does not fit")
        let scalars = count * width, half = MemoryLayout<UInt16>.stride
        for l in 0..<layers {
            key(layer: l, row: row, slot: 0).update(from: source.key(layer: l, row: sourceRow, slot: 0), count: scalars)
            value(layer: l, row: row, slot: 0).update(from: source.value(layer: l, row: sourceRow, slot: 0), count: scalars)
            guard !halfKeys.isEmpty, !source.halfKeys.isEmpty else { continue }
            for (target, origin) in [(halfKeys[l], source.halfKeys[l]), (halfValues[l], source.halfValues[l])] {
                (target.pointer + row * capacity * width * half)
                    .copyMemory(from: origin.pointer + sourceRow * source.capacity * width * half, byteCount: scalars * half)
            }
        }
    }

    /// Whether a forward has built this cache's snapshot of the model's transposed matrices
    /// (fp32 models; a quantized model's matrices are read in place and never snapshotted).
    public var hasWeightSnapshot: Bool { !transposedWeights.isEmpty }

    /// Reuses `source`'s snapshot of the model's transposed matrices (built by its first forward)
    /// instead of building another: both caches must belong to the same, unchanged model.
    public func shareWeightSnapshot(of source: KVCache<S>) {
        precondition(source.layers == layers && source.width == width, "KVCache: weights of a cache of another model")
        if transposedWeights.isEmpty { transposedWeights = source.transposedWeights }
    }
}
