/// `config.json` of a LLaDA checkpoint, in LLaDA's own (OLMo-derived) key names.
/// LLaDA is a LLaMA-architecture decoder run without the causal mask
/// (Nie et al. 2025, "Large Language Diffusion Models").
public struct LLaDAConfiguration: Codable, Sendable {
    public var dModel: Int
    public var nHeads: Int
    public var nKVHeads: Int?
    public var nLayers: Int
    public var mlpHiddenSize: Int?
    public var mlpRatio: Int?
    public var ropeTheta: Double?
    public var vocabSize: Int
    public var embeddingSize: Int?
    public var maskTokenID: Int?
    public var weightTying: Bool?
    public var rmsNormEps: Double?
    public var includeBias: Bool?
    public var includeQKVBias: Bool?
    public var layerNormType: String?
    public var blockType: String?
    public var activationType: String?
    public var maxSequenceLength: Int?
    public var rope: Bool?
    public var alibi: Bool?
    public var initStd: Double?
    /// `llada`, or `editflow-llada` (dLLM's Edit Flows LLaDA: the same backbone plus the edit heads).
    public var modelType: String?

    enum CodingKeys: String, CodingKey {
        case dModel = "d_model", nHeads = "n_heads", nKVHeads = "n_kv_heads", nLayers = "n_layers"
        case mlpHiddenSize = "mlp_hidden_size", mlpRatio = "mlp_ratio", ropeTheta = "rope_theta"
        case vocabSize = "vocab_size", embeddingSize = "embedding_size", maskTokenID = "mask_token_id"
        case weightTying = "weight_tying", rmsNormEps = "rms_norm_eps", includeBias = "include_bias"
        case includeQKVBias = "include_qkv_bias", layerNormType = "layer_norm_type", blockType = "block_type"
        case activationType = "activation_type", maxSequenceLength = "max_sequence_length"
        case rope, alibi, initStd = "init_std", modelType = "model_type"
    }

    public func spec(path: String) throws -> LlamaSpec {
        if let t = layerNormType, !["rms", "rms_norm", "rmsnorm"].contains(t) {
            throw ModelError.unsupported(key: "layer_norm_type", value: t, path: path)
        }
        if let b = blockType, b != "llama" { throw ModelError.unsupported(key: "block_type", value: b, path: path) }
        if let a = activationType, !["silu", "swiglu"].contains(a) {
            throw ModelError.unsupported(key: "activation_type", value: a, path: path)
        }
        if includeBias == true { throw ModelError.unsupported(key: "include_bias", value: "true", path: path) }
        if alibi == true { throw ModelError.unsupported(key: "alibi", value: "true", path: path) }
        if rope == false { throw ModelError.unsupported(key: "rope", value: "false", path: path) }
        let intermediate = mlpHiddenSize ?? (mlpRatio ?? 4) * dModel
        let spec = LlamaSpec(
            modelType: modelType ?? "llada", naming: .llada,
            hidden: dModel, layers: nLayers, heads: nHeads, kvHeads: nKVHeads ?? nHeads,
            headDim: nHeads > 0 ? dModel / nHeads : 0, intermediate: intermediate,
            vocab: embeddingSize ?? vocabSize, rmsNormEps: rmsNormEps ?? 1e-5,
            ropeTheta: ropeTheta ?? 10_000, maxPositions: maxSequenceLength ?? 4096,
            tiedEmbeddings: weightTying ?? false, qkvBias: includeQKVBias ?? false,
            maskTokenID: maskTokenID ?? 126_336, initializerRange: initStd ?? 0.02, bidirectional: true,
            editFlowHeads: modelType == "editflow-llada")
        if nHeads > 0 && dModel % nHeads != 0 {
            throw ModelError.invalidValue(key: "d_model", value: "\(dModel)", reason: "must divide by n_heads = \(nHeads)", path: path)
        }
        if let e = embeddingSize, e < vocabSize {
            throw ModelError.invalidValue(key: "embedding_size", value: "\(e)", reason: "must be at least vocab_size = \(vocabSize)", path: path)
        }
        if maskTokenID == nil && spec.vocab <= 126_336 {
            // LLaDA's published config has mask_token_id 126336; a smaller vocabulary needs its own.
            throw ModelError.invalidValue(key: "mask_token_id", value: "absent",
                                          reason: "the file has no mask_token_id, and LLaDA's default 126336 is not a token id below this model's \(spec.vocab): add \"mask_token_id\" to config.json",
                                          path: path)
        }
        try spec.validate(path: path)
        return spec
    }
}
