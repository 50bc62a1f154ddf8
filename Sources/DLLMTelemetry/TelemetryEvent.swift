import Foundation

/// One optimizer step of one rank, as the `step` event carries it. Times are seconds;
/// `computeTime + communicationTime + dataTime` need not add up to `stepTime` exactly.
public struct StepMetrics: Sendable, Equatable {
    public var step: Int
    public var epoch: Double
    public var loss: Double
    public var learningRate: Double
    public var gradNorm: Double
    /// Tokens this rank processed in the step.
    public var tokens: Int
    public var tokensPerSecond: Double
    public var stepTime: Double
    public var computeTime: Double
    public var communicationTime: Double
    public var dataTime: Double
    /// Resident set size of the rank's process.
    public var residentBytes: Int
    /// Bytes of optimizer state this rank holds (AdamW `m` and `v`, or its shard).
    public var optimizerStateBytes: Int

    public init(step: Int, epoch: Double = 0, loss: Double, learningRate: Double = 0, gradNorm: Double = 0,
                tokens: Int = 0, tokensPerSecond: Double = 0, stepTime: Double = 0, computeTime: Double = 0,
                communicationTime: Double = 0, dataTime: Double = 0, residentBytes: Int = 0, optimizerStateBytes: Int = 0) {
        self.step = step
        self.epoch = epoch
        self.loss = loss
        self.learningRate = learningRate
        self.gradNorm = gradNorm
        self.tokens = tokens
        self.tokensPerSecond = tokensPerSecond
        self.stepTime = stepTime
        self.computeTime = computeTime
        self.communicationTime = communicationTime
        self.dataTime = dataTime
        self.residentBytes = residentBytes
        self.optimizerStateBytes = optimizerStateBytes
    }
}

/// What a rank announces when it starts.
public struct RunStart: Sendable, Equatable {
    /// Where the run writes (absolute); the collector puts metrics.jsonl there by default.
    public var outputDir: String
    public var worldSize: Int
    public var totalSteps: Int?
    /// The resolved training config as a JSON object (e.g. `JSONEncoder` output).
    public var config: Data?

    public init(outputDir: String, worldSize: Int = 1, totalSteps: Int? = nil, config: Data? = nil) {
        self.outputDir = outputDir
        self.worldSize = worldSize
        self.totalSteps = totalSteps
        self.config = config
    }
}

/// How a rank's run ended.
public enum ExitStatus: String, Sendable, Codable, CaseIterable {
    /// Finished all its steps.
    case ok
    /// Stopped early on request (a signal), after a checkpoint.
    case stopped
    /// Failed (an `error` event precedes it).
    case error
}

/// An event a rank publishes; the envelope (version, run, rank, host, sequence
/// number, time) is added by `TelemetryPublisher`.
public enum TelemetryEvent: Sendable, Equatable {
    case start(RunStart)
    case step(StepMetrics)
    case checkpoint(step: Int, path: String)
    case eval(step: Int, loss: Double)
    case warning(String)
    case error(String)
    case exit(ExitStatus, step: Int?)
    /// The rank is alive (sent every few seconds from a background thread, whatever the
    /// rank is doing); carries its last completed step, if any.
    case heartbeat(step: Int?)

    public var kind: EventKind {
        switch self {
        case .start: return .start
        case .step: return .step
        case .checkpoint: return .checkpoint
        case .eval: return .eval
        case .warning: return .warning
        case .error: return .error
        case .exit: return .exit
        case .heartbeat: return .heartbeat
        }
    }
}
