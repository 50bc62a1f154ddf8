import DLLMCompute
import DLLMModels
import DLLMOptim

/// DeepSpeed ZeRO stage 2 (`stage_1_and_2.py`): moments and gradients partitioned.
/// Each bucket's gradients are reduce-scattered as soon as backward has finished
/// them (every micro-batch), accumulated into this rank's gradient shard, and their
/// full-size pages freed; each rank updates its chunks, then parameters are all-gathered.
public final class ZeRO2Strategy: DataParallelStrategy {
    public let name = "zero2"
    public let core: DataParallelCore

    public init(model: any LanguageModel<Float>, comm: Communicator, plan: ParallelPlan) {
        let segments = SegmentPlan.buckets(model: model, worldSize: comm.worldSize, bucketElements: plan.bucketElements)
        core = DataParallelCore(model: model, comm: comm, plan: plan, segments: segments,
                                fullMoments: false, shardGradients: true, shardParameters: false, stagingBuffers: 4)
        let hooks = BlockHooks()
        hooks.afterBackward = { [unowned self] b in
            for s in core.segments.completedAfterBackward[b] ?? [] { core.startReduceScatter(segment: s) }
            core.progress()
        }
        model.hooks = hooks
    }

    public func memoryReport() -> MemoryReport {
        let full = model.parameterCount * 4, shard = map.shardCount * 4
        let largest = (map.segments.map { $0.range.count }.max() ?? 0) * 4
        return MemoryReport(parameters: full, gradients: shard, optimizerState: 2 * shard, transient: largest)
    }

    public func beginStep() { core.beginStep(releaseGradients: true) }
    public func beginMicroBatch(isLast: Bool) {}
    public func endMicroBatch() { core.waitAll() }

    public func optimizerStep(step: Int, learningRate: Double, config: AdamWConfig, clip: Double) {
        core.shardedAdamWStep(step: step, learningRate: learningRate, config: config, clip: clip)
        core.gatherReplicatedParameters()
        core.stats.bytesSent = comm.bytesSent
    }

    public func withFullParameters<T>(_ body: () throws -> T) rethrows -> T { try body() }
}
