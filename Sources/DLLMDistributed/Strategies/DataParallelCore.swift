import DLLMCompute
import DLLMModels
import DLLMOptim
import Dispatch

/// What DDP, ZeRO-1, ZeRO-2 and FSDP share for one rank: the shard map, the AdamW
/// moments (full for DDP, this rank's chunks otherwise), the optional gradient and
/// parameter shards, and the non-blocking collectives in flight with their staging
/// buffers. The strategies differ only in which of these they allocate and in the
/// hooks they install.
public final class DataParallelCore {
    public let comm: Communicator
    public let model: any LanguageModel<Float>
    public let plan: ParallelPlan
    public let map: ShardMap
    let segments: SegmentPlan
    /// AdamW moments: (P) for DDP (`momentsAreFull`), (shardCount) otherwise.
    public let m: Buffer<Float>
    public let v: Buffer<Float>
    let momentsAreFull: Bool
    /// AdamW's decay mask (HF Trainer's default groups), laid out like `m` and `v`.
    let decayMask: [UInt8]
    /// ZeRO-2 and FSDP: this rank's reduced gradient chunks, (shardCount).
    let gradShard: Buffer<Float>?
    /// FSDP: this rank's parameter chunks, (shardCount).
    let paramShard: Buffer<Float>?
    /// Send/receive staging: a padded segment (W chunks) plus one chunk to receive into.
    let staging: [Buffer<Float>]
    var pending: [(segment: Int, request: CommunicationRequest, staging: Int?)] = []
    /// FSDP: blocks whose full parameters are in place, and gathers in flight.
    var gathered: Set<Int> = []
    var gatherRequests: [Int: (request: CommunicationRequest, staging: Int)] = [:]
    var stats = CommunicationStats()

    init(model: any LanguageModel<Float>, comm: Communicator, plan: ParallelPlan, segments: SegmentPlan,
         fullMoments: Bool, shardGradients: Bool, shardParameters: Bool, stagingBuffers: Int) {
        self.model = model
        self.comm = comm
        self.plan = plan
        self.segments = segments
        map = segments.map
        momentsAreFull = fullMoments
        let momentCount = fullMoments ? model.parameterCount : map.shardCount
        m = Buffer(count: momentCount)
        v = Buffer(count: momentCount)
        let fullMask = model.weightDecayMask()
        let rank = comm.rank
        decayMask = fullMoments ? fullMask
            : WeightDecayGroups.shardMask(fullMask, segments: map.segments.map { ($0.owned(by: rank), $0.shardOffset) },
                                          shardCount: map.shardCount)
        gradShard = shardGradients ? Buffer(count: map.shardCount) : nil
        paramShard = shardParameters ? Buffer(count: map.shardCount) : nil
        let largest = (map.segments.map(\.chunk).max() ?? 0) * (comm.worldSize + 1)
        staging = (0..<stagingBuffers).map { _ in Buffer(count: max(1, largest)) }
    }

    /// DDP's and ZeRO-1's hooks: each bucket's all-reduce starts as soon as backward has
    /// finished its blocks, on the micro-batches for which `reduces()` is true.
    func installBucketAllReduce(reduces: @escaping () -> Bool) {
        let hooks = BlockHooks()
        hooks.afterBackward = { [unowned self] b in
            if reduces() { for s in segments.completedAfterBackward[b] ?? [] { startAllReduce(segment: s) } }
            progress()
        }
        model.hooks = hooks
    }

    /// Starts a step: gradients read as zero (a sharding strategy returns their pages
    /// instead of writing zeros into them), statistics reset.
    func beginStep(releaseGradients: Bool) {
        if releaseGradients {
            MemoryRelease.discard(model.gradients.pointer, count: model.parameterCount)
        } else {
            model.gradients.zero()
        }
        gradShard?.zero()
        stats = CommunicationStats()
    }

    // MARK: collectives in flight

    /// Drives the non-blocking collectives (MPI progresses them only when called).
    func progress() { for item in pending { _ = item.request.test() } }

    /// Waits for every collective in flight and folds reduce-scattered chunks into the gradient shard.
    func waitAll() {
        let start = DispatchTime.now().uptimeNanoseconds
        for item in pending {
            item.request.wait()
            finishReduceScatter(item)
        }
        pending = []
        for (_, gather) in gatherRequests { gather.request.wait() }
        stats.waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// DDP and ZeRO-1: sums segment `s`'s gradients over ranks, in place.
    func startAllReduce(segment s: Int) {
        let seg = map.segments[s]
        let request = comm.startAllReduceSum(model.gradients.pointer + seg.range.lowerBound, count: seg.range.count,
                                             wire: plan.gradientWire)
        pending.append((s, request, nil))
        stats.overlappedCollectives += 1
    }

    /// ZeRO-2 and FSDP: reduce-scatters segment `s`'s gradients (padded through
    /// staging) and frees their full-size pages on this rank.
    func startReduceScatter(segment s: Int) {
        let seg = map.segments[s]
        let W = comm.worldSize
        let slot = freeStagingSlot()
        let buffer = staging[slot].pointer
        buffer.update(from: model.gradients.pointer + seg.range.lowerBound, count: seg.range.count)
        (buffer + seg.range.count).update(repeating: 0, count: seg.chunk * W - seg.range.count)
        // This rank's reduced chunk lands just after the padded segment.
        let request = comm.startReduceScatterSum(UnsafePointer(buffer), buffer + seg.chunk * W, countPerRank: seg.chunk,
                                                 wire: plan.gradientWire)
        pending.append((s, request, slot))
        stats.overlappedCollectives += 1
        MemoryRelease.discard(model.gradients.pointer + seg.range.lowerBound, count: seg.range.count)
    }

    func finishReduceScatter(_ item: (segment: Int, request: CommunicationRequest, staging: Int?)) {
        guard let slot = item.staging, let gradShard else { return }
        let seg = map.segments[item.segment]
        let received = staging[slot].pointer + seg.chunk * comm.worldSize
        let dst = gradShard.pointer + seg.shardOffset
        for i in 0..<seg.chunk { dst[i] += received[i] }
    }

    var stagingInUse: Set<Int> { Set(pending.compactMap(\.staging) + gatherRequests.values.map(\.staging)) }

    func freeStagingSlot() -> Int {
        if let free = staging.indices.first(where: { !stagingInUse.contains($0) }) { return free }
        // Every staging buffer is busy: complete the oldest collective first.
        let item = pending.removeFirst()
        item.request.wait()
        finishReduceScatter(item)
        return item.staging ?? freeStagingSlot()
    }

    /// ZeRO-1/2: every rank's updated chunks → full parameters everywhere.
    func gatherReplicatedParameters() {
        let buffer = staging[0].pointer
        let p = model.parameters.pointer
        let start = DispatchTime.now().uptimeNanoseconds
        for seg in map.segments {
            let owned = seg.owned(by: comm.rank)
            let mine = buffer + comm.rank * seg.chunk
            mine.update(from: p + owned.lowerBound, count: owned.count)
            comm.allGather(UnsafePointer(mine), buffer, countPerRank: seg.chunk)
            p.advanced(by: seg.range.lowerBound).update(from: buffer, count: seg.range.count)
        }
        stats.waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}
