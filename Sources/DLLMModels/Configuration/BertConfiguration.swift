import DLLMCompute

/// `config.json` of a Hugging Face `bert` checkpoint (`BertConfig`), in its own key names:
/// post-LayerNorm encoder blocks, learned absolute positions, token-type embeddings and GELU.
/// dllm runs it as a bidirectional masked-diffusion model (dLLM's BERT-Chat pipeline) with the
/// output head tied to the word embeddings, since a sentence-encoder checkpoint has no MLM head.
public struct BertConfiguration: Codable, Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int?
    public var hiddenAct: String?
    public var layerNormEps: Double?
    public var initializerRange: Double?
    public var positionEmbeddingType: String?
    public var isDecoder: Bool?
    public var addCrossAttention: Bool?
    public var maskTokenID: Int?

    public init(vocabSize: Int, hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int, intermediateSize: Int,
                maxPositionEmbeddings: Int, typeVocabSize: Int? = 2, hiddenAct: String? = "gelu", layerNormEps: Double? = 1e-12,
                initializerRange: Double? = 0.02, maskTokenID: Int? = nil) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.typeVocabSize = typeVocabSize
        self.hiddenAct = hiddenAct
        self.layerNormEps = layerNormEps
        self.initializerRange = initializerRange
        self.maskTokenID = maskTokenID
    }

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size"
        case maxPositionEmbeddings = "max_position_embeddings", typeVocabSize = "type_vocab_size"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps", initializerRange = "initializer_range"
        case positionEmbeddingType = "position_embedding_type", isDecoder = "is_decoder"
        case addCrossAttention = "add_cross_attention", maskTokenID = "mask_token_id"
    }

    public var tokenTypes: Int { typeVocabSize ?? 2 }
    public var eps: Double { layerNormEps ?? 1e-12 }

    func validate(path: String) throws {
        for (key, v) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
                         ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
                         ("max_position_embeddings", maxPositionEmbeddings), ("type_vocab_size", tokenTypes)] where v <= 0 {
            throw ModelError.invalidValue(key: key, value: "\(v)", reason: "must be positive", path: path)
        }
        try ParameterBudget.check([[vocabSize, hiddenSize], [maxPositionEmbeddings, hiddenSize], [tokenTypes, hiddenSize],
                                   [numHiddenLayers, hiddenSize, hiddenSize, 4], [numHiddenLayers, hiddenSize, intermediateSize, 2],
                                   [numHiddenLayers, hiddenSize, 10], [numHiddenLayers, intermediateSize]],
                                  keys: ["vocab_size", "hidden_size", "num_hidden_layers", "intermediate_size"], path: path)
        if hiddenSize % numAttentionHeads != 0 {
            throw ModelError.invalidValue(key: "hidden_size", value: "\(hiddenSize)",
                                          reason: "must divide by num_attention_heads = \(numAttentionHeads)", path: path)
        }
        if let act = hiddenAct, act != "gelu" { throw ModelError.unsupported(key: "hidden_act", value: act, path: path) }
        if let kind = positionEmbeddingType, kind != "absolute" {
            throw ModelError.unsupported(key: "position_embedding_type", value: kind, path: path)
        }
        if isDecoder == true { throw ModelError.unsupported(key: "is_decoder", value: "true", path: path) }
        if addCrossAttention == true { throw ModelError.unsupported(key: "add_cross_attention", value: "true", path: path) }
    }
}

extension BertConfiguration: ModelConfiguration, ModelArchitecture {
    public var modelType: String { "bert" }

    public func architecture(path: String) throws -> any ModelArchitecture {
        try validate(path: path)
        return self
    }

    public func makeModel<S: ComputeScalar>(as _: S.Type) -> any LanguageModel<S> { BertModel<S>(config: self) }

    /// `initializer_range` for every matrix and embedding (HF `BertPreTrainedModel._init_weights`).
    public func initialStandardDeviation(of name: String) -> Double { initializerRange ?? 0.02 }

    /// `BertModel` checkpoints keep `embeddings.position_ids` (an int64 buffer) and the pooler,
    /// which the masked-diffusion model does not use; `BertForMaskedLM`-style names (`bert.` prefix)
    /// are read without it. The output is always the word embeddings, bias-free (docs/bert.md), so
    /// a checkpoint with an MLM head (`cls.predictions.*`) is refused by its unknown tensors rather
    /// than run without its head.
    public func parameterName(forCheckpointTensor name: String) -> String? {
        let bare = name.hasPrefix("bert.") ? String(name.dropFirst(5)) : name
        if bare == "embeddings.position_ids" || bare.hasPrefix("pooler.") { return nil }
        return bare
    }
}
