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
///
/// The autoregressive-to-diffusion recipes add (docs/objectives.md):
/// - `shift` — the logits at position i − 1 predict the token at a masked position i, so an
///   AR model's next-token head keeps its meaning (DiffuLLaMA's `shift`, dLLM's
///   `right_shift_logits`). Position 0 is never scored; it may still be masked (DiffuLLaMA).
/// - `bosTokenID` — dLLM's `MDLMTrainer._preprocess_inputs` under `right_shift_logits`:
///   BOS (label −100) is prepended to every row unless every row's first label is already −100.
/// - `reciprocal` weighting `1/t` and `masked` normalisation by the scored positions:
///   DiffuLLaMA's `Σ (1/t)·CE·mask / Σ mask`.
/// - `annealing` — DiffuLLaMA's attention-mask annealing (`AttentionAnnealing`).
///
/// Dream's recipe (dLLM `DreamTrainer`) is `shift` with the `cart` weighting: each masked token is
/// weighted by how much clean context surrounds it (``cartWeights(masked:B:T:geometricP:)``).
public struct MaskedDiffusionObjective: Objective {
    public enum Weighting: String, Sendable {
        case scheduler, uniform
        /// `1/t` in float32 (DiffuLLaMA `LinearNoise.rate_noise`).
        case reciprocal
        /// Dream's context-adaptive token-level weight (CART, dLLM `pipelines/dream/trainer.py`
        /// `cart_weight`), independent of `t`; its parameter is ``MaskedDiffusionObjective/cartGeometricP``.
        case cart

        /// The loss weight at time `t`. dLLM computes it in float32: 1/(1 − α(t) + 1e-6) with α(t) = 1 − t.
        func weight(t: Double) -> Float {
            let tf = Float(t)
            switch self {
            case .scheduler: return 1 / (1 - (1 - tf) + 1e-6)
            case .uniform: return 1
            case .reciprocal: return 1 / tf
            case .cart: return 1  // per token: ``MaskedDiffusionObjective/cartWeights``
            }
        }
    }
    public enum Normalization: String, Sendable {
        case token, sequence, batch
        /// By the micro-batch's scored (masked) positions (DiffuLLaMA `loss_mask.sum()`).
        case masked

        /// What a scored token's weight is divided by.
        func divisor(maskableTotal: Int, maskableInRow: Int, B: Int, scoredTotal: Int) -> Float {
            switch self {
            case .token: Float(max(1, maskableTotal))
            case .sequence: Float(max(1, maskableInRow) * B)
            case .batch: Float(B)
            case .masked: Float(max(1, scoredTotal))
            }
        }
    }

    public var maskTokenID: Int32
    public var timeEpsilon: Double
    public var weighting: Weighting
    public var normalization: Normalization
    public var shift: Bool
    public var bosTokenID: Int32?
    public var annealing: AttentionAnnealing?
    /// The geometric distribution's `p` of the `cart` weighting (dLLM's `geo_p`, 0.3 by default).
    public var cartGeometricP: Double

    public init(maskTokenID: Int32, timeEpsilon: Double = 1e-3, weighting: Weighting = .scheduler, normalization: Normalization = .token,
                shift: Bool = false, bosTokenID: Int32? = nil, annealing: AttentionAnnealing? = nil, cartGeometricP: Double = 0.3) {
        precondition(cartGeometricP > 0 && cartGeometricP < 1, "MaskedDiffusionObjective: cartGeometricP must be in (0, 1)")
        self.cartGeometricP = cartGeometricP
        self.maskTokenID = maskTokenID
        self.timeEpsilon = timeEpsilon
        self.weighting = weighting
        self.normalization = normalization
        self.shift = shift
        self.bosTokenID = bosTokenID
        self.annealing = annealing
    }

    /// DiffuLLaMA's recipe (`CustomDiffusionTrainer.inner_forward`): weights `1/t`, the sum over
    /// scored positions divided by their count, attention annealed over `annealSteps`.
    public static func diffuLLaMA(maskTokenID: Int32, shift: Bool, annealSteps: Int, timeEpsilon: Double = 1e-3) -> Self {
        Self(maskTokenID: maskTokenID, timeEpsilon: timeEpsilon, weighting: .reciprocal, normalization: .masked,
             shift: shift, annealing: AttentionAnnealing(steps: annealSteps))
    }

    /// Draws each sequence's `t` and mask from a generator keyed by (seed, step, global sample index),
    /// and the annealed attention pattern from one keyed by (seed, step).
    public func prepare(_ batch: CleanBatch, step: Int, seed: UInt64) -> ObjectiveBatch {
        let batch = bosTokenID.map { Self.prependingBOS(batch, bos: $0) } ?? batch
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
        let attention = annealing?.allowed(T: batch.T, step: step, seed: seed)
        return prepare(batch, t: t, masked: masked, attention: attention)
    }

    /// dLLM `prepend_bos` under `right_shift_logits`: BOS with label −100 before every row,
    /// unless every row's first label is already −100 (then the batch is returned as is).
    public static func prependingBOS(_ batch: CleanBatch, bos: Int32) -> CleanBatch {
        let B = batch.B, T = batch.T
        if (0..<B).allSatisfy({ batch.labels[$0 * T] == ignoreIndex }) { return batch }
        var ids: [Int32] = [], labels: [Int32] = []
        for b in 0..<B {
            ids += [bos] + batch.inputIDs[(b * T)..<((b + 1) * T)]
            labels += [ignoreIndex] + batch.labels[(b * T)..<((b + 1) * T)]
        }
        return CleanBatch(B: B, T: T + 1, inputIDs: ids, labels: labels, lengths: batch.lengths?.map { $0 + 1 },
                          sampleIndices: batch.sampleIndices)
    }

    /// The deterministic core, given each sequence's `t`, which positions are masked
    /// (positions whose label is −100 are never masked) and, optionally, the (T·T)
    /// query-major attention pattern shared by the batch (ANDed with key padding).
    public func prepare(_ batch: CleanBatch, t: [Double], masked: [Bool], attention: [Bool]? = nil) -> ObjectiveBatch {
        let B = batch.B, T = batch.T
        var ids = batch.inputIDs
        var targets = [Int32](repeating: ignoreIndex, count: B * T)
        var weights = [Float](repeating: 0, count: B * T)
        let maskablePerRow = (0..<B).map { b in (0..<T).filter { batch.labels[b * T + $0] != ignoreIndex }.count }
        let maskableTotal = maskablePerRow.reduce(0, +)
        // With `shift` the token at position i is scored on logit row i − 1; position 0 is not scored.
        let offset = shift ? 1 : 0
        let isMasked = { (n: Int) in masked[n] && batch.labels[n] != ignoreIndex }
        let scoredTotal = (0..<B).reduce(0) { sum, b in sum + (offset..<T).filter { isMasked(b * T + $0) }.count }
        var lossTokens = 0
        let cart = weighting == .cart
            ? Self.cartWeights(masked: (0..<(B * T)).map(isMasked), B: B, T: T, geometricP: cartGeometricP) : nil
        for b in 0..<B {
            let w = weighting.weight(t: t[b])
            let normalizer = normalization.divisor(maskableTotal: maskableTotal, maskableInRow: maskablePerRow[b], B: B,
                                                   scoredTotal: scoredTotal)
            for i in 0..<T {
                let n = b * T + i
                guard isMasked(n) else { continue }
                ids[n] = maskTokenID
                guard i >= offset else { continue }
                targets[n - offset] = batch.inputIDs[n]
                weights[n - offset] = (cart?[n] ?? w) / normalizer
                lossTokens += 1
            }
        }
        let padding = batch.lengths.map { lengths in lengths.flatMap { len in (0..<T).map { $0 < len } } }
        let mask = attention.map { AttentionAnnealing.mask(B: B, T: T, allowed: $0, keyPadding: padding) }
            ?? AttentionMask(.bidirectional, B: B, T: T, keyPadding: padding)
        return ObjectiveBatch(inputs: TokenBatch(ids: ids, B: B, T: T), mask: mask, targets: targets,
                              weights: weights, lossTokens: lossTokens)
    }
}

extension MaskedDiffusionObjective {
    /// CART weights (dLLM `pipelines/dream/trainer.py` `cart_weight`), (B·T) from the (B·T) masked
    /// positions: a masked token `i` gets `Σ_j clean_j · g(|i − j|)` over the row's unmasked positions
    /// `j` (prompt, BOS and padding included), with the two-sided geometric kernel
    /// `g(d) = ½ · p · (1 − p)^(d − 1)` for `d ≥ 1`; unmasked positions get 0. A masked token far
    /// from clean context weighs little, one beside it up to `p`. Summed in Float64, rounded to Float
    /// (the reference sums in float32).
    public static func cartWeights(masked: [Bool], B: Int, T: Int, geometricP p: Double) -> [Float] {
        precondition(masked.count == B * T, "cartWeights: masked must hold B·T values")
        let kernel = (0..<T).map { d in d == 0 ? 0 : 0.5 * p * Foundation.pow(1 - p, Double(d - 1)) }  // (T) by distance
        var weights = [Float](repeating: 0, count: B * T)
        for b in 0..<B {
            let row = b * T
            for i in 0..<T where masked[row + i] {
                var sum = 0.0
                for j in 0..<T where !masked[row + j] { sum += kernel[abs(i - j)] }
                weights[row + i] = Float(sum)
            }
        }
        return weights
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
