import DLLMCompute

/// `config.json` of a Hugging Face `gpt2` checkpoint: learned positions, LayerNorm,
/// GELU, Conv1D (input-major) weights, tied output embedding.
public struct GPT2Configuration: Codable, Sendable, Equatable {
    public var vocabSize: Int
    public var nEmbd: Int
    public var nLayer: Int
    public var nHead: Int
    public var nPositions: Int
    public var nInner: Int?
    public var layerNormEpsilon: Double?
    public var activationFunction: String?
    public var initializerRange: Double?
    public var maskTokenID: Int?
    public var scaleAttnByInverseLayerIdx: Bool?
    public var reorderAndUpcastAttn: Bool?
    public var scaleAttnWeights: Bool?

    public init(vocabSize: Int, nEmbd: Int, nLayer: Int, nHead: Int, nPositions: Int, nInner: Int? = nil,
                layerNormEpsilon: Double? = 1e-5, activationFunction: String? = "gelu_new",
                initializerRange: Double? = 0.02, maskTokenID: Int? = nil) {
        self.vocabSize = vocabSize
        self.nEmbd = nEmbd
        self.nLayer = nLayer
        self.nHead = nHead
        self.nPositions = nPositions
        self.nInner = nInner
        self.layerNormEpsilon = layerNormEpsilon
        self.activationFunction = activationFunction
        self.initializerRange = initializerRange
        self.maskTokenID = maskTokenID
    }

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", nEmbd = "n_embd", nLayer = "n_layer", nHead = "n_head"
        case nPositions = "n_positions", nInner = "n_inner", layerNormEpsilon = "layer_norm_epsilon"
        case activationFunction = "activation_function", initializerRange = "initializer_range"
        case maskTokenID = "mask_token_id"
        case scaleAttnByInverseLayerIdx = "scale_attn_by_inverse_layer_idx"
        case reorderAndUpcastAttn = "reorder_and_upcast_attn"
        case scaleAttnWeights = "scale_attn_weights"
    }

    /// HF's default `n_inner` is 4·n_embd (saturating, so an absurd n_embd reaches `validate`'s size check).
    public var inner: Int { nInner ?? (nEmbd > Int.max / 4 ? Int.max : 4 * nEmbd) }
    public var eps: Double { layerNormEpsilon ?? 1e-5 }
    public var gelu: GELUKind {
        switch activationFunction ?? "gelu_new" {
        case "gelu": return .exact
        default: return .tanh
        }
    }

    func validate(path: String) throws {
        for (key, v) in [("vocab_size", vocabSize), ("n_embd", nEmbd), ("n_layer", nLayer), ("n_head", nHead), ("n_positions", nPositions), ("n_inner", inner)] where v <= 0 {
            throw ModelError.invalidValue(key: key, value: "\(v)", reason: "must be positive", path: path)
        }
        try ParameterBudget.check([[vocabSize, nEmbd], [nPositions, nEmbd], [nLayer, nEmbd, nEmbd, 4], [nLayer, nEmbd, inner, 2],
                                   [nLayer, nEmbd, 13], [nLayer, inner]],
                                  keys: ["vocab_size", "n_embd", "n_layer", "n_inner"], path: path)
        if nEmbd % nHead != 0 {
            throw ModelError.invalidValue(key: "n_embd", value: "\(nEmbd)", reason: "must divide by n_head = \(nHead)", path: path)
        }
        if scaleAttnByInverseLayerIdx == true {
            throw ModelError.unsupported(key: "scale_attn_by_inverse_layer_idx", value: "true", path: path)
        }
        if scaleAttnWeights == false { throw ModelError.unsupported(key: "scale_attn_weights", value: "false", path: path) }
        if let act = activationFunction, !["gelu_new", "gelu_pytorch_tanh", "gelu"].contains(act) {
            throw ModelError.unsupported(key: "activation_function", value: act, path: path)
        }
    }
}

extension GPT2Configuration: ModelConfiguration, ModelArchitecture {
    public var modelType: String { "gpt2" }

    public func architecture(path: String) throws -> any ModelArchitecture {
        try validate(path: path)
        return self
    }

    public func makeModel<S: ComputeScalar>(as _: S.Type) -> any LanguageModel<S> { GPT2Model<S>(config: self) }

    /// `initializer_range`, with the residual projections (`c_proj`) scaled by 1/√(2·n_layer)
    /// (Radford et al. 2019; HF `GPT2PreTrainedModel._init_weights`).
    public func initialStandardDeviation(of name: String) -> Double {
        let std = initializerRange ?? 0.02
        return name.hasSuffix("c_proj.weight") ? std * (1 / (2 * Double(nLayer)).squareRoot()) : std
    }

    /// HF stores the blocks under `transformer.` (some checkpoints without it), plus the attention
    /// mask buffers and the tied `lm_head.weight`, which carry no parameters.
    public func parameterName(forCheckpointTensor name: String) -> String? {
        if name.hasSuffix(".attn.bias") || name.hasSuffix(".attn.masked_bias") || name == "lm_head.weight" { return nil }
        return name.hasPrefix("transformer.") ? name : "transformer." + name
    }
}
