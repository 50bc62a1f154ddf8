import Foundation

/// Edit Flows' κ(t) schedule (Havasi et al. 2025, "Edit Flows"), mirroring dLLM
/// `core/schedulers/kappa.py`: the probability that a column of the alignment has reached its
/// target by time t. Computed in Float, as dLLM computes it in float32.
public enum KappaSchedule: String, Sendable, CaseIterable {
    /// `CubicKappaScheduler(a = 1, b = 1)`: κ = (a+1)t³ − (a+b+1)t² + (b+1)t = 2t³ − 3t² + 2t.
    case cubic
    /// `LinearKappaScheduler` (the cubic with a = −1, b = 0): κ = t.
    case linear
    /// `CosineKappaScheduler`: κ = 1 − cos(πt/2).
    case cosine

    /// The schedule dLLM's `scheduler_cls` names (`CubicKappaScheduler`, `linearkappascheduler`, …)
    /// or the short names `cubic`, `linear`, `cosine`.
    public init?(dLLMName name: String) {
        let lower = name.lowercased()
        let short = lower.hasSuffix("kappascheduler") ? String(lower.dropLast("kappascheduler".count)) : lower
        self.init(rawValue: short)
    }

    /// π/2 rounded to nearest in Float, as PyTorch turns the Python scalar `0.5 * math.pi` into
    /// float32 (`Float.pi` is rounded toward zero).
    static let halfPi = Float(Double.pi / 2)

    /// The cubic family's (a, b); nil for the cosine.
    var cubicCoefficients: (a: Float, b: Float)? {
        switch self {
        case .cubic: return (1, 1)
        case .linear: return (-1, 0)
        case .cosine: return nil
        }
    }

    /// κ(t), t ∈ [0, 1].
    public func kappa(_ t: Float) -> Float {
        guard let (a, b) = cubicCoefficients else { return 1 - cos(Self.halfPi * t) }
        return (a + 1) * (t * t * t) - (a + b + 1) * (t * t) + (b + 1) * t
    }

    /// κ′(t).
    public func derivative(_ t: Float) -> Float {
        guard let (a, b) = cubicCoefficients else { return Self.halfPi * sin(Self.halfPi * t) }
        return 3 * (a + 1) * (t * t) - 2 * (a + b + 1) * t + (b + 1)
    }

    /// The rate scale `w(t) = κ′(t) / (1 − κ(t) + 10⁻⁶)` (dLLM `BaseKappaScheduler.weight`).
    public func weight(_ t: Float) -> Float {
        derivative(t) / (1 - kappa(t) + 1e-6)
    }
}
