import DLLMRandom

/// How batches are formed across ranks (the HF `TrainingArguments` that shape accelerate's
/// data loader).
public struct BatchPlan: Codable, Equatable, Sendable {
    /// `per_device_train_batch_size`.
    public var perDeviceBatchSize: Int
    /// Number of ranks (processes).
    public var worldSize: Int
    /// `gradient_accumulation_steps`.
    public var gradientAccumulationSteps: Int
    /// Seed of the per-epoch shuffle (`seed` / `data_seed`).
    public var seed: UInt64
    /// Shuffle each epoch (the Trainer's `RandomSampler`); false keeps dataset order.
    public var shuffle: Bool
    /// Drop the last incomplete global batch of an epoch (`dataloader_drop_last`); when false
    /// it is completed with samples from the start of the epoch's order, as accelerate's
    /// `even_batches` does.
    public var dropLast: Bool

    public init(perDeviceBatchSize: Int, worldSize: Int = 1, gradientAccumulationSteps: Int = 1, seed: UInt64 = 42,
                shuffle: Bool = true, dropLast: Bool = false) {
        self.perDeviceBatchSize = perDeviceBatchSize
        self.worldSize = worldSize
        self.gradientAccumulationSteps = gradientAccumulationSteps
        self.seed = seed
        self.shuffle = shuffle
        self.dropLast = dropLast
    }

    /// `per_device_batch × world_size × grad_accum`: samples per optimizer step.
    public var globalBatchSize: Int { perDeviceBatchSize * worldSize * gradientAccumulationSteps }
}

/// Where a loader stands, saved with a checkpoint and given back to resume.
public struct LoaderPosition: Codable, Equatable, Sendable {
    /// 0-based epoch.
    public var epoch: Int
    /// Optimizer steps already taken in this epoch (the next step to serve).
    public var step: Int
    /// Optimizer steps taken since the start (over all epochs).
    public var globalStep: Int
    /// Samples consumed per rank since the start.
    public var samplesPerRank: Int
    /// What the position is only valid for; checked on restore.
    public var seed: UInt64
    public var datasetCount: Int
    public var globalBatchSize: Int

    public init(epoch: Int, step: Int, globalStep: Int, samplesPerRank: Int, seed: UInt64, datasetCount: Int,
                globalBatchSize: Int) {
        self.epoch = epoch
        self.step = step
        self.globalStep = globalStep
        self.samplesPerRank = samplesPerRank
        self.seed = seed
        self.datasetCount = datasetCount
        self.globalBatchSize = globalBatchSize
    }
}

/// Errors of batch planning and resuming.
public enum LoaderError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalidPlan(detail: String)
    case positionMismatch(detail: String)
    case emptyDataset(detail: String)

    public var description: String {
        switch self {
        case let .invalidPlan(detail):
            return "Invalid batch plan: \(detail). Batch size, world size and accumulation steps must be at least 1, "
                + "and 0 ≤ rank < world size."
        case let .positionMismatch(detail):
            return "Cannot resume the data loader: \(detail). Resume with the same dataset, seed and global batch size "
                + "(per-device batch × world size × accumulation steps) as the saved run, or start a new run."
        case let .emptyDataset(detail):
            return "Cannot build batches: \(detail). Check the dataset spec and the filtering (max_length, truncation)."
        }
    }
}

/// Which samples each rank takes at every step, as accelerate shards the Trainer's sampler.
///
/// Each epoch has a global order: a Fisher–Yates shuffle of `0..<count` keyed by `(seed, epoch)`
/// (or the identity without shuffling). Optimizer step `s` consumes the global batch
/// `order[s·G ..< (s+1)·G]`, `G = perDevice × world × accumulation`. Within it, micro-step `m`
/// covers `perDevice × world` consecutive samples, and rank `r` takes the `r`-th run of
/// `perDevice` of those: accelerate's `BatchSamplerShard` hands batch `k` of the sampler to rank
/// `k mod world`. The global order depends only on the seed, the epoch and `G`, so runs that
/// keep `G` fixed see the same samples per step for any world size.
public struct DistributedBatchSampler: Sendable {
    public let plan: BatchPlan
    public let rank: Int
    public let datasetCount: Int
    public private(set) var position: LoaderPosition
    private var cachedEpoch: Int = -1
    private var cachedOrder: [Int] = []

    public init(datasetCount: Int, plan: BatchPlan, rank: Int) throws {
        guard plan.perDeviceBatchSize >= 1, plan.worldSize >= 1, plan.gradientAccumulationSteps >= 1 else {
            throw LoaderError.invalidPlan(detail: "per-device batch \(plan.perDeviceBatchSize), world size \(plan.worldSize), "
                + "accumulation \(plan.gradientAccumulationSteps)")
        }
        guard (0..<plan.worldSize).contains(rank) else {
            throw LoaderError.invalidPlan(detail: "rank \(rank) with world size \(plan.worldSize)")
        }
        guard datasetCount > 0 else { throw LoaderError.emptyDataset(detail: "the dataset has no samples") }
        if plan.dropLast && datasetCount < plan.globalBatchSize {
            throw LoaderError.emptyDataset(
                detail: "\(datasetCount) samples cannot fill one global batch of \(plan.globalBatchSize) with dropLast")
        }
        self.plan = plan
        self.rank = rank
        self.datasetCount = datasetCount
        position = LoaderPosition(epoch: 0, step: 0, globalStep: 0, samplesPerRank: 0, seed: plan.seed,
                                  datasetCount: datasetCount, globalBatchSize: plan.globalBatchSize)
    }

    /// Optimizer steps in one epoch.
    public var stepsPerEpoch: Int {
        let g = plan.globalBatchSize
        return plan.dropLast ? datasetCount / g : (datasetCount + g - 1) / g
    }

    /// The global sample order of `epoch`.
    public func globalOrder(epoch: Int) -> [Int] {
        var order = Array(0..<datasetCount)
        guard plan.shuffle else { return order }
        var generator = SeededGenerator(seed: plan.seed, stream: 0x5348_5546, UInt64(epoch))
        var i = order.count - 1
        while i > 0 {
            let j = Int(generator.next() % UInt64(i + 1))
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }

    private mutating func order(for epoch: Int) -> [Int] {
        if cachedEpoch != epoch {
            cachedOrder = globalOrder(epoch: epoch)
            cachedEpoch = epoch
        }
        return cachedOrder
    }

    /// All samples of global step `step` of `epoch` (every rank, every micro-step).
    public mutating func globalBatch(epoch: Int, step: Int) -> [Int] {
        let order = order(for: epoch)
        let g = plan.globalBatchSize
        return (0..<g).map { order[(step * g + $0) % order.count] }
    }

    /// This rank's micro-batches for global step `step` of `epoch` (`gradientAccumulationSteps`
    /// lists of `perDeviceBatchSize` sample indices).
    public mutating func rankBatches(epoch: Int, step: Int) -> [[Int]] {
        let batch = globalBatch(epoch: epoch, step: step)
        let p = plan.perDeviceBatchSize
        let microSize = p * plan.worldSize
        return (0..<plan.gradientAccumulationSteps).map { m in
            let start = m * microSize + rank * p
            return Array(batch[start..<(start + p)])
        }
    }

    /// The next step's micro-batches for this rank, advancing the position (epochs roll over).
    public mutating func next() -> (epoch: Int, step: Int, microBatches: [[Int]]) {
        if position.step >= stepsPerEpoch {
            position.epoch += 1
            position.step = 0
        }
        let result = (position.epoch, position.step, rankBatches(epoch: position.epoch, step: position.step))
        position.step += 1
        position.globalStep += 1
        position.samplesPerRank += plan.perDeviceBatchSize * plan.gradientAccumulationSteps
        return result
    }

    /// Continues from a saved position; the dataset, seed and global batch size must match.
    public mutating func restore(_ saved: LoaderPosition) throws {
        guard saved.datasetCount == datasetCount else {
            throw LoaderError.positionMismatch(detail: "it was saved for \(saved.datasetCount) samples, the dataset has \(datasetCount)")
        }
        guard saved.seed == plan.seed else {
            throw LoaderError.positionMismatch(detail: "it was saved with seed \(saved.seed), the plan has \(plan.seed)")
        }
        guard saved.globalBatchSize == plan.globalBatchSize else {
            throw LoaderError.positionMismatch(
                detail: "it was saved with global batch \(saved.globalBatchSize), the plan has \(plan.globalBatchSize)")
        }
        guard saved.epoch >= 0, saved.step >= 0, saved.step <= stepsPerEpoch else {
            throw LoaderError.positionMismatch(detail: "epoch \(saved.epoch) step \(saved.step) is outside the \(stepsPerEpoch)-step epoch")
        }
        position = saved
    }
}
