/// `config.json` of a Dream checkpoint (`model_type` `Dream`, Ye et al. 2025, "Dream 7B"),
/// in Dream's own key names and with the defaults of Dream's `DreamConfig`
/// (`configuration_dream.py`): a missing key means what it means to Dream, not to Qwen2.
///
/// Dream is the Qwen2 decoder (biased Q/K/V projections, SwiGLU, RMSNorm, rotary) run without the
/// causal mask; its tensors carry Qwen2's Hugging Face names (`model.layers.{}.self_attn.q_proj`,
/// `lm_head`), so it loads into ``LlamaSpec`` with ``LlamaSpec/Naming/huggingFace`` and
/// `bidirectional`. Its head width is always `hidden_size / num_attention_heads`
/// (`DreamAttention.head_dim`), and its attention never slides (`DreamSdpaAttention` ignores
/// `sliding_window`), so those keys are read and checked but change nothing.
public struct DreamConfiguration: Codable, Sendable {
    public var modelType: String
    public var vocabSize: Int?
    public var hiddenSize: Int?
    public var intermediateSize: Int?
    public var numHiddenLayers: Int?
    public var numAttentionHeads: Int?
    public var numKeyValueHeads: Int?
    public var headDim: Int?
    public var hiddenAct: String?
    public var maxPositionEmbeddings: Int?
    public var initializerRange: Double?
    public var rmsNormEps: Double?
    public var tieWordEmbeddings: Bool?
    public var ropeTheta: Double?
    public var ropeScaling: LlamaConfiguration.RopeParameters?
    public var useSlidingWindow: Bool?
    public var maskTokenID: Int?
    public var padTokenID: Int?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads", headDim = "head_dim"
        case hiddenAct = "hidden_act", maxPositionEmbeddings = "max_position_embeddings"
        case initializerRange = "initializer_range", rmsNormEps = "rms_norm_eps"
        case tieWordEmbeddings = "tie_word_embeddings", ropeTheta = "rope_theta", ropeScaling = "rope_scaling"
        case useSlidingWindow = "use_sliding_window", maskTokenID = "mask_token_id", padTokenID = "pad_token_id"
    }

    /// `DreamConfig.__init__`'s defaults (the 7B shape).
    static let defaults = (vocab: 151_936, hidden: 4096, intermediate: 22_016, layers: 32, heads: 32,
                           maxPositions: 32_768, maskTokenID: 151_666)

    /// The decoder shape, after rejecting what dllm cannot run.
    public func spec(path: String) throws -> LlamaSpec {
        if let rope = ropeScaling, let kind = rope.ropeType ?? rope.type, kind != "default" {
            throw ModelError.unsupported(key: "rope_scaling.rope_type", value: kind, path: path)
        }
        if let act = hiddenAct, act != "silu" { throw ModelError.unsupported(key: "hidden_act", value: act, path: path) }
        let hidden = hiddenSize ?? Self.defaults.hidden, heads = numAttentionHeads ?? Self.defaults.heads
        guard heads > 0, hidden % heads == 0 else {
            throw ModelError.invalidValue(key: "num_attention_heads", value: "\(heads)",
                                          reason: "must divide hidden_size = \(hidden) (Dream's head width is hidden_size / num_attention_heads)", path: path)
        }
        if let d = headDim, d != hidden / heads {
            throw ModelError.invalidValue(key: "head_dim", value: "\(d)",
                                          reason: "Dream always uses hidden_size / num_attention_heads = \(hidden / heads)", path: path)
        }
        let spec = LlamaSpec(
            modelType: modelType, naming: .huggingFace,
            hidden: hidden, layers: numHiddenLayers ?? Self.defaults.layers, heads: heads,
            kvHeads: numKeyValueHeads ?? heads, headDim: hidden / heads,
            intermediate: intermediateSize ?? Self.defaults.intermediate, vocab: vocabSize ?? Self.defaults.vocab,
            rmsNormEps: rmsNormEps ?? 1e-6, ropeTheta: ropeTheta ?? 10_000,
            maxPositions: maxPositionEmbeddings ?? Self.defaults.maxPositions,
            tiedEmbeddings: tieWordEmbeddings ?? false, qkvBias: true, qkNorm: false,
            maskTokenID: maskTokenID ?? Self.defaults.maskTokenID, initializerRange: initializerRange ?? 0.02,
            bidirectional: true)
        try spec.validate(path: path)
        return spec
    }
}

extension DreamConfiguration: ModelConfiguration {
    public func architecture(path: String) throws -> any ModelArchitecture { try spec(path: path) }
}
