import Foundation

/// `config.json` of a Hugging Face `llama`, `qwen2` or `qwen3` checkpoint (HF key names).
/// Keys dllm does not use are ignored, as `transformers` ignores unknown keys.
/// `qwen3` adds per-head query/key RMSNorms and defaults `head_dim` to 128 (HF `Qwen3Config`).
/// `a2d-llama`, `a2d-qwen2` and `a2d-qwen3` (dLLM's A2D conversions) are the same shapes
/// with bidirectional attention.
public struct LlamaConfiguration: Codable, Sendable {
    public var modelType: String
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int?
    public var headDim: Int?
    public var intermediateSize: Int
    public var vocabSize: Int
    public var rmsNormEps: Double?
    public var ropeTheta: Double?
    public var ropeParameters: RopeParameters?
    public var ropeScaling: RopeParameters?
    public var maxPositionEmbeddings: Int?
    public var tieWordEmbeddings: Bool?
    public var attentionBias: Bool?
    public var mlpBias: Bool?
    public var hiddenAct: String?
    public var maskTokenID: Int?
    public var initializerRange: Double?
    /// Qwen2/Qwen3 sliding-window attention (HF `layer_types`); only full attention is supported.
    public var useSlidingWindow: Bool?
    public var slidingWindow: Int?
    public var maxWindowLayers: Int?
    public var layerTypes: [String]?

    /// `rope_parameters` (transformers ≥ 5) or `rope_scaling`; only the default type is supported.
    public struct RopeParameters: Codable, Sendable {
        public var ropeType: String?
        public var type: String?
        public var ropeTheta: Double?
        enum CodingKeys: String, CodingKey {
            case ropeType = "rope_type", type, ropeTheta = "rope_theta"
        }
    }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case hiddenSize = "hidden_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads"
        case headDim = "head_dim"
        case intermediateSize = "intermediate_size"
        case vocabSize = "vocab_size"
        case rmsNormEps = "rms_norm_eps"
        case ropeTheta = "rope_theta"
        case ropeParameters = "rope_parameters"
        case ropeScaling = "rope_scaling"
        case maxPositionEmbeddings = "max_position_embeddings"
        case tieWordEmbeddings = "tie_word_embeddings"
        case attentionBias = "attention_bias"
        case mlpBias = "mlp_bias"
        case hiddenAct = "hidden_act"
        case maskTokenID = "mask_token_id"
        case initializerRange = "initializer_range"
        case useSlidingWindow = "use_sliding_window"
        case slidingWindow = "sliding_window"
        case maxWindowLayers = "max_window_layers"
        case layerTypes = "layer_types"
    }

    /// The decoder shape, after rejecting what dllm cannot run.
    public func spec(path: String) throws -> LlamaSpec {
        // editflow-*: dLLM's Edit Flows models, an A2D (bidirectional) backbone plus the edit heads.
        let isEditFlow = modelType.hasPrefix("editflow-")
        let isA2D = modelType.hasPrefix("a2d-") || isEditFlow
        let baseType = isEditFlow ? String(modelType.dropFirst(9)) : isA2D ? String(modelType.dropFirst(4)) : modelType
        let isQwen2 = baseType == "qwen2", isQwen3 = baseType == "qwen3"
        for rope in [ropeParameters, ropeScaling].compactMap({ $0 }) {
            let kind = rope.ropeType ?? rope.type ?? "default"
            if kind != "default" { throw ModelError.unsupported(key: "rope_scaling.rope_type", value: kind, path: path) }
        }
        if let act = hiddenAct, act != "silu" { throw ModelError.unsupported(key: "hidden_act", value: act, path: path) }
        if mlpBias == true { throw ModelError.unsupported(key: "mlp_bias", value: "true", path: path) }
        try rejectSlidingWindow(path: path)
        if let d = headDim, d <= 0 || d % 2 != 0 {
            throw ModelError.invalidValue(key: "head_dim", value: "\(d)", reason: "must be positive and even for rotary embeddings", path: path)
        }
        let defaultHeadDim = isQwen3 ? 128 : (numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0)
        let spec = LlamaSpec(
            modelType: modelType, naming: .huggingFace,
            hidden: hiddenSize, layers: numHiddenLayers, heads: numAttentionHeads,
            kvHeads: numKeyValueHeads ?? numAttentionHeads,
            headDim: headDim ?? defaultHeadDim,
            intermediate: intermediateSize, vocab: vocabSize,
            rmsNormEps: rmsNormEps ?? 1e-6,
            ropeTheta: ropeTheta ?? ropeParameters?.ropeTheta ?? 10_000,
            maxPositions: maxPositionEmbeddings ?? 2048,
            tiedEmbeddings: tieWordEmbeddings ?? false,
            qkvBias: isQwen2 ? true : (attentionBias ?? false), qkNorm: isQwen3,
            maskTokenID: maskTokenID, initializerRange: initializerRange ?? 0.02, bidirectional: isA2D,
            editFlowHeads: isEditFlow)
        if attentionBias == true && !isQwen2 {
            throw ModelError.unsupported(key: "attention_bias", value: "true (o_proj bias)", path: path)
        }
        try spec.validate(path: path)
        return spec
    }

    /// Throws when any layer would use sliding-window attention, deriving the layer types
    /// as HF `Qwen2Config`/`Qwen3Config.__post_init__` do when `layer_types` is absent.
    func rejectSlidingWindow(path: String) throws {
        if let types = layerTypes {
            if let other = types.first(where: { $0 != "full_attention" }) {
                throw ModelError.unsupported(key: "layer_types", value: other, path: path)
            }
        } else if useSlidingWindow == true, slidingWindow != nil, (maxWindowLayers ?? 28) < numHiddenLayers {
            throw ModelError.unsupported(key: "use_sliding_window", value: "true (layers from max_window_layers = \(maxWindowLayers ?? 28) on)", path: path)
        }
    }
}

extension LlamaSpec {
    /// Rejects impossible shapes with the checkpoint's own key name.
    func validate(path: String) throws {
        let keys: (String, String, String, String, String, String, String) = naming == .llada
            ? ("d_model", "n_layers", "n_heads", "n_kv_heads", "mlp_hidden_size", "vocab_size", "max_sequence_length")
            : ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size", "vocab_size", "max_position_embeddings")
        func positive(_ v: Int, _ key: String) throws {
            if v <= 0 { throw ModelError.invalidValue(key: key, value: "\(v)", reason: "must be positive", path: path) }
        }
        try positive(hidden, keys.0); try positive(layers, keys.1); try positive(heads, keys.2)
        try positive(kvHeads, keys.3); try positive(intermediate, keys.4); try positive(vocab, keys.5)
        try positive(maxPositions, keys.6)
        if heads % kvHeads != 0 {
            throw ModelError.invalidValue(key: keys.3, value: "\(kvHeads)", reason: "\(keys.2) = \(heads) must be a multiple of it", path: path)
        }
        if headDim <= 0 || headDim % 2 != 0 {
            throw ModelError.invalidValue(key: keys.0, value: "\(hidden)", reason: "head dimension \(headDim) must be positive and even for rotary embeddings", path: path)
        }
        if ropeTheta <= 0 { throw ModelError.invalidValue(key: "rope_theta", value: "\(ropeTheta)", reason: "must be positive", path: path) }
        if rmsNormEps <= 0 { throw ModelError.invalidValue(key: "rms_norm_eps", value: "\(rmsNormEps)", reason: "must be positive", path: path) }
        if let m = maskTokenID, m < 0 || m >= vocab {
            throw ModelError.invalidValue(key: "mask_token_id", value: "\(m)", reason: "must be a token id below \(vocab)", path: path)
        }
        let qd = heads * headDim, kvd = kvHeads * headDim
        let experts = mixtureOfExperts.map { [[layers, $0.experts, hidden, $0.expertIntermediate, 3], [layers, $0.experts, hidden],
                                              [layers, hidden, $0.sharedIntermediate ?? 0, 3]] } ?? []
        try ParameterBudget.check([[vocab, hidden, tiedEmbeddings ? 1 : 2],
                                   [layers, hidden, qd], [layers, hidden, kvd, 2],
                                   [layers, hidden, intermediate, 3], [layers, hidden, 2], [layers, qd, hidden], [hidden]] + experts,
                                  keys: [keys.5, keys.0, keys.1, keys.4], path: path)
    }
}
