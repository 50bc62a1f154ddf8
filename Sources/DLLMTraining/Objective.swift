import DLLMCompute
import DLLMModels

/// A micro-batch as the objective hands it to the model: the (noised) inputs, the
/// attention mask, per-position targets (`ignoreIndex` where no loss) and weights,
/// such that the loss is `Σ weights[n]·CE(logits[n], targets[n])`.
public struct ObjectiveBatch: Sendable {
    public var inputs: TokenBatch
    public var mask: AttentionMask
    public var targets: [Int32]
    public var weights: [Float]
    /// Positions that carry loss (masked tokens, or next-token targets; remaining edits for Edit Flows).
    public var lossTokens: Int
    /// The positions of each sequence that can carry loss, when fewer than all (BD3LM: the `x_t`
    /// half of `x_t ⊕ x_0`). The trainer then asks the model for logits on those positions only
    /// (``LanguageModel/forward(_:mask:logitPositions:)``); `targets` and `weights` stay (B·T).
    public var logitPositions: Range<Int>? = nil
    /// Set by ``EditFlowObjective``: the loss is ``EditFlowLoss`` on the model's Edit Flows heads,
    /// and `targets`/`weights` are unused.
    public var editFlow: EditFlowTargets? = nil
}

/// A clean micro-batch from the data pipeline: token ids and labels (`ignoreIndex`
/// on positions never to be predicted, e.g. an SFT prompt), right-padded rows.
public struct CleanBatch: Sendable {
    public var B: Int
    public var T: Int
    public var inputIDs: [Int32]
    public var labels: [Int32]
    /// Each row's length before padding (nil: no padding).
    public var lengths: [Int]?
    /// Each row's index in the global batch order (keys the diffusion noise).
    public var sampleIndices: [Int]

    public init(B: Int, T: Int, inputIDs: [Int32], labels: [Int32], lengths: [Int]? = nil, sampleIndices: [Int]) {
        precondition(inputIDs.count == B * T && labels.count == B * T && sampleIndices.count == B)
        self.B = B
        self.T = T
        self.inputIDs = inputIDs
        self.labels = labels
        self.lengths = lengths
        self.sampleIndices = sampleIndices
    }
}

/// A training objective: how a clean batch becomes model inputs, targets and
/// weights. The model core is shared; only this choice differs between masked
/// diffusion and autoregression.
public protocol Objective: Sendable {
    /// `step` is the optimizer step; together with the seed and each sample's
    /// global index it keys all randomness, so results do not depend on the rank layout.
    func prepare(_ batch: CleanBatch, step: Int, seed: UInt64) -> ObjectiveBatch
}
