import Foundation

/// Learning-rate schedules as `transformers.get_scheduler` defines them: a linear
/// warm-up from 0 over `warmup` steps, then `linear` decay to 0, `cosine` decay to 0
/// (half a period), `constant`, or `constant_with_warmup`.
public struct LearningRateSchedule: Sendable, Equatable {
    public enum Kind: String, CaseIterable, Sendable {
        case linear, cosine, constant
        case constantWithWarmup = "constant_with_warmup"
    }

    public let kind: Kind
    public let peak: Double
    public let warmup: Int
    public let total: Int

    public init(kind: Kind, peak: Double, warmup: Int, total: Int) {
        self.kind = kind
        self.peak = peak
        self.warmup = warmup
        self.total = total
    }

    /// `warmup_steps` wins over `warmup_ratio` when both are set, as in HF (`ceil(ratio·total)`).
    public static func warmupSteps(steps: Int, ratio: Double, total: Int) -> Int {
        steps > 0 ? steps : Int((ratio * Double(total)).rounded(.up))
    }

    /// The rate used for optimizer step `step` (0-based, HF's `LambdaLR` counter).
    public func rate(at step: Int) -> Double {
        if kind == .constant { return peak }
        if step < warmup { return peak * Double(step) / Double(max(1, warmup)) }
        switch kind {
        case .constant, .constantWithWarmup:
            return peak
        case .linear:
            return peak * max(0, Double(total - step) / Double(max(1, total - warmup)))
        case .cosine:
            let progress = Double(step - warmup) / Double(max(1, total - warmup))
            return peak * max(0, 0.5 * (1 + cos(Double.pi * 0.5 * 2 * progress)))
        }
    }
}
