import DLLMRandom

/// LLaDA's variable-length pretraining: with probability `ratio` a batch is cut to a random
/// length drawn uniformly from `1...length` (dLLM's `RandomTruncateWrapper`, default ratio 0.01;
/// the LLaDA paper sets 1% of pretraining data to a random length in [1, 4096]).
///
/// As in dLLM the decision is per batch and cuts every row (and labels and mask) to the same
/// length. dLLM draws from torch's global generator, so all ranks (seeded alike) agree; here the
/// draw is keyed by `(seed, epoch, step, microStep)` and identical on every rank and on resume.
public struct RandomLengthTruncation: Codable, Equatable, Sendable {
    public var ratio: Double
    public var seed: UInt64

    public init(ratio: Double = 0.01, seed: UInt64) {
        self.ratio = ratio
        self.seed = seed
    }

    /// The length the batch at this position is cut to, or `nil` to keep it whole.
    public func length(forBatchLength length: Int, epoch: Int, step: Int, microStep: Int) -> Int? {
        guard ratio > 0, length > 0 else { return nil }
        var generator = SeededGenerator(seed: seed, stream: 0x5254_5255_4E43, UInt64(epoch), UInt64(step), UInt64(microStep))
        guard generator.nextUniform() < ratio else { return nil }
        return min(length, 1 + Int(generator.nextUniform() * Double(length)))
    }

    public func apply(_ batch: CollatedBatch, epoch: Int, step: Int, microStep: Int) -> CollatedBatch {
        guard let l = length(forBatchLength: batch.length, epoch: epoch, step: step, microStep: microStep) else {
            return batch
        }
        return batch.truncated(to: l)
    }
}
