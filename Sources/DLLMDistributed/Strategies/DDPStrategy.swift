import DLLMCompute
import DLLMModels
import DLLMOptim

/// PyTorch DDP: everything replicated; gradients summed over ranks in buckets whose
/// all-reduce starts as soon as backward has finished their blocks, overlapping the
/// rest of backward. With gradient accumulation only the last micro-batch reduces
/// (`no_sync` for the others).
public final class DDPStrategy: DataParallelStrategy {
    public let name = "ddp"
    public let core: DataParallelCore
    var reduceThisMicroBatch = true

    public init(model: any LanguageModel<Float>, comm: Communicator, plan: ParallelPlan) {
        let segments = SegmentPlan.buckets(model: model, worldSize: comm.worldSize, bucketElements: plan.bucketElements)
        core = DataParallelCore(model: model, comm: comm, plan: plan, segments: segments,
                                fullMoments: true, shardGradients: false, shardParameters: false, stagingBuffers: 1)
        core.installBucketAllReduce { [unowned self] in reduceThisMicroBatch }
    }

    public func memoryReport() -> MemoryReport {
        let full = model.parameterCount * 4
        return MemoryReport(parameters: full, gradients: full, optimizerState: 2 * full, transient: 0)
    }

    public func beginStep() { core.beginStep(releaseGradients: false) }
    public func beginMicroBatch(isLast: Bool) { reduceThisMicroBatch = isLast }
    public func endMicroBatch() { core.waitAll() }

    public func optimizerStep(step: Int, learningRate: Double, config: AdamWConfig, clip: Double) {
        core.fullAdamWStep(step: step, learningRate: learningRate, config: config, clip: clip)
        core.stats.bytesSent = comm.bytesSent
    }

    public func withFullParameters<T>(_ body: () throws -> T) rethrows -> T { try body() }
}
