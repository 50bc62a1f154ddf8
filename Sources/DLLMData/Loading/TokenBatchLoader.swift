/// Something a loader can draw training examples from by index.
public protocol ExampleSource {
    var count: Int { get }
    func example(at index: Int) throws -> SFTExample
}

extension Array: ExampleSource where Element == SFTExample {
    public func example(at index: Int) throws -> SFTExample { self[index] }
}

/// Grouped pretraining sequences held in memory (labels = inputs).
public struct SequenceSource: ExampleSource, Sendable {
    public var sequences: [[Int32]]

    public init(_ sequences: [[Int32]]) { self.sequences = sequences }

    public var count: Int { sequences.count }

    public func example(at index: Int) throws -> SFTExample {
        SFTExample(inputIDs: sequences[index], labels: sequences[index], promptLength: nil)
    }
}

/// One optimizer step's worth of batches for one rank.
public struct LoaderStep: Equatable, Sendable {
    public var epoch: Int
    public var step: Int
    /// `gradientAccumulationSteps` micro-batches, each of `perDeviceBatchSize` rows.
    public var microBatches: [CollatedBatch]
    /// The sample indices behind each micro-batch.
    public var sampleIndices: [[Int]]
}

/// Per-rank batches: a ``DistributedBatchSampler`` choosing indices, a source providing
/// examples, a ``BatchCollator`` padding them, and optionally ``RandomLengthTruncation``
/// (the HF Trainer's data loader with dLLM's collator stack).
public struct TokenBatchLoader<Source: ExampleSource> {
    public let source: Source
    public let collator: BatchCollator
    public let randomTruncation: RandomLengthTruncation?
    public private(set) var sampler: DistributedBatchSampler

    public init(source: Source, plan: BatchPlan, rank: Int, collator: BatchCollator,
                randomTruncation: RandomLengthTruncation? = nil) throws {
        self.source = source
        self.collator = collator
        self.randomTruncation = randomTruncation
        sampler = try DistributedBatchSampler(datasetCount: source.count, plan: plan, rank: rank)
    }

    public var position: LoaderPosition { sampler.position }
    public var stepsPerEpoch: Int { sampler.stepsPerEpoch }

    public mutating func restore(_ position: LoaderPosition) throws { try sampler.restore(position) }

    public mutating func next() throws -> LoaderStep {
        let (epoch, step, indices) = sampler.next()
        var batches: [CollatedBatch] = []
        for (micro, group) in indices.enumerated() {
            var batch = collator.collate(try group.map { try source.example(at: $0) })
            if let randomTruncation {
                batch = randomTruncation.apply(batch, epoch: epoch, step: step, microStep: micro)
            }
            batches.append(batch)
        }
        return LoaderStep(epoch: epoch, step: step, microBatches: batches, sampleIndices: indices)
    }
}
