import Dispatch

/// What a sampling run cost, reported next to its output.
public struct SamplingStats: Sendable, Equatable {
    /// Forward calls of the model (Fast-dLLM's `nfe`; a classifier-free-guidance step
    /// runs the conditional and unconditional rows in one call, as LLaDA does).
    public var modelEvaluations = 0
    /// Query positions run through the model, summed over calls (B·Tq per call).
    public var evaluatedPositions = 0
    /// Steps that ran the model.
    public var steps = 0
    /// Tokens committed (masks filled, or tokens generated autoregressively).
    public var committedTokens = 0
    /// Wall-clock seconds of the run.
    public var seconds = 0.0

    public init() {}

    /// Committed tokens per second of wall-clock time.
    public var tokensPerSecond: Double { seconds > 0 ? Double(committedTokens) / seconds : 0 }
}

/// Monotonic seconds since an arbitrary origin.
func monotonicSeconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
