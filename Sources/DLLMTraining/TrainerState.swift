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

    // `data_position` is a base64 string, as Foundation's `JSONEncoder` wrote `Data` (its
    // default strategy) into the checkpoints saved before the DLLMJSON bridge, which has
    // no special case for Foundation types.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        globalStep = try c.decode(Int.self, forKey: .globalStep)
        epoch = try c.decode(Double.self, forKey: .epoch)
        if let text = try c.decodeIfPresent(String.self, forKey: .dataPosition) {
            guard let data = Data(base64Encoded: text) else {
                throw DecodingError.dataCorruptedError(forKey: .dataPosition, in: c, debugDescription: "not base64")
            }
            dataPosition = data
        }
        seed = try c.decode(Int.self, forKey: .seed)
        totalSteps = try c.decode(Int.self, forKey: .totalSteps)
        logHistory = try c.decode([LogEntry].self, forKey: .logHistory)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(globalStep, forKey: .globalStep)
        try c.encode(epoch, forKey: .epoch)
        try c.encodeIfPresent(dataPosition?.base64EncodedString(), forKey: .dataPosition)
        try c.encode(seed, forKey: .seed)
        try c.encode(totalSteps, forKey: .totalSteps)
        try c.encode(logHistory, forKey: .logHistory)
    }
}
