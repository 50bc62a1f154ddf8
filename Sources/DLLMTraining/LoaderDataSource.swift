import DLLMCompute
import DLLMData
import DLLMJSON
import Foundation

/// Serves a `TokenBatchLoader`'s steps (this rank's micro-batches of each global
/// batch) to the trainer one micro-batch at a time; positions are saved at step
/// boundaries, which is where checkpoints happen.
public final class LoaderDataSource<Source: ExampleSource>: TrainingDataSource {
    var loader: TokenBatchLoader<Source>
    var pending: [CleanBatch] = []
    let gradientAccumulationSteps: Int

    public init(loader: TokenBatchLoader<Source>, gradientAccumulationSteps: Int) {
        self.loader = loader
        self.gradientAccumulationSteps = gradientAccumulationSteps
    }

    public var microBatchesPerEpoch: Int { loader.stepsPerEpoch * gradientAccumulationSteps }

    public var epoch: Double {
        let p = loader.position
        return Double(p.epoch) + Double(p.step) / Double(max(1, loader.stepsPerEpoch))
    }

    public func nextMicroBatch() throws -> CleanBatch {
        if pending.isEmpty {
            let step = try loader.next()
            pending = zip(step.microBatches, step.sampleIndices).map { Self.clean($0.0, indices: $0.1) }
        }
        return pending.removeFirst()
    }

    /// A collated batch as the objective takes it; padding becomes row lengths.
    static func clean(_ batch: CollatedBatch, indices: [Int]) -> CleanBatch {
        let lengths = batch.attentionMask.map { mask in
            (0..<batch.rows).map { r in mask[(r * batch.length)..<((r + 1) * batch.length)].reduce(0) { $0 + Int($1) } }
        }
        let padded = lengths.map { $0.contains { $0 < batch.length } } ?? false
        return CleanBatch(B: batch.rows, T: batch.length, inputIDs: batch.inputIDs, labels: batch.labels,
                          lengths: padded ? lengths : nil, sampleIndices: indices)
    }

    public func position() throws -> Data {
        precondition(pending.isEmpty, "data position taken in the middle of a step")
        return Data(try JSONValueEncoder().bytes(loader.position))
    }

    public func restore(_ data: Data) throws {
        pending = []
        try loader.restore(try JSONValueDecoder().decode(LoaderPosition.self, fromJSON: data))
    }
}

/// Every micro-batch of a source once, in order (evaluation).
public func evaluationBatches<Source: ExampleSource>(_ source: Source, batchSize: Int, collator: BatchCollator) throws -> [CleanBatch] {
    var batches: [CleanBatch] = []
    var start = 0
    while start < source.count {
        let end = min(source.count, start + batchSize)
        let examples = try (start..<end).map { try source.example(at: $0) }
        batches.append(LoaderDataSource<Source>.clean(collator.collate(examples), indices: Array(start..<end)))
        start = end
    }
    return batches
}
