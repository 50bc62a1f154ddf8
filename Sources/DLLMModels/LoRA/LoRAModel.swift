import DLLMCompute

/// A LLaMA-family model with LoRA adapters whose trainable parameters are the adapters alone:
/// `layout`, `parameters`, `gradients` and `blockRanges` are the adapters' (PEFT names), so a
/// parallel strategy built on it reduces, shards and checkpoints only adapters; the frozen base
/// gets no gradient and no optimizer state. The model knows nothing of parallelism: the
/// strategy's hooks reach the base's forward and backward renumbered to adapter blocks.
public final class LoRAModel<S: ComputeScalar>: LanguageModel {
    public typealias Scalar = S
    public let base: LlamaModel<S>
    public let adapters: LoRAAdapters<S>

    public init(base: LlamaModel<S>, adapters: LoRAAdapters<S>) {
        self.base = base
        self.adapters = adapters
        base.adapters = adapters
    }

    /// Adds fresh adapters (PEFT init) for `configuration` to `base`; the `modules_to_save` copies
    /// start as the base's weights.
    public convenience init(base: LlamaModel<S>, configuration: LoRAConfiguration, seed: UInt64) throws {
        let adapters = try LoRAAdapters<S>(spec: base.spec, configuration: configuration, seed: seed)
        adapters.copySavedModules(from: base)
        self.init(base: base, adapters: adapters)
    }

    /// Dropout on the adapters' input applies only while training (PEFT's `model.train()`/`eval()`).
    public var training: Bool {
        get { adapters.training }
        set { adapters.training = newValue }
    }

    /// Keys the next training forward's dropout masks (e.g. by step and micro-batch), so a
    /// resumed run draws the masks the uninterrupted run drew.
    public func setDropoutStream(_ stream: UInt64) {
        adapters.dropoutStream = stream
        adapters.dropoutStreamSet = true
    }

    public var architecture: any ModelArchitecture { base.architecture }
    public var layout: ParameterLayout { adapters.layout }
    public var parameters: Buffer<S> { adapters.parameters }
    public var gradients: Buffer<S> { adapters.gradients }
    public var blockRanges: [Range<Int>] { adapters.blockRanges }
    /// A strategy's hooks, numbered by adapter block; the base calls them through a translation
    /// (base block → the adapter block of that layer; none for the embedding, the head, or a
    /// layer without adapters).
    public var hooks: BlockHooks? {
        didSet { base.hooks = hooks.map { Self.translated($0, blocks: adapters.blockOfBaseBlock) } }
    }

    static func translated(_ hooks: BlockHooks, blocks: [Int?]) -> BlockHooks {
        func map(_ hook: ((Int) -> Void)?) -> ((Int) -> Void)? {
            hook.map { call in { b in if b < blocks.count, let a = blocks[b] { call(a) } } }
        }
        let out = BlockHooks()
        out.beforeForward = map(hooks.beforeForward)
        out.afterForward = map(hooks.afterForward)
        out.beforeBackward = map(hooks.beforeBackward)
        out.afterBackward = map(hooks.afterBackward)
        return out
    }
    public var vocabularySize: Int { base.vocabularySize }
    public var maxPositions: Int { base.maxPositions }

    public func forward(_ batch: TokenBatch, mask: AttentionMask) { base.forward(batch, mask: mask) }
    public var supportsLogitPositions: Bool { base.supportsLogitPositions }
    public func forward(_ batch: TokenBatch, mask: AttentionMask, logitPositions: Range<Int>) {
        base.forward(batch, mask: mask, logitPositions: logitPositions)
    }
    public func forward(_ batch: TokenBatch, mask: AttentionMask, logitRows: [Int]) {
        base.forward(batch, mask: mask, logitRows: logitRows)
    }
    public var logits: UnsafeMutablePointer<S> { base.logits }
    public func loss(targets: [Int32], weights: [S]?) -> Double { base.loss(targets: targets, weights: weights) }
    public func backward(targets: [Int32], weights: [S]?, dloss: S) { base.backward(targets: targets, weights: weights, dloss: dloss) }

    /// Cached inference reads the base's matrices directly and would skip the adapters: merge
    /// them first (``LoRAAdapters/merge(into:)``), as `--adapter` does.
    public func makeCache(batch: Int, capacity: Int) -> KVCache<S> {
        preconditionFailure("LoRAModel: merge the adapters into the base (LoRAAdapters.merge) for cached inference")
    }

    public func inferenceForward(_ step: InferenceStep, cache: KVCache<S>) -> UnsafeMutablePointer<S> {
        preconditionFailure("LoRAModel: merge the adapters into the base (LoRAAdapters.merge) for cached inference")
    }
}

extension LoRAAdapters {
    /// `W ← W + s·B·A` for every adapted layer of `base` (PEFT `LoraLayer.merge` / `merge_and_unload`),
    /// and the `modules_to_save` copies written over the base's embedding and head.
    /// The result computes what base plus adapters compute, without dropout.
    public func merge(into base: LlamaModel<S>) throws {
        let r = configuration.r, p = parameters.pointer, w = base.parameters.pointer
        if base.spec.tiedEmbeddings && (embeddingCopy != nil || headCopy != nil) {
            throw LoRAError.badAdapter(path: "modules_to_save", reason: "the base ties its head to its embedding, and the adapter trained "
                + "one of them apart (as PEFT without ensure_weight_tying does): one tied table cannot hold both, so it cannot be merged (nor loaded with --adapter)")
        }
        let count = base.spec.vocab * base.spec.hidden
        if let copy = embeddingCopy { (w + base.offsets.embedding).update(from: p + copy, count: count) }
        if let copy = headCopy { (w + base.offsets.head).update(from: p + copy, count: count) }
        for (l, layer) in slots.enumerated() {
            for (linear, slot) in layer {
                let offset = base.offsets.layers[l][keyPath: linear.offset]
                // W (out, in) += s · B (out, r) · A (r, in)
                gemm(.none, .none, m: slot.outputs, n: slot.inputs, k: r, alpha: scale, p + slot.b, lda: r,
                     p + slot.a, ldb: slot.inputs, beta: 1, w + offset, ldc: slot.inputs)
            }
        }
    }
}

extension LlamaLinear {
    var offset: KeyPath<LlamaLayerOffsets, Int> {
        switch self {
        case .q: return \.q
        case .k: return \.k
        case .v: return \.v
        case .o: return \.o
        case .gate: return \.gate
        case .up: return \.up
        case .down: return \.down
        }
    }
}
