import DLLMCompute
import DLLMModels
import DLLMOptim
import Dispatch
import Foundation

/// Runs the parallel part of each optimizer step for one rank: gradient
/// synchronisation during backward (through the model's `BlockHooks`), the global
/// gradient norm, clipping, the AdamW update of the state this rank owns, and
/// re-assembling parameters. The model and the objective know nothing of it.
///
/// Mirrors PyTorch DDP (bucketed all-reduce overlapping backward), DeepSpeed ZeRO-1
/// and ZeRO-2 (`stage_1_and_2.py`: partitioned optimizer state, reduce-scattered
/// gradient buckets) and FSDP (`FULL_SHARD`: per-block flat parameters gathered
/// before forward and backward, gradients reduce-scattered after backward).
public final class DistributedEngine {
    public let comm: Communicator
    public let model: any LanguageModel<Float>
    public let plan: ParallelPlan
    public let map: ShardMap
    /// AdamW moments: full-size for DDP, this rank's shard otherwise.
    public let m: Buffer<Float>
    public let v: Buffer<Float>
    /// AdamW's decay mask (HF Trainer's default grouping), laid out like `m` and `v`:
    /// full-size for DDP, this rank's shard otherwise.
    let decayMask: [UInt8]
    /// ZeRO-2/FSDP: this rank's reduced gradient chunks.
    let gradShard: Buffer<Float>?
    /// FSDP: this rank's parameter chunks.
    public let paramShard: Buffer<Float>?
    /// Send/receive staging for padded segments.
    var staging: [Buffer<Float>] = []
    var pending: [(segment: Int, request: CommunicationRequest, staging: Int?)] = []
    var gathered: Set<Int> = []
    var gatherRequests: [Int: (CommunicationRequest, Int)] = [:]
    /// For bucketed strategies: segment index completed when block b's backward ends.
    let completesSegment: [Int: Int]
    var reduceThisMicroBatch = true
    var firstMicroBatch = true
    public private(set) var stats = CommunicationStats()
    let tiedHead: Bool

    public init(model: any LanguageModel<Float>, comm: Communicator, plan: ParallelPlan) {
        self.model = model
        self.comm = comm
        self.plan = plan
        let W = comm.worldSize
        let blocks = model.blockRanges
        switch model.architecture {
        case .llamaFamily(let s): tiedHead = s.tiedEmbeddings
        case .gpt2: tiedHead = true
        }
        if plan.stage == .fsdp {
            map = ShardMap(ranges: blocks, worldSize: W)
            completesSegment = Dictionary(uniqueKeysWithValues: (0..<blocks.count).map { ($0, $0) })
        } else {
            // Buckets from the end of the buffer (backward order), as DDP builds them.
            let reversed = Array(blocks.reversed())
            var bucketRanges: [Range<Int>] = []
            var current: Range<Int>?
            for r in reversed {
                current = current.map { r.lowerBound..<$0.upperBound } ?? r
                if current!.count >= plan.bucketElements { bucketRanges.append(current!); current = nil }
            }
            if let c = current { bucketRanges.append(c) }
            let ordered = Array(bucketRanges.reversed())
            map = ShardMap(ranges: ordered, worldSize: W)
            var completes: [Int: Int] = [:]
            for (s, seg) in map.segments.enumerated() {
                // The segment's lowest block finishes last in backward.
                if let b = blocks.firstIndex(where: { $0.lowerBound == seg.range.lowerBound }) { completes[b] = s }
            }
            completesSegment = completes
        }
        let shardSized = plan.stage != .ddp
        m = Buffer(count: shardSized ? map.shardCount : model.parameterCount)
        v = Buffer(count: shardSized ? map.shardCount : model.parameterCount)
        let fullMask = model.weightDecayMask()
        if shardSized {
            let rank = comm.rank
            decayMask = WeightDecayGroups.shardMask(fullMask, segments: map.segments.map { ($0.owned(by: rank), $0.shardOffset) },
                                                    shardCount: map.shardCount)
        } else {
            decayMask = fullMask
        }
        gradShard = (plan.stage == .zero2 || plan.stage == .fsdp) ? Buffer(count: map.shardCount) : nil
        paramShard = plan.stage == .fsdp ? Buffer(count: map.shardCount) : nil
        // A padded segment (W chunks) plus one chunk to receive a reduce-scatter into.
        let largest = (map.segments.map { $0.chunk }.max() ?? 0) * (W + 1)
        let stagingCount = plan.stage == .ddp || plan.stage == .zero1 ? 1 : 4
        staging = (0..<stagingCount).map { _ in Buffer(count: max(1, largest)) }
        installHooks()
    }

    // MARK: set-up

    /// After all ranks initialised (or loaded) identical parameters: keep only this
    /// rank's chunks where parameters are sharded.
    public func shardParameters() {
        guard let paramShard else { return }
        let p = model.parameters.pointer
        for (s, seg) in map.segments.enumerated() {
            let owned = seg.owned(by: comm.rank)
            (paramShard.pointer + seg.shardOffset).update(from: p + owned.lowerBound, count: owned.count)
            release(segment: s, parameters: true)
        }
        gathered = []
    }

    func installHooks() {
        let hooks = BlockHooks()
        switch plan.stage {
        case .ddp, .zero1:
            hooks.afterBackward = { [unowned self] b in
                guard reduceThisMicroBatch, let s = completesSegment[b] else { return progress() }
                let seg = map.segments[s]
                let request = comm.startAllReduceSum(model.gradients.pointer + seg.range.lowerBound, count: seg.range.count)
                pending.append((s, request, nil))
                stats.overlappedCollectives += 1
                progress()
            }
        case .zero2:
            hooks.afterBackward = { [unowned self] b in
                guard let s = completesSegment[b] else { return progress() }
                startReduceScatter(segment: s)
                progress()
            }
        case .fsdp:
            hooks.beforeForward = { [unowned self] b in
                ensureGathered(b)
                if plan.prefetch, b + 1 < map.segments.count { startGather(b + 1) }
            }
            hooks.afterForward = { [unowned self] b in
                if plan.reshardAfterForward && !(tiedHead && b == 0) { release(segment: b, parameters: true); gathered.remove(b) }
            }
            hooks.beforeBackward = { [unowned self] b in
                ensureGathered(b)
                if plan.prefetch, b - 1 >= 0 { startGather(b - 1) }
            }
            hooks.afterBackward = { [unowned self] b in
                startReduceScatter(segment: b)
                // A tied head's backward also reads the embedding (block 0), which stays gathered
                // from the forward until its own backward, the last, ends.
                release(segment: b, parameters: true)
                gathered.remove(b)
                progress()
            }
        }
        model.hooks = hooks
    }

    // MARK: per step

    /// Call before each micro-batch's forward.
    public func beginMicroBatch(isLast: Bool, isFirst: Bool) {
        reduceThisMicroBatch = isLast || plan.stage == .zero2 || plan.stage == .fsdp
        firstMicroBatch = isFirst
        if isFirst {
            stats = CommunicationStats()
            if let gradShard { gradShard.zero() }
        }
    }

    /// Call after each micro-batch's backward: waits for its collectives.
    public func endMicroBatch() {
        waitAll()
        if plan.stage == .fsdp {
            // Parameters are re-gathered at the next forward; free what is still held.
            for b in gathered { release(segment: b, parameters: true) }
            gathered = []
        }
    }

    /// Global L2 norm of the synchronised gradient (averaged over ranks).
    public func gradientNorm() -> Double {
        let W = Double(comm.worldSize)
        var local = 0.0
        for seg in map.segments {
            let owned = seg.owned(by: comm.rank)
            if let gradShard {
                local += GradientClipping.sumOfSquares(gradShard.pointer + seg.shardOffset, range: 0..<owned.count)
            } else {
                local += GradientClipping.sumOfSquares(model.gradients.pointer, range: owned)
            }
        }
        // Gradients are sums over ranks here; the averaged gradient is 1/W of them.
        return comm.allReduceSum([local])[0].squareRoot() / W
    }

    /// Averages (divides the summed gradients by W) and scales by `clip`, then
    /// updates this rank's parameters with AdamW and reassembles what is replicated.
    public func optimizerStep(step: Int, learningRate: Double, config: AdamWConfig, clip: Double) {
        let W = comm.worldSize
        let scale = Float(clip / Double(W))
        let p = model.parameters.pointer, g = model.gradients.pointer
        switch plan.stage {
        case .ddp:
            if scale != 1 { for i in 0..<model.parameterCount { g[i] *= scale } }
            decayMask.withUnsafeBufferPointer { mask in
                AdamW.step(params: p, grads: UnsafePointer(g), m: m.pointer, v: v.pointer, range: 0..<model.parameterCount,
                           step: step, config: config, learningRate: learningRate, decayMask: mask.baseAddress)
            }
        case .zero1, .zero2, .fsdp:
            for seg in map.segments {
                let owned = seg.owned(by: comm.rank)
                let n = owned.count
                let grads: UnsafeMutablePointer<Float> = gradShard.map { $0.pointer + seg.shardOffset } ?? (g + owned.lowerBound)
                if scale != 1 { for i in 0..<n { grads[i] *= scale } }
                let params = paramShard.map { $0.pointer + seg.shardOffset } ?? (p + owned.lowerBound)
                decayMask.withUnsafeBufferPointer { mask in
                    AdamW.step(params: params, grads: UnsafePointer(grads), m: m.pointer + seg.shardOffset, v: v.pointer + seg.shardOffset,
                               range: 0..<n, step: step, config: config, learningRate: learningRate,
                               decayMask: mask.baseAddress.map { $0 + seg.shardOffset })
                }
            }
            if plan.stage != .fsdp { gatherReplicatedParameters() }
        }
        stats.bytesSent = comm.bytesSent
    }

    /// The mean of a per-rank value (the logged loss).
    public func mean(_ value: Double) -> Double { comm.allReduceSum([value])[0] / Double(comm.worldSize) }

    // MARK: collectives

    func progress() { for item in pending { _ = item.request.test() } }

    func waitAll() {
        let start = DispatchTime.now().uptimeNanoseconds
        for item in pending {
            item.request.wait()
            finishReduceScatter(item)
        }
        pending = []
        for (_, (request, _)) in gatherRequests { request.wait() }
        stats.waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// ZeRO-2/FSDP: reduce-scatter a finished segment's gradients (padded through staging).
    func startReduceScatter(segment s: Int) {
        let seg = map.segments[s]
        let W = comm.worldSize
        let slot = freeStagingSlot()
        let buffer = staging[slot].pointer
        buffer.update(from: model.gradients.pointer + seg.range.lowerBound, count: seg.range.count)
        (buffer + seg.range.count).update(repeating: 0, count: seg.chunk * W - seg.range.count)
        // This rank's reduced chunk lands just after the padded segment.
        let request = comm.startReduceScatterSum(UnsafePointer(buffer), buffer + seg.chunk * W, countPerRank: seg.chunk)
        pending.append((s, request, slot))
        stats.overlappedCollectives += 1
        // The full-size gradients of this segment are no longer needed on this rank.
        MemoryRelease.discard(model.gradients.pointer + seg.range.lowerBound, count: seg.range.count)
    }

    func finishReduceScatter(_ item: (segment: Int, request: CommunicationRequest, staging: Int?)) {
        guard let slot = item.staging, let gradShard else { return }
        let seg = map.segments[item.segment]
        let received = staging[slot].pointer + seg.chunk * comm.worldSize
        let dst = gradShard.pointer + seg.shardOffset
        for i in 0..<seg.chunk { dst[i] += received[i] }
    }

    var stagingInUse: Set<Int> { Set(pending.compactMap(\.staging) + gatherRequests.values.map(\.1)) }

    func freeStagingSlot() -> Int {
        if let free = (0..<staging.count).first(where: { !stagingInUse.contains($0) }) { return free }
        // All staging buffers busy: complete the oldest collective first.
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

    /// FSDP: start gathering block b's parameters into a staging buffer.
    func startGather(_ b: Int) {
        guard !gathered.contains(b), gatherRequests[b] == nil, let paramShard else { return }
        let seg = map.segments[b]
        let slot = freeStagingSlot()
        let buffer = staging[slot].pointer
        let mine = buffer + comm.rank * seg.chunk
        mine.update(from: paramShard.pointer + seg.shardOffset, count: seg.chunk)
        gatherRequests[b] = (comm.startAllGather(UnsafePointer(mine), buffer, countPerRank: seg.chunk), slot)
    }

    /// FSDP: block b's full parameters in place before it runs.
    func ensureGathered(_ b: Int) {
        if gathered.contains(b) { return }
        if gatherRequests[b] == nil { startGather(b) }
        guard let (request, slot) = gatherRequests.removeValue(forKey: b) else { return }
        let start = DispatchTime.now().uptimeNanoseconds
        request.wait()
        stats.waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let seg = map.segments[b]
        (model.parameters.pointer + seg.range.lowerBound).update(from: staging[slot].pointer, count: seg.range.count)
        gathered.insert(b)
    }

    func release(segment s: Int, parameters: Bool) {
        let seg = map.segments[s]
        if parameters { MemoryRelease.discard(model.parameters.pointer + seg.range.lowerBound, count: seg.range.count) }
    }

    // MARK: checkpoints

    /// Installs full flat state read from a checkpoint written at any world size.
    public func restore(params: [Float]?, m fullM: [Float], v fullV: [Float]) {
        if let params {
            params.withUnsafeBufferPointer { model.parameters.pointer.update(from: $0.baseAddress!, count: params.count) }
        }
        if plan.stage == .ddp {
            fullM.withUnsafeBufferPointer { m.pointer.update(from: $0.baseAddress!, count: fullM.count) }
            fullV.withUnsafeBufferPointer { v.pointer.update(from: $0.baseAddress!, count: fullV.count) }
        } else {
            m.zero(); v.zero()
            for seg in map.segments {
                let owned = seg.owned(by: comm.rank)
                for i in 0..<owned.count {
                    m[seg.shardOffset + i] = fullM[owned.lowerBound + i]
                    v[seg.shardOffset + i] = fullV[owned.lowerBound + i]
                }
            }
        }
        if plan.stage == .fsdp { shardParameters() }
    }

    /// FSDP: assembles the full parameters on every rank (for a consolidated save).
    public func gatherFullParameters() {
        guard plan.stage == .fsdp else { return }
        for b in 0..<map.segments.count {
            startGather(b)
            ensureGathered(b)
        }
    }

    /// FSDP: frees the full parameters again after `gatherFullParameters`.
    public func releaseFullParameters() {
        guard plan.stage == .fsdp else { return }
        for b in 0..<map.segments.count { release(segment: b, parameters: true) }
        gathered = []
    }

    // MARK: accounting

    /// Bytes held by design: full buffers where replicated, shards where partitioned.
    public func memoryReport() -> MemoryReport {
        let full = model.parameterCount * 4, shard = map.shardCount * 4
        let largest = (map.segments.map { $0.range.count }.max() ?? 0) * 4
        switch plan.stage {
        case .ddp: return MemoryReport(parameters: full, gradients: full, optimizerState: 2 * full, transient: 0)
        case .zero1: return MemoryReport(parameters: full, gradients: full, optimizerState: 2 * shard, transient: 0)
        case .zero2: return MemoryReport(parameters: full, gradients: shard, optimizerState: 2 * shard, transient: largest)
        case .fsdp: return MemoryReport(parameters: shard, gradients: shard, optimizerState: 2 * shard, transient: 2 * largest)
        }
    }
}
