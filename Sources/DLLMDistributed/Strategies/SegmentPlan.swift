import DLLMCompute
import DLLMModels

/// How a data-parallel strategy cuts the flat buffer into segments, and at which
/// backward hook each segment's gradients are complete.
struct SegmentPlan {
    let map: ShardMap
    /// Block index → the segments whose gradients are final once that block's backward ends.
    let completedAfterBackward: [Int: [Int]]
    /// Blocks holding storage that a tied tensor also reads (from the parameter layout).
    let sharedBlocks: Set<Int>

    /// Gradient buckets as DDP builds them: consecutive blocks from the end of the
    /// buffer (backward order), each bucket at least `bucketElements` long. A bucket
    /// is complete when its lowest block's backward ends, except one holding shared
    /// storage: a tied tensor may add to its gradient until the whole backward ends
    /// (block 0's hook is the last).
    static func buckets(model: any LanguageModel<Float>, worldSize: Int, bucketElements: Int) -> SegmentPlan {
        let blocks = model.blockRanges
        var bucketRanges: [Range<Int>] = []
        var current: Range<Int>?
        for r in blocks.reversed() {
            current = current.map { r.lowerBound..<$0.upperBound } ?? r
            if current!.count >= bucketElements { bucketRanges.append(current!); current = nil }
        }
        if let c = current { bucketRanges.append(c) }
        let map = ShardMap(ranges: Array(bucketRanges.reversed()), worldSize: worldSize)
        let shared = model.layout.sharedStorage
        var completes: [Int: [Int]] = [:]
        for (s, seg) in map.segments.enumerated() {
            let holdsShared = shared.contains { $0.overlaps(seg.range) }
            guard let lowest = blocks.firstIndex(where: { $0.lowerBound == seg.range.lowerBound }) else { continue }
            completes[holdsShared ? 0 : lowest, default: []].append(s)
        }
        return SegmentPlan(map: map, completedAfterBackward: completes, sharedBlocks: model.layout.blocksHoldingSharedStorage(blocks))
    }

    /// FSDP's units: one segment per block, segment index = block index. An empty block (BERT's
    /// head, which only reads the tied word embeddings) has no segment; it may only come last,
    /// after every block with storage, so the indices stay equal.
    static func blocks(model: any LanguageModel<Float>, worldSize: Int) -> SegmentPlan {
        let blocks = model.blockRanges
        let stored = blocks.indices.filter { !blocks[$0].isEmpty }
        precondition(stored == Array(0..<stored.count), "FSDP: an empty parameter block must come after every non-empty one")
        let shared = model.layout.blocksHoldingSharedStorage(blocks)
        var completes: [Int: [Int]] = [:]
        for b in stored { completes[shared.contains(b) ? 0 : b, default: []].append(b) }
        return SegmentPlan(map: ShardMap(ranges: blocks, worldSize: worldSize), completedAfterBackward: completes, sharedBlocks: shared)
    }
}
