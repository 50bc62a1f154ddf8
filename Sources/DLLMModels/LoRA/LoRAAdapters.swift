import DLLMCompute

/// One adapted linear layer: where its `lora_A` (r, in) and `lora_B` (out, r) live in the adapter buffer.
public struct LoRASlot: Sendable {
    /// The base layer's module name (`model.layers.0.self_attn.q_proj`).
    public let module: String
    public let linear: LlamaLinear
    public let a: Int, b: Int
    public let inputs: Int, outputs: Int
}

/// The block linear layers of a LLaMA-family model, in the order a layer runs them.
public enum LlamaLinear: Int, CaseIterable, Sendable {
    case q, k, v, o, gate, up, down
}

/// The LoRA adapters of a model: `y = W·x + s·B·A·dropout(x)` with `s` = α/r (α/√r with rsLoRA)
/// for every targeted linear layer, `A` (r, in) and `B` (out, r) held in one flat buffer named as
/// PEFT saves them (`base_model.model.<module>.lora_A.weight`). Initialised as PEFT's
/// `LoraLayer.reset_lora_parameters` (init_lora_weights=True): `A` kaiming-uniform with a = √5
/// (as `nn.Linear`, i.e. U(−1/√in, 1/√in)), `B` zeros, so the adapted model starts equal to the base.
public final class LoRAAdapters<S: ComputeScalar> {
    public let configuration: LoRAConfiguration
    public let layout: ParameterLayout
    public let parameters: Buffer<S>
    public let gradients: Buffer<S>
    /// Per layer, per ``LlamaLinear``: the slot, or nil when that layer is not targeted.
    public let slots: [[LlamaLinear: LoRASlot]]
    /// PEFT `modules_to_save`: where the trainable full copies of the token embedding and of the
    /// output head (V, C) start in the adapter buffer, when listed (``LoRASavedModules``).
    public let embeddingCopy: Int?, headCopy: Int?
    /// The ranges of the trained blocks, in order: the embedding's copy, then the adapters of each
    /// layer that has some, then the head's copy (the blocks a strategy shards; never empty).
    public let blockRanges: [Range<Int>]
    /// Base block index (embedding 0, layer l at l + 1, head L + 1) → adapter block, or nil.
    public let blockOfBaseBlock: [Int?]
    public var scale: S { S(configuration.scale) }
    /// Dropout on the adapters' input is drawn only while training.
    public var training = true
    /// Which dropout masks a training forward draws: a pass is keyed by (`dropoutSeed`, `dropoutStream`),
    /// so a loop that sets the stream from its (step, micro-batch) redraws the same masks after a resume.
    /// Without a caller setting it, it advances on every training forward.
    public var dropoutStream: UInt64 = 0
    public var dropoutSeed: UInt64 = 0
    /// True when the caller set `dropoutStream` for the coming forward.
    var dropoutStreamSet = false
    var saved: LoRAActivations<S>?

    public static func parameterName(module: String, _ matrix: String) -> String { "base_model.model.\(module).\(matrix).weight" }

    /// Adapters for `spec`'s targeted layers, initialised from `seed`.
    public init(spec: LlamaSpec, configuration: LoRAConfiguration, seed: UInt64) throws {
        if let (key, message) = configuration.problem() { throw LoRAError.badAdapter(path: key.rawValue, reason: message) }
        let saved = try LoRASavedModules(spec: spec, names: configuration.modulesToSave)
        if spec.mixtureOfExperts != nil || spec.editFlowHeads {
            throw LoRAError.badAdapter(path: "lora", reason: "\(spec.modelType): adapters on mixture-of-experts layers or Edit Flows heads are not available yet; train this model without lora")
        }
        self.configuration = configuration
        var layout = ParameterLayout()
        var slots: [[LlamaLinear: LoRASlot]] = []
        var blocks: [Range<Int>] = []
        var blockOfBase: [Int?] = [nil]
        let r = configuration.r
        func appendCopy(_ module: String) -> Int {
            let offset = layout.append(LoRASavedModules.parameterName(module: module), [spec.vocab, spec.hidden])
            blocks.append(offset..<layout.count)
            return offset
        }
        if let module = saved.embedding {
            embeddingCopy = appendCopy(module)
            blockOfBase = [0]
        } else {
            embeddingCopy = nil
        }
        var adapterCount = 0
        for l in 0..<spec.layers {
            let start = layout.count
            var layer: [LlamaLinear: LoRASlot] = [:]
            for linear in LlamaLinear.allCases {
                let module = spec.moduleName(linear, layer: l)
                guard try configuration.targetModules.matches(module) else { continue }
                let (inputs, outputs) = spec.shape(of: linear)
                let a = layout.append(Self.parameterName(module: module, "lora_A"), [r, inputs])
                let b = layout.append(Self.parameterName(module: module, "lora_B"), [outputs, r])
                layer[linear] = LoRASlot(module: module, linear: linear, a: a, b: b, inputs: inputs, outputs: outputs)
            }
            slots.append(layer)
            adapterCount += layout.count - start
            if layout.count > start {
                blockOfBase.append(blocks.count)
                blocks.append(start..<layout.count)
            } else {
                blockOfBase.append(nil)
            }
        }
        guard adapterCount > 0 else { throw LoRAError.noTargets(configuration.targetModules, model: spec.naming == .llada ? "this LLaDA model" : "this model") }
        if let module = saved.head {
            blockOfBase.append(blocks.count)
            headCopy = appendCopy(module)
        } else {
            blockOfBase.append(nil)
            headCopy = nil
        }
        self.layout = layout
        self.slots = slots
        self.blockRanges = blocks
        self.blockOfBaseBlock = blockOfBase
        parameters = Buffer(count: layout.count)
        gradients = Buffer(count: layout.count)
        dropoutSeed = seed
        var rng = SeededGenerator(seed: seed, stream: 0x4C6F_5241)
        for layer in slots {
            for linear in LlamaLinear.allCases {
                guard let slot = layer[linear] else { continue }
                let bound = 1 / Double(slot.inputs).squareRoot()
                for i in 0..<(r * slot.inputs) {
                    parameters[slot.a + i] = S((2 * rng.nextUniform() - 1) * bound)
                }
            }
        }
    }

    /// Every targeted module, in layout order.
    public var modules: [String] { slots.flatMap { layer in LlamaLinear.allCases.compactMap { layer[$0]?.module } } }
}

extension LlamaSpec {
    /// The HF module name of a layer's linear (its weight's name without `.weight`).
    public func moduleName(_ linear: LlamaLinear, layer l: Int) -> String {
        let n = names
        let template: String
        switch linear {
        case .q: template = n.q
        case .k: template = n.k
        case .v: template = n.v
        case .o: template = n.o
        case .gate: template = n.gate
        case .up: template = n.up
        case .down: template = n.down
        }
        let name = template.layer(l)
        return name.hasSuffix(".weight") ? String(name.dropLast(".weight".count)) : name
    }

    /// (inputs, outputs) of a block linear.
    public func shape(of linear: LlamaLinear) -> (inputs: Int, outputs: Int) {
        switch linear {
        case .q: return (hidden, queryWidth)
        case .k, .v: return (hidden, keyValueWidth)
        case .o: return (queryWidth, hidden)
        case .gate, .up: return (hidden, intermediate)
        case .down: return (intermediate, hidden)
        }
    }
}
