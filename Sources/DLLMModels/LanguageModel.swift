import DLLMCompute
import DLLMOptim

/// A batch of token sequences, (B, T), row-major.
public struct TokenBatch: Sendable {
    public let B: Int
    public let T: Int
    /// (B·T) token ids.
    public var ids: [Int32]
    /// (B·T) positions for rotary or learned position embeddings; `0..<T` per row by default.
    public var positions: [Int32]

    public init(ids: [Int32], B: Int, T: Int, positions: [Int32]? = nil) {
        precondition(ids.count == B * T, "TokenBatch: \(ids.count) ids for a (\(B), \(T)) batch")
        self.B = B
        self.T = T
        self.ids = ids
        self.positions = positions ?? (0..<B).flatMap { _ in (0..<T).map(Int32.init) }
        precondition(self.positions.count == B * T, "TokenBatch: positions must hold B·T values")
    }
}

/// A trainable language model over one flat parameter buffer (the llm.c layout).
///
/// The model knows nothing of parallelism or objectives: an objective chooses the
/// attention mask (bidirectional for masked diffusion, causal for autoregression),
/// the targets and the per-token weights; a parallel strategy slices `parameters`
/// and `gradients`, which share `layout`.
///
/// Every model is also its own ``InferenceModel`` (the cached, activation-free use of the same
/// forward pass), so loading code never downcasts to a concrete architecture.
public protocol LanguageModel<Scalar>: InferenceModel {
    var architecture: any ModelArchitecture { get }
    var layout: ParameterLayout { get }
    /// (layout.count) parameters.
    var parameters: Buffer<Scalar> { get }
    /// (layout.count) gradients; `backward` accumulates into them, the caller zeroes them.
    var gradients: Buffer<Scalar> { get }

    /// Runs the forward pass; afterwards `logits` holds (B·T, V) scores.
    func forward(_ batch: TokenBatch, mask: AttentionMask)
    /// Whether ``forward(_:mask:logitPositions:)`` runs the final norm and output head on fewer
    /// positions than the whole sequence (the default is no: only all positions are accepted).
    var supportsLogitPositions: Bool { get }
    /// Runs the forward pass with the final norm and the output head on positions `logitPositions`
    /// of every sequence only (BD3LM scores the `x_t` half of its `x_t ⊕ x_0` input). Afterwards
    /// `logits` holds their (B·count, V) scores, sequence after sequence, and `loss` and `backward`
    /// take targets and weights for those rows alone. The other positions get no gradient from
    /// the head; they still get gradients through attention from the positions that are scored.
    func forward(_ batch: TokenBatch, mask: AttentionMask, logitPositions: Range<Int>)
    /// Runs the forward pass with the final norm and the output head on rows `logitRows` of the
    /// (B·T) batch only (ascending, distinct), where ``supportsLogitPositions``; afterwards `logits`,
    /// `loss` and `backward` cover those rows, as with ``forward(_:mask:logitPositions:)``.
    func forward(_ batch: TokenBatch, mask: AttentionMask, logitRows: [Int])
    /// The (B·T, V) logits of the last `forward`; after `backward` they hold its gradient.
    var logits: UnsafeMutablePointer<Scalar> { get }
    /// `Σₙ weights[n]·CE(logits[n], targets[n])` over the last forward's logits,
    /// skipping `ignoreIndex` targets.
    func loss(targets: [Int32], weights: [Scalar]?) -> Double
    /// Backward of `loss` (scaled by `dloss`): accumulates every parameter gradient.
    func backward(targets: [Int32], weights: [Scalar]?, dloss: Scalar)
    /// Per-layer parameter ranges (embedding, each block, head), for block-wise sharding.
    var blockRanges: [Range<Int>] { get }
    /// Called around each block's forward and backward (see `BlockHooks`).
    var hooks: BlockHooks? { get set }
    /// The tensors of normalisation layers (weights and biases), which weight decay
    /// skips as HF's Trainer skips `nn.LayerNorm` modules (see `WeightDecayGroups`).
    /// The default is none: HF's name patterns alone then decide.
    var normalizationParameterNames: Set<String> { get }
    /// Whether ``setGradientCheckpointing(_:)`` can turn activation checkpointing on.
    var supportsGradientCheckpointing: Bool { get }
    /// HF `gradient_checkpointing`: keep only each block's input and recompute the block in
    /// backward (same results, less memory, one more forward per step). Only when supported.
    func setGradientCheckpointing(_ on: Bool)
    /// Whether ``setBF16Matmuls(_:)`` can run the training matrix products in bfloat16.
    var supportsBF16Matmuls: Bool { get }
    /// HF `bf16`: the training pass's linear layers (forward and both backward products) multiply
    /// bfloat16-rounded inputs with float32 accumulation, as PyTorch's CPU autocast does; weights,
    /// gradients and every other operation stay float32. Only when supported.
    func setBF16Matmuls(_ on: Bool)
}

extension LanguageModel {
    /// Forward, loss and backward for one micro-batch; returns the loss.
    @discardableResult
    public func forwardBackward(_ batch: TokenBatch, mask: AttentionMask, targets: [Int32],
                                weights: [Scalar]?, dloss: Scalar = 1) -> Double {
        forward(batch, mask: mask)
        let value = loss(targets: targets, weights: weights)
        backward(targets: targets, weights: weights, dloss: dloss)
        return value
    }

    /// Forward, loss and backward with the head on `logitPositions` of each sequence when the model
    /// supports it (else on every position: the same loss, the head's work done in full).
    /// `targets` and `weights` are (B·T) and must carry no loss outside `logitPositions`.
    @discardableResult
    public func forwardBackward(_ batch: TokenBatch, mask: AttentionMask, logitPositions: Range<Int>, targets: [Int32],
                                weights: [Scalar]?, dloss: Scalar = 1) -> Double {
        guard supportsLogitPositions else {
            return forwardBackward(batch, mask: mask, targets: targets, weights: weights, dloss: dloss)
        }
        forward(batch, mask: mask, logitPositions: logitPositions)
        let rows = (targets: targets.rows(at: logitPositions, B: batch.B, T: batch.T),
                    weights: weights.map { $0.rows(at: logitPositions, B: batch.B, T: batch.T) })
        let value = loss(targets: rows.targets, weights: rows.weights)
        backward(targets: rows.targets, weights: rows.weights, dloss: dloss)
        return value
    }

    /// Forward, loss and backward with the head only on the rows whose weight is non-zero: the
    /// rows a masked-diffusion loss reads (its masked positions; LLaDA's and dLLM's trainers run
    /// the head on every position and weight the rest by 0). A row of weight 0 adds nothing to the
    /// loss and no gradient through the head, so the loss and gradients are those of
    /// ``forwardBackward(_:mask:targets:weights:dloss:)`` up to the order of float sums in the
    /// head's weight gradient. Models without a partial head, and batches whose every row (or
    /// no row) has weight, run the head on every row.
    @discardableResult
    public func forwardBackwardOnWeightedRows(_ batch: TokenBatch, mask: AttentionMask, targets: [Int32],
                                              weights: [Scalar], dloss: Scalar = 1) -> Double {
        guard let rows = weightedRows(batch, targets: targets, weights: weights) else {
            return forwardBackward(batch, mask: mask, targets: targets, weights: weights, dloss: dloss)
        }
        forward(batch, mask: mask, logitRows: rows)
        let scored = (targets: rows.map { targets[$0] }, weights: rows.map { weights[$0] })
        let value = loss(targets: scored.targets, weights: scored.weights)
        backward(targets: scored.targets, weights: scored.weights, dloss: dloss)
        return value
    }

    /// The loss of ``forwardBackwardOnWeightedRows(_:mask:targets:weights:dloss:)`` without
    /// backward (evaluation): the head on the rows whose weight is non-zero only, the same value
    /// as ``forward(_:mask:)`` then ``loss(targets:weights:)`` (rows of weight 0 add exactly 0).
    public func lossOnWeightedRows(_ batch: TokenBatch, mask: AttentionMask, targets: [Int32], weights: [Scalar]) -> Double {
        guard let rows = weightedRows(batch, targets: targets, weights: weights) else {
            forward(batch, mask: mask)
            return loss(targets: targets, weights: weights)
        }
        forward(batch, mask: mask, logitRows: rows)
        return loss(targets: rows.map { targets[$0] }, weights: rows.map { weights[$0] })
    }

    /// The rows of non-zero weight when the head can run on them alone and they are not all rows
    /// (nor none); nil when the head runs on every row.
    private func weightedRows(_ batch: TokenBatch, targets: [Int32], weights: [Scalar]) -> [Int]? {
        let N = batch.B * batch.T
        precondition(targets.count == N && weights.count == N, "\(Self.self): targets/weights must hold \(N) values")
        guard supportsLogitPositions else { return nil }
        let rows = weights.indices.filter { weights[$0] != 0 }
        return rows.isEmpty || rows.count == N ? nil : rows
    }

    public var supportsLogitPositions: Bool { false }

    /// Models without a partial head accept only every row.
    public func forward(_ batch: TokenBatch, mask: AttentionMask, logitRows: [Int]) {
        precondition(logitRows.count == batch.B * batch.T, "\(Self.self) computes logits on every row (check supportsLogitPositions)")
        forward(batch, mask: mask)
    }

    /// The head on `logitPositions` of every sequence: their rows through
    /// ``forward(_:mask:logitRows:)`` where the model has a partial head; models without one
    /// accept only every position.
    public func forward(_ batch: TokenBatch, mask: AttentionMask, logitPositions: Range<Int>) {
        guard supportsLogitPositions else {
            precondition(logitPositions == 0..<batch.T, "\(Self.self) computes logits on every position (check supportsLogitPositions)")
            return forward(batch, mask: mask)
        }
        precondition(!logitPositions.isEmpty && logitPositions.lowerBound >= 0 && logitPositions.upperBound <= batch.T,
                     "\(Self.self): logit positions \(logitPositions) outside 0..<\(batch.T)")
        forward(batch, mask: mask, logitRows: logitRows(at: logitPositions, B: batch.B, T: batch.T))
    }

    public var parameterCount: Int { layout.count }

    public var normalizationParameterNames: Set<String> { [] }

    public var supportsGradientCheckpointing: Bool { false }

    public var supportsBF16Matmuls: Bool { false }

    public func setBF16Matmuls(_ on: Bool) {
        precondition(!on, "\(Self.self) has no bfloat16 matrix products (check supportsBF16Matmuls)")
    }

    public func setGradientCheckpointing(_ on: Bool) {
        precondition(!on, "\(Self.self) does not support gradient checkpointing (check supportsGradientCheckpointing)")
    }

    /// (layout.count) AdamW decay mask, HF Trainer's default grouping: 1 where weight
    /// decay applies, 0 for biases and normalisation weights (`WeightDecayGroups`).
    public func weightDecayMask() -> [UInt8] {
        WeightDecayGroups.mask(layout: layout, normalizationParameters: normalizationParameterNames)
    }
}

extension Array {
    /// The elements at `positions` of each of the `B` rows of a row-major (B, T) array, row after row.
    public func rows(at positions: Range<Int>, B: Int, T: Int) -> [Element] {
        precondition(count == B * T && positions.lowerBound >= 0 && positions.upperBound <= T, "rows(at:): \(positions) of a (\(B), \(T)) array")
        return (0..<B).flatMap { b in self[(b * T + positions.lowerBound)..<(b * T + positions.upperBound)] }
    }
}
