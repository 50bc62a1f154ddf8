import DLLMCompute
import DLLMModels
import DLLMRandom

/// Block diffusion (BD3LM, Arriola et al. 2025, "Block Diffusion: Interpolating Between
/// Autoregressive and Diffusion Language Models"), as dLLM's `BD3LMTrainer.compute_loss`
/// (dllm/core/trainers/bd3lm.py) defines it:
///
/// - collation (`AppendEOSBlockWrapper`): each row is padded with EOS, in the inputs and the
///   labels, to a multiple of `blockSize`; the padded EOS are scored;
/// - noise as MDLM: per sequence `t = ε + (1 − ε)·u`, each maskable token masked with probability `t`
///   (or, `blockNoise`, one `t` per block as the original bd3lms `_sample_t` draws it, see ``NoiseDraw``);
/// - the model sees `x_t ⊕ x_0` (length 2L) at positions `[0 … L−1, 0 … L−1]` under the mask of
///   ``BlockDiffusionObjective/allowed(L:blockSize:)`` (M_BD ∪ M_OBC ∪ M_BC);
/// - only the `x_t` half is scored (``ObjectiveBatch/logitPositions``: the head runs on it alone), with MDLM's weight `1/(t + 10⁻⁶)` (or uniform) and its
///   `token`/`sequence`/`batch` normalisations over the maskable tokens of the `x_t` half.
///
/// No key-padding mask is applied (dLLM replaces the collator's attention mask by the block mask):
/// every row's padding fills whole blocks after its last real block, so no scored query can reach it.
public struct BlockDiffusionObjective: Objective {
    /// How the mask rates are drawn.
    public enum NoiseDraw: Sendable, Equatable {
        /// One `t` per sequence, as MDLM (dLLM's BD3LM).
        case sequence
        /// One `t` per block, `t = εmin + (εmax − εmin)·u`, with the `u` of a sequence's `n` blocks
        /// stratified antithetically, `u_j = (v_j/n + j/n) mod 1` (bd3lms `_sample_t` with
        /// `antithetic_sampling`; bd3lms strides over batch × blocks, here over each sequence's
        /// blocks so that the draw stays keyed by the sample and not by the batch layout).
        case block(epsMin: Double, epsMax: Double)
    }

    public var maskTokenID: Int32
    public var eosTokenID: Int32
    public var blockSize: Int
    public var timeEpsilon: Double
    public var weighting: MaskedDiffusionObjective.Weighting
    public var normalization: MaskedDiffusionObjective.Normalization
    public var noise: NoiseDraw

    public init(maskTokenID: Int32, eosTokenID: Int32, blockSize: Int = 32, timeEpsilon: Double = 1e-3,
                weighting: MaskedDiffusionObjective.Weighting = .scheduler,
                normalization: MaskedDiffusionObjective.Normalization = .token, noise: NoiseDraw = .sequence) {
        precondition(blockSize >= 1, "BlockDiffusionObjective: block size must be positive")
        self.maskTokenID = maskTokenID
        self.eosTokenID = eosTokenID
        self.blockSize = blockSize
        self.timeEpsilon = timeEpsilon
        self.weighting = weighting
        self.normalization = normalization
        self.noise = noise
    }

    /// Draws each sequence's (or block's) `t` and the mask from a generator keyed by
    /// (seed, step, global sample index), as `MaskedDiffusionObjective` does.
    public func prepare(_ batch: CleanBatch, step: Int, seed: UInt64) -> ObjectiveBatch {
        let padded = Self.paddingToBlocks(batch, eos: eosTokenID, blockSize: blockSize)
        let B = padded.B, L = padded.T, blocks = L / blockSize
        var t = [Double](repeating: 0, count: B * L)
        var masked = [Bool](repeating: false, count: B * L)
        for b in 0..<B {
            var rng = SeededGenerator(seed: seed, stream: UInt64(step), UInt64(padded.sampleIndices[b]))
            switch noise {
            case .sequence:
                let tb = timeEpsilon + (1 - timeEpsilon) * rng.nextUniform()
                for i in 0..<L { t[b * L + i] = tb }
            case let .block(epsMin, epsMax):
                for j in 0..<blocks {
                    let u = (rng.nextUniform() / Double(blocks) + Double(j) / Double(blocks)).truncatingRemainder(dividingBy: 1)
                    let tj = epsMin + (epsMax - epsMin) * u
                    for i in (j * blockSize)..<((j + 1) * blockSize) { t[b * L + i] = tj }
                }
            }
            for i in 0..<L {
                let n = b * L + i
                masked[n] = Float(rng.nextUniform()) < Float(t[n]) && padded.labels[n] != ignoreIndex
            }
        }
        return prepare(padded, t: t, masked: masked)
    }

    /// dLLM `AppendEOSBlockWrapper`: each row's tokens and labels extended with EOS up to the next
    /// multiple of `blockSize` (a row's length is `lengths[b]`, or T), the batch lengthened to a multiple
    /// of `blockSize`; positions past a row's padded end keep their padding with label −100.
    public static func paddingToBlocks(_ batch: CleanBatch, eos: Int32, blockSize: Int) -> CleanBatch {
        let T = batch.T, L = (T + blockSize - 1) / blockSize * blockSize
        let lengths = batch.lengths ?? [Int](repeating: T, count: batch.B)
        if L == T && lengths.allSatisfy({ $0 % blockSize == 0 }) { return batch }
        var ids = [Int32](repeating: eos, count: batch.B * L)
        var labels = [Int32](repeating: ignoreIndex, count: batch.B * L)
        var newLengths: [Int] = []
        for b in 0..<batch.B {
            let n = lengths[b], end = (n + blockSize - 1) / blockSize * blockSize
            // Columns added past T continue the row's own padding (a full row has none to continue: EOS).
            let pad = n < T ? batch.inputIDs[b * T + T - 1] : eos
            for i in T..<L { ids[b * L + i] = pad }
            for i in 0..<T {
                ids[b * L + i] = batch.inputIDs[b * T + i]
                labels[b * L + i] = i < n ? batch.labels[b * T + i] : ignoreIndex
            }
            for i in n..<end {
                ids[b * L + i] = eos
                labels[b * L + i] = eos
            }
            newLengths.append(end)
        }
        return CleanBatch(B: batch.B, T: L, inputIDs: ids, labels: labels, lengths: batch.lengths == nil ? nil : newLengths,
                          sampleIndices: batch.sampleIndices)
    }

    /// The deterministic core for a batch already padded to whole blocks: `t` and `masked` are (B·L),
    /// one mask rate per position (constant over a sequence, or over a block). Returns the (B, 2L)
    /// model input `x_t ⊕ x_0`, its positions, the block mask and the loss on the `x_t` half.
    public func prepare(_ batch: CleanBatch, t: [Double], masked: [Bool]) -> ObjectiveBatch {
        let B = batch.B, L = batch.T
        precondition(L % blockSize == 0, "BlockDiffusionObjective: length \(L) is not a multiple of the block size \(blockSize)")
        precondition(t.count == B * L && masked.count == B * L, "BlockDiffusionObjective: t and masked must hold B·L values")
        let maskablePerRow = (0..<B).map { b in (0..<L).filter { batch.labels[b * L + $0] != ignoreIndex }.count }
        let maskableTotal = maskablePerRow.reduce(0, +)
        let isMasked = { (n: Int) in masked[n] && batch.labels[n] != ignoreIndex }
        let scoredTotal = (0..<(B * L)).filter(isMasked).count
        var ids = [Int32](), positions = [Int32]()
        var targets = [Int32](repeating: ignoreIndex, count: B * 2 * L)
        var weights = [Float](repeating: 0, count: B * 2 * L)
        ids.reserveCapacity(B * 2 * L)
        for b in 0..<B {
            let row = batch.inputIDs[(b * L)..<((b + 1) * L)]
            let divisor = normalization.divisor(maskableTotal: maskableTotal, maskableInRow: maskablePerRow[b], B: B,
                                                scoredTotal: scoredTotal)
            for i in 0..<L {
                let n = b * L + i
                guard isMasked(n) else { continue }
                targets[b * 2 * L + i] = batch.inputIDs[n]
                weights[b * 2 * L + i] = weighting.weight(t: t[n]) / divisor
            }
            ids += row.indices.map { isMasked($0) ? maskTokenID : batch.inputIDs[$0] }  // x_t
            ids += row                                                                     // x_0
            positions += (0..<(2 * L)).map { Int32($0 % L) }
        }
        let pattern = Self.allowed(L: L, blockSize: blockSize)
        let mask = AttentionMask(.bidirectional, B: B, T: 2 * L, allowed: Array((0..<B).map { _ in pattern }.joined()))
        return ObjectiveBatch(inputs: TokenBatch(ids: ids, B: B, T: 2 * L, positions: positions), mask: mask,
                              targets: targets, weights: weights, lossTokens: scoredTotal, logitPositions: 0..<L)
    }

    /// The (2L·2L) query-major BD3LM attention pattern (dLLM `_create_bd3lm_attention_mask`):
    /// query `q` may attend to key `k` when
    /// - both are in the same half and the same block (M_BD, block diagonal),
    /// - `q` is in `x_t`, `k` in `x_0` and block(q) > block(k) (M_OBC, offset block-causal), or
    /// - both are in `x_0` and block(q) ≥ block(k) (M_BC, block-causal);
    /// where a position's block is its index within its half divided by `blockSize`.
    public static func allowed(L: Int, blockSize: Int) -> [Bool] {
        let T = 2 * L
        var out = [Bool](repeating: false, count: T * T)
        for q in 0..<T {
            let qClean = q >= L, qBlock = (q % L) / blockSize
            for k in 0..<T {
                let kClean = k >= L, kBlock = (k % L) / blockSize
                let diagonal = qBlock == kBlock && qClean == kClean
                let offsetCausal = !qClean && kClean && qBlock > kBlock
                let causal = qClean && kClean && qBlock >= kBlock
                out[q * T + k] = diagonal || offsetCausal || causal
            }
        }
        return out
    }
}
