import Foundation

/// Everything besides weights and optimizer moments that a resumed run needs to
/// continue bit for bit (HF's `trainer_state.json`, plus the data position).
public struct TrainerState: Codable, Sendable, Equatable {
    /// Optimizer steps completed.
    public var globalStep: Int = 0
    /// Fractional epochs seen.
    public var epoch: Double = 0
    /// The loader's position after the last completed step, as the loader encodes it.
    public var dataPosition: Data?
    public var seed: Int = 42
    public var totalSteps: Int = 0
    public var logHistory: [LogEntry] = []

    public init() {}

    /// One logged record: training loss over a logging interval, or an evaluation.
    public struct LogEntry: Codable, Sendable, Equatable {
        public var step: Int
        public var epoch: Double
        public var loss: Double?
        public var evalLoss: Double?
        public var learningRate: Double?
        public var gradNorm: Double?
        public var tokensPerSecond: Double?

        enum CodingKeys: String, CodingKey {
            case step, epoch, loss, evalLoss = "eval_loss", learningRate = "learning_rate"
            case gradNorm = "grad_norm", tokensPerSecond = "tokens_per_second"
        }
    }

    enum CodingKeys: String, CodingKey {
        case globalStep = "global_step", epoch, dataPosition = "data_position", seed
        case totalSteps = "max_steps", logHistory = "log_history"
    }
}
