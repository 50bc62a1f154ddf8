import DLLMCompute
import DLLMModels
import DLLMOptim

/// DeepSpeed ZeRO stage 1 (`stage_1_and_2.py`): AdamW's moments partitioned over
/// ranks. Gradients are all-reduced in buckets as in DDP; each rank updates the
/// chunks it owns, then the updated parameters are all-gathered.
public final class ZeRO1Strategy: DataParallelStrategy {
    public let name = "zero1"
    public let core: DataParallelCore
    var reduceThisMicroBatch = true

    public init(model: any LanguageModel<Float>, comm: Communicator, plan: ParallelPlan) {
        let segments = SegmentPlan.buckets(model: model, worldSize: comm.worldSize, bucketElements: plan.bucketElements)
        core = DataParallelCore(model: model, comm: comm, plan: plan, segments: segments,
                                fullMoments: false, shardGradients: false, shardParameters: false, stagingBuffers: 1)
        core.installBucketAllReduce { [unowned self] in reduceThisMicroBatch }
    }

    public func memoryReport() -> MemoryReport {
        let full = model.parameterCount * 4, shard = map.shardCount * 4
        return MemoryReport(parameters: full, gradients: full, optimizerState: 2 * shard, transient: 0)
    }

    public func beginStep() { core.beginStep(releaseGradients: false) }
    public func beginMicroBatch(isLast: Bool) { reduceThisMicroBatch = isLast }
    public func endMicroBatch() { core.waitAll() }

    public func optimizerStep(step: Int, learningRate: Double, config: AdamWConfig, clip: Double) {
        core.shardedAdamWStep(step: step, learningRate: learningRate, config: config, clip: clip)
        core.gatherReplicatedParameters()
        core.stats.bytesSent = comm.bytesSent
    }

    public func withFullParameters<T>(_ body: () throws -> T) rethrows -> T { try body() }
}
