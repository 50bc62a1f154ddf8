import Foundation

/// Plausible metrics for a made-up run, for tests and benchmarks: a loss that decays
/// from about 5 towards 1, a warm-up then cosine learning rate, and a rank whose
/// steps are a little slower than the others.
public struct SyntheticRun: Sendable {
    public var totalSteps: Int
    public var worldSize: Int
    public var peakLearningRate = 3e-4

    public init(totalSteps: Int, worldSize: Int) {
        self.totalSteps = max(1, totalSteps)
        self.worldSize = max(1, worldSize)
    }

    public func metrics(step: Int, rank: Int) -> StepMetrics {
        let t = Double(step) / Double(totalSteps)
        let wiggle = 0.05 * sin(Double(step) * 0.37 + Double(rank))
        let loss = 1 + 4 * exp(-5 * t) + wiggle + 0.01 * Double(rank)
        let warmup = max(1, totalSteps / 20)
        let lr = step < warmup ? peakLearningRate * Double(step + 1) / Double(warmup)
            : peakLearningRate * 0.5 * (1 + cos(Double.pi * Double(step - warmup) / Double(max(1, totalSteps - warmup))))
        let stepTime = 0.8 + (rank == worldSize - 1 ? 0.1 : 0) + 0.02 * sin(Double(step + rank))
        let communication = worldSize > 1 ? 0.1 * stepTime : 0
        let data = 0.02 * stepTime
        let tokens = 4_096
        return StepMetrics(step: step, epoch: t, loss: loss, learningRate: lr, gradNorm: 1 + 0.5 * exp(-3 * t),
                           tokens: tokens, tokensPerSecond: Double(tokens) / stepTime, stepTime: stepTime,
                           computeTime: stepTime - communication - data, communicationTime: communication, dataTime: data,
                           residentBytes: 1_500_000_000 + rank * 1_000_000, optimizerStateBytes: 2 * 4 * 124_000_000 / worldSize)
    }
}
