/// How the flat parameter buffer is cut for sharding: into segments (gradient
/// buckets, or FSDP's per-block units), each split into `worldSize` equal chunks,
/// padded at the end so that every rank's chunk has the same length and the
/// parameter count need not divide by the world size.
///
/// Rank r owns chunk r of every segment. Its shard buffers (gradients, AdamW
/// moments, FSDP parameters) are the concatenation of its chunks, in segment order.
public struct ShardMap: Sendable, Equatable, Codable {
    public struct Segment: Sendable, Equatable, Codable {
        /// Range in the flat buffer.
        public let range: Range<Int>
        /// Chunk length (⌈count / worldSize⌉).
        public let chunk: Int
        /// Offset of this segment's chunk in each rank's shard buffer.
        public let shardOffset: Int

        /// The part of rank `r`'s chunk that lies inside the segment (the rest is padding).
        public func owned(by r: Int) -> Range<Int> {
            let lo = min(range.upperBound, range.lowerBound + r * chunk)
            return lo..<min(range.upperBound, lo + chunk)
        }
    }

    public let worldSize: Int
    public let segments: [Segment]
    /// Length of every rank's shard buffer.
    public let shardCount: Int

    /// Segments from consecutive ranges (which must tile the buffer in order).
    public init(ranges: [Range<Int>], worldSize: Int) {
        precondition(worldSize >= 1)
        self.worldSize = worldSize
        var offset = 0
        var segs: [Segment] = []
        for r in ranges where !r.isEmpty {
            let chunk = (r.count + worldSize - 1) / worldSize
            segs.append(Segment(range: r, chunk: chunk, shardOffset: offset))
            offset += chunk
        }
        segments = segs
        shardCount = offset
    }

    /// Groups consecutive ranges into buckets of at least `minimumCount` elements (the last may be smaller).
    public static func buckets(_ ranges: [Range<Int>], minimumCount: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start: Int?
        var end = 0
        for r in ranges where !r.isEmpty {
            if start == nil { start = r.lowerBound }
            end = r.upperBound
            if end - start! >= minimumCount {
                out.append(start!..<end)
                start = nil
            }
        }
        if let s = start { out.append(s..<end) }
        return out
    }

    /// The segment holding flat index `i`.
    public func segmentIndex(containing i: Int) -> Int? {
        segments.firstIndex { $0.range.contains(i) }
    }
}
