/// `config.json` of a LLaDA-MoE checkpoint (`model_type` `lladamoe`, inclusionAI's LLaDA-MoE-7B-A1B;
/// dLLM `pipelines/llada/models/configuration_lladamoe.py`), in its own key names.
///
/// The decoder is OLMoE's with bidirectional attention (`LLaDAMoEAttention.is_causal = False`):
/// RMSNorm, Q/K/V/O projections, per-head query/key RMSNorms (`qk_layernorm`) before rotary, and in
/// the layers where `moe_layer_freq[l] != 0` the sparse MLP of ``MixtureOfExpertsSpec`` (softmax
/// router, top-`num_experts_per_tok` experts weighted by their probabilities, SwiGLU experts of
/// `expert_intermediate_size`, a shared expert when `shared_expert_intermediate_size` is set); other
/// layers keep a dense SwiGLU MLP of `dense_intermediate_size`. Tensor names are Hugging Face's plus
/// `mlp.gate` (router), `mlp.experts.{e}.*_proj` and `shared_expert.*_proj`.
///
/// Read and not used, as in the reference modelling code: `norm_topk_prob` (the block hard-codes
/// False), `moe_router_score_function` (always softmax), `routed_scaling_factor`, `router_num_group`,
/// `router_topk_group`, `router_aux_loss_coef` and `output_router_logits` (the auxiliary
/// load-balancing loss is an output of `LLaDAMoEModelLM.forward`, never added to a training loss).
public struct LLaDAMoEConfiguration: Codable, Sendable {
    public var modelType: String
    public var vocabSize: Int
    public var hiddenSize: Int
    public var denseIntermediateSize: Int?
    public var expertIntermediateSize: Int
    public var sharedExpertIntermediateSize: Int?
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int?
    public var hiddenAct: String?
    public var maxPositionEmbeddings: Int?
    public var initializerRange: Double?
    public var rmsNormEps: Double?
    public var tieWordEmbeddings: Bool?
    public var ropeTheta: Double?
    public var partialRotaryFactor: Double?
    public var ropeScaling: LlamaConfiguration.RopeParameters?
    public var attentionBias: Bool?
    public var clipQKV: Double?
    public var numExpertsPerTok: Int
    public var numExperts: Int
    public var qkLayernorm: Bool?
    public var moeLayerFreq: [Int]
    public var moeRouterEnableExpertBias: Bool?
    public var maskTokenID: Int?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case denseIntermediateSize = "dense_intermediate_size", expertIntermediateSize = "expert_intermediate_size"
        case sharedExpertIntermediateSize = "shared_expert_intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads", hiddenAct = "hidden_act"
        case maxPositionEmbeddings = "max_position_embeddings", initializerRange = "initializer_range", rmsNormEps = "rms_norm_eps"
        case tieWordEmbeddings = "tie_word_embeddings", ropeTheta = "rope_theta", partialRotaryFactor = "partial_rotary_factor"
        case ropeScaling = "rope_scaling", attentionBias = "attention_bias", clipQKV = "clip_qkv"
        case numExpertsPerTok = "num_experts_per_tok", numExperts = "num_experts", qkLayernorm = "qk_layernorm"
        case moeLayerFreq = "moe_layer_freq", moeRouterEnableExpertBias = "moe_router_enable_expert_bias", maskTokenID = "mask_token_id"
    }

    /// The decoder shape, after rejecting what dllm cannot run.
    public func spec(path: String) throws -> LlamaSpec {
        func invalid(_ key: String, _ value: Any, _ reason: String) -> ModelError {
            ModelError.invalidValue(key: key, value: "\(value)", reason: reason, path: path)
        }
        if let rope = ropeScaling, let kind = rope.ropeType ?? rope.type, kind != "default" {
            throw ModelError.unsupported(key: "rope_scaling.rope_type", value: kind, path: path)
        }
        if let act = hiddenAct, act != "silu" { throw ModelError.unsupported(key: "hidden_act", value: act, path: path) }
        if attentionBias == true { throw ModelError.unsupported(key: "attention_bias", value: "true (o_proj bias)", path: path) }
        if let clip = clipQKV { throw ModelError.unsupported(key: "clip_qkv", value: "\(clip)", path: path) }
        if moeRouterEnableExpertBias == true { throw ModelError.unsupported(key: "moe_router_enable_expert_bias", value: "true", path: path) }
        if let f = partialRotaryFactor, f != 1 { throw ModelError.unsupported(key: "partial_rotary_factor", value: "\(f) (only 1: rotary on the whole head)", path: path) }
        guard numAttentionHeads > 0, hiddenSize % numAttentionHeads == 0 else {
            throw invalid("num_attention_heads", numAttentionHeads, "must divide hidden_size = \(hiddenSize) (LLaDAMoEAttention raises otherwise)")
        }
        guard moeLayerFreq.count == numHiddenLayers else {
            throw invalid("moe_layer_freq", moeLayerFreq, "needs one entry per layer (num_hidden_layers = \(numHiddenLayers))")
        }
        if numExperts < 1 { throw invalid("num_experts", numExperts, "must be positive") }
        if !(1...max(numExperts, 1)).contains(numExpertsPerTok) {
            throw invalid("num_experts_per_tok", numExpertsPerTok, "must be between 1 and num_experts = \(numExperts)")
        }
        if expertIntermediateSize < 1 { throw invalid("expert_intermediate_size", expertIntermediateSize, "must be positive") }
        if let s = sharedExpertIntermediateSize, s < 1 { throw invalid("shared_expert_intermediate_size", s, "must be positive (or null for no shared expert)") }
        let moeLayers = moeLayerFreq.map { $0 != 0 }
        let dense = moeLayers.contains(false)
        if dense, (denseIntermediateSize ?? 0) < 1 {
            throw invalid("dense_intermediate_size", denseIntermediateSize ?? -1, "must be positive: moe_layer_freq names dense layers")
        }
        var spec = LlamaSpec(
            modelType: modelType, naming: .huggingFace,
            hidden: hiddenSize, layers: numHiddenLayers, heads: numAttentionHeads,
            kvHeads: numKeyValueHeads ?? numAttentionHeads, headDim: hiddenSize / numAttentionHeads,
            // Dense layers' width; with none, a placeholder no tensor uses.
            intermediate: dense ? denseIntermediateSize! : expertIntermediateSize, vocab: vocabSize,
            rmsNormEps: rmsNormEps ?? 1e-5, ropeTheta: ropeTheta ?? -1,
            maxPositions: maxPositionEmbeddings ?? 4096, tiedEmbeddings: tieWordEmbeddings ?? false,
            qkvBias: false, qkNorm: qkLayernorm ?? false, maskTokenID: maskTokenID,
            initializerRange: initializerRange ?? 0.02, bidirectional: true)
        spec.mixtureOfExperts = MixtureOfExpertsSpec(experts: numExperts, topK: numExpertsPerTok, expertIntermediate: expertIntermediateSize,
                                                     sharedIntermediate: sharedExpertIntermediateSize, moeLayers: moeLayers)
        try spec.validate(path: path)
        return spec
    }
}

extension LLaDAMoEConfiguration: ModelConfiguration {
    public func architecture(path: String) throws -> any ModelArchitecture { try spec(path: path) }
}
