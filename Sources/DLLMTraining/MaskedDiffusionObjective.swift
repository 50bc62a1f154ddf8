import DLLMCompute
import DLLMModels
import DLLMRandom
import Foundation

/// Masked diffusion (MDLM, Sahoo et al. 2024; LLaDA, Nie et al. 2025), as dLLM's
/// `MDLMTrainer.compute_loss` defines it with the linear schedule α(t) = 1 − t:
///
/// - per sequence `t = ε + (1 − ε)·u`, `u ~ U[0, 1)`, so the mask probability is `p = 1 − α(t) = t`;
/// - each maskable token (label ≠ −100) is replaced by the mask token with probability `p`;
/// - loss `Σ w(t)·CE` over masked positions, with `w(t) = −α′(t)/(1 − α(t) + 10⁻⁶) = 1/(t + 10⁻⁶)`
///   (`loss_weight_type: scheduler`) or 1 (`uniform`);
/// - normalised per `loss_norm_type`: `token` divides by the micro-batch's maskable tokens,
///   `sequence` by each sequence's maskable tokens times B (LLaDA's SFT form), `batch` by B.
public struct MaskedDiffusionObjective: Objective {
    public enum Weighting: String, Sendable { case scheduler, uniform }
    public enum Normalization: String, Sendable { case token, sequence, batch }

    public var maskTokenID: Int32
    public var timeEpsilon: Double
    public var weighting: Weighting
    public var normalization: Normalization

    public init(maskTokenID: Int32, timeEpsilon: Double = 1e-3, weighting: Weighting = .scheduler, normalization: Normalization = .token) {
        self.maskTokenID = maskTokenID
        self.timeEpsilon = timeEpsilon
        self.weighting = weighting
        self.normalization = normalization
    }

    /// Draws each sequence's `t` and mask from a generator keyed by (seed, step, global sample index).
    public func prepare(_ batch: CleanBatch, step: Int, seed: UInt64) -> ObjectiveBatch {
        var t = [Double](repeating: 0, count: batch.B)
        var masked = [Bool](repeating: false, count: batch.B * batch.T)
        for b in 0..<batch.B {
            var rng = SeededGenerator(seed: seed, stream: UInt64(step), UInt64(batch.sampleIndices[b]))
            t[b] = timeEpsilon + (1 - timeEpsilon) * rng.nextUniform()
            let p = Float(t[b])
            for i in 0..<batch.T {
                masked[b * batch.T + i] = Float(rng.nextUniform()) < p && batch.labels[b * batch.T + i] != ignoreIndex
            }
        }
        return prepare(batch, t: t, masked: masked)
    }

    /// The deterministic core, given each sequence's `t` and which positions are masked
    /// (positions whose label is −100 are never masked).
    public func prepare(_ batch: CleanBatch, t: [Double], masked: [Bool]) -> ObjectiveBatch {
        let B = batch.B, T = batch.T
        var ids = batch.inputIDs
        var targets = [Int32](repeating: ignoreIndex, count: B * T)
        var weights = [Float](repeating: 0, count: B * T)
        let maskablePerRow = (0..<B).map { b in (0..<T).filter { batch.labels[b * T + $0] != ignoreIndex }.count }
        let maskableTotal = max(1, maskablePerRow.reduce(0, +))
        var lossTokens = 0
        for b in 0..<B {
            // dLLM computes the weight in float32: 1 − α(t) + 1e-6 with α(t) = 1 − t.
            let tf = Float(t[b])
            let w: Float = weighting == .scheduler ? 1 / (1 - (1 - tf) + 1e-6) : 1
            let normalizer: Float
            switch normalization {
            case .token: normalizer = Float(maskableTotal)
            case .sequence: normalizer = Float(max(1, maskablePerRow[b]) * B)
            case .batch: normalizer = Float(B)
            }
            for i in 0..<T {
                let n = b * T + i
                guard masked[n] && batch.labels[n] != ignoreIndex else { continue }
                ids[n] = maskTokenID
                targets[n] = batch.inputIDs[n]
                weights[n] = w / normalizer
                lossTokens += 1
            }
        }
        let mask = batch.lengths.map { AttentionMask.padded(.bidirectional, lengths: $0, T: T) }
            ?? AttentionMask(.bidirectional, B: B, T: T)
        return ObjectiveBatch(inputs: TokenBatch(ids: ids, B: B, T: T), mask: mask, targets: targets,
                              weights: weights, lossTokens: lossTokens)
    }
}

/// Autoregressive next-token prediction on the same model (causal attention):
/// position `i` is scored against label `i + 1`, the mean over scored positions,
/// as `transformers`' causal-LM loss computes it.
public struct AutoregressiveObjective: Objective {
    public init() {}

    public func prepare(_ batch: CleanBatch, step: Int, seed: UInt64) -> ObjectiveBatch {
        let B = batch.B, T = batch.T
        var targets = [Int32](repeating: ignoreIndex, count: B * T)
        for b in 0..<B {
            for i in 0..<(T - 1) { targets[b * T + i] = batch.labels[b * T + i + 1] }
        }
        let count = targets.filter { $0 != ignoreIndex }.count
        let w = 1 / Float(max(1, count))
        let weights = targets.map { $0 == ignoreIndex ? 0 : w }
        let mask = batch.lengths.map { AttentionMask.padded(.causal, lengths: $0, T: T) } ?? AttentionMask(.causal, B: B, T: T)
        return ObjectiveBatch(inputs: TokenBatch(ids: batch.inputIDs, B: B, T: T), mask: mask, targets: targets,
                              weights: weights, lossTokens: count)
    }
}
