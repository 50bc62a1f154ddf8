import DLLMCompute
import Dispatch

/// FSDP's parameter movement: a block's full parameters are gathered from every
/// rank's chunks into the model's flat buffer just before use, and their pages
/// returned to the kernel afterwards.
extension DataParallelCore {
    /// After every rank holds identical full parameters: keep only this rank's chunks.
    func shardParameters() {
        guard let paramShard else { return }
        let p = model.parameters.pointer
        for (s, seg) in map.segments.enumerated() {
            let owned = seg.owned(by: comm.rank)
            (paramShard.pointer + seg.shardOffset).update(from: p + owned.lowerBound, count: owned.count)
            release(segment: s)
        }
        gathered = []
    }

    /// Starts gathering segment `s`'s parameters into a staging buffer.
    func startGather(_ s: Int) {
        guard !gathered.contains(s), gatherRequests[s] == nil, let paramShard else { return }
        let seg = map.segments[s]
        let slot = freeStagingSlot()
        let buffer = staging[slot].pointer
        let mine = buffer + comm.rank * seg.chunk
        mine.update(from: paramShard.pointer + seg.shardOffset, count: seg.chunk)
        gatherRequests[s] = (comm.startAllGather(UnsafePointer(mine), buffer, countPerRank: seg.chunk), slot)
    }

    /// Segment `s`'s full parameters in place (waiting for its gather if one is in flight).
    func ensureGathered(_ s: Int) {
        if gathered.contains(s) { return }
        if gatherRequests[s] == nil { startGather(s) }
        guard let (request, slot) = gatherRequests.removeValue(forKey: s) else { return }
        let start = DispatchTime.now().uptimeNanoseconds
        request.wait()
        stats.waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let seg = map.segments[s]
        (model.parameters.pointer + seg.range.lowerBound).update(from: staging[slot].pointer, count: seg.range.count)
        gathered.insert(s)
    }

    /// Frees segment `s`'s full parameters (they read as zeros until gathered again).
    func release(segment s: Int) {
        let seg = map.segments[s]
        MemoryRelease.discard(model.parameters.pointer + seg.range.lowerBound, count: seg.range.count)
        gathered.remove(s)
    }

    func releaseAllGathered() {
        for s in gathered { release(segment: s) }
        gathered = []
    }

    /// Every segment gathered (for a consolidated save or an evaluation of the whole model).
    func gatherAll() {
        for s in map.segments.indices {
            startGather(s)
            ensureGathered(s)
        }
    }
}
