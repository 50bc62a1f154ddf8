import DLLMCompute
import DLLMModels
import DLLMOptim

/// PyTorch FSDP `FULL_SHARD` (ZeRO-3): parameters, gradients and moments all
/// partitioned, per block. A block's parameters are all-gathered just before its
/// forward and its backward (the next block's gather prefetched), freed after use;
/// its gradients are reduce-scattered when its backward ends.
///
/// Blocks holding storage that a tied tensor shares (from the parameter layout: a
/// tied output head reads the token embedding) stay gathered from the first forward
/// until the whole backward has ended, and are reduced then, since the tie may read
/// them, and add to their gradient, at any point in between.
public final class FSDPStrategy: DataParallelStrategy {
    public let name = "fsdp"
    public let core: DataParallelCore

    public init(model: any LanguageModel<Float>, comm: Communicator, plan: ParallelPlan) {
        let segments = SegmentPlan.blocks(model: model, worldSize: comm.worldSize)
        core = DataParallelCore(model: model, comm: comm, plan: plan, segments: segments,
                                fullMoments: false, shardGradients: true, shardParameters: true, stagingBuffers: 4)
        core.shardParameters()
        let shared = segments.sharedBlocks
        let count = core.map.segments.count
        let hooks = BlockHooks()
        hooks.beforeForward = { [unowned self] b in
            if b == 0 { for s in shared.sorted() { core.ensureGathered(s) } }
            guard b < count else { return }  // a trailing empty block (a tied head) has no segment
            core.ensureGathered(b)
            if plan.prefetch, b + 1 < count { core.startGather(b + 1) }
        }
        hooks.afterForward = { [unowned self] b in
            if plan.reshardAfterForward && b < count && !shared.contains(b) { core.release(segment: b) }
        }
        hooks.beforeBackward = { [unowned self] b in
            guard b < count else { return }
            core.ensureGathered(b)
            if plan.prefetch, b - 1 >= 0 { core.startGather(b - 1) }
        }
        hooks.afterBackward = { [unowned self] b in
            for s in core.segments.completedAfterBackward[b] ?? [] {
                core.startReduceScatter(segment: s)
                core.release(segment: s)
            }
            core.progress()
        }
        model.hooks = hooks
    }

    public func memoryReport() -> MemoryReport {
        let shard = map.shardCount * 4
        let largest = (map.segments.map { $0.range.count }.max() ?? 0) * 4
        return MemoryReport(parameters: shard, gradients: shard, optimizerState: 2 * shard, transient: 2 * largest)
    }

    public func beginStep() { core.beginStep(releaseGradients: true) }
    public func beginMicroBatch(isLast: Bool) {}

    /// Waits for the micro-batch's reductions; parameters still gathered are freed
    /// (the next forward gathers them again).
    public func endMicroBatch() {
        core.waitAll()
        core.releaseAllGathered()
    }

    public func optimizerStep(step: Int, learningRate: Double, config: AdamWConfig, clip: Double) {
        core.shardedAdamWStep(step: step, learningRate: learningRate, config: config, clip: clip)
        core.stats.bytesSent = comm.bytesSent
    }

    public func withFullParameters<T>(_ body: () throws -> T) rethrows -> T {
        core.gatherAll()
        defer { core.releaseAllGathered() }
        return try body()
    }
}
