import DLLMCompute

/// The shape of a LLaMA-family decoder, whichever checkpoint dialect it came from
/// (`llama`, `qwen2`, `qwen3` with Hugging Face keys, `llada` with LLaDA's own keys).
public struct LlamaSpec: Sendable, Equatable {
    public enum Naming: String, Sendable { case huggingFace, llada }

    public var modelType: String
    public var naming: Naming
    public var hidden: Int            // C
    public var layers: Int            // L
    public var heads: Int             // NH
    public var kvHeads: Int           // NKV
    public var headDim: Int           // HD
    public var intermediate: Int      // I (SwiGLU width)
    public var vocab: Int             // V (rows of the embedding table)
    public var rmsNormEps: Double
    public var ropeTheta: Double
    public var maxPositions: Int
    public var tiedEmbeddings: Bool
    public var qkvBias: Bool
    /// Qwen3's per-head RMSNorm of queries and keys (weights of width HD), applied after
    /// the projections and before rotary embedding (HF `Qwen3Attention.q_norm`/`k_norm`).
    public var qkNorm: Bool
    public var maskTokenID: Int?
    public var initializerRange: Double
    /// Attention without the causal mask at inference: LLaDA, and dLLM's A2D conversions
    /// (`a2d-llama`/`a2d-qwen2`/`a2d-qwen3`, dLLM `pipelines/a2d/models/*/modeling_*.py`),
    /// which are sampled by diffusion with their mask token.
    public var bidirectional: Bool
    /// LLaDA-MoE's sparse MLP in the layers it names (``MixtureOfExpertsSpec``); nil for dense models.
    public var mixtureOfExperts: MixtureOfExpertsSpec?
    /// Edit Flows heads on the last hidden state (`editflow-*` model types, dLLM
    /// `pipelines/editflow/models/*`): `sub_logits`, `ins_logits` and `rate_heads.0` (``EditFlowHeadNames``).
    public var editFlowHeads: Bool

    public init(modelType: String, naming: Naming, hidden: Int, layers: Int, heads: Int, kvHeads: Int,
                headDim: Int, intermediate: Int, vocab: Int, rmsNormEps: Double, ropeTheta: Double,
                maxPositions: Int, tiedEmbeddings: Bool, qkvBias: Bool, qkNorm: Bool = false, maskTokenID: Int? = nil,
                initializerRange: Double = 0.02, bidirectional: Bool = false, editFlowHeads: Bool = false) {
        self.modelType = modelType
        self.naming = naming
        self.hidden = hidden
        self.layers = layers
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.intermediate = intermediate
        self.vocab = vocab
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.maxPositions = maxPositions
        self.tiedEmbeddings = tiedEmbeddings
        self.qkvBias = qkvBias
        self.qkNorm = qkNorm
        self.maskTokenID = maskTokenID
        self.initializerRange = initializerRange
        self.bidirectional = bidirectional
        self.editFlowHeads = editFlowHeads
    }

    /// Checkpoint tensor names for each role, with `{}` for the layer index
    /// (torchtitan's `state_dict_adapter` idea, applied at the name level).
    public struct TensorNames: Sendable {
        public let embedding, attnNorm, q, k, v, o, mlpNorm, gate, up, down, finalNorm, head: String
        /// Per-head query/key norms (`qkNorm` only; LLaDA checkpoints have none).
        public let qNorm, kNorm: String?
    }

    public var names: TensorNames {
        switch naming {
        case .huggingFace:
            return TensorNames(
                embedding: "model.embed_tokens.weight",
                attnNorm: "model.layers.{}.input_layernorm.weight",
                q: "model.layers.{}.self_attn.q_proj", k: "model.layers.{}.self_attn.k_proj",
                v: "model.layers.{}.self_attn.v_proj", o: "model.layers.{}.self_attn.o_proj.weight",
                mlpNorm: "model.layers.{}.post_attention_layernorm.weight",
                gate: "model.layers.{}.mlp.gate_proj.weight", up: "model.layers.{}.mlp.up_proj.weight",
                down: "model.layers.{}.mlp.down_proj.weight",
                finalNorm: "model.norm.weight", head: "lm_head.weight",
                qNorm: "model.layers.{}.self_attn.q_norm.weight", kNorm: "model.layers.{}.self_attn.k_norm.weight")
        case .llada:
            return TensorNames(
                embedding: "model.transformer.wte.weight",
                attnNorm: "model.transformer.blocks.{}.attn_norm.weight",
                q: "model.transformer.blocks.{}.q_proj", k: "model.transformer.blocks.{}.k_proj",
                v: "model.transformer.blocks.{}.v_proj", o: "model.transformer.blocks.{}.attn_out.weight",
                mlpNorm: "model.transformer.blocks.{}.ff_norm.weight",
                gate: "model.transformer.blocks.{}.ff_proj.weight", up: "model.transformer.blocks.{}.up_proj.weight",
                down: "model.transformer.blocks.{}.ff_out.weight",
                finalNorm: "model.transformer.ln_f.weight", head: "model.transformer.ff_out.weight",
                qNorm: nil, kNorm: nil)
        }
    }
}

extension String {
    /// Substitutes a layer index for `{}` in a tensor-name template.
    func layer(_ i: Int) -> String { replacingOccurrences(of: "{}", with: String(i)) }
}

extension LlamaSpec: ModelArchitecture {
    public func makeModel<S: ComputeScalar>(as _: S.Type) -> any LanguageModel<S> { LlamaModel<S>(spec: self) }

    public func initialStandardDeviation(of name: String) -> Double { initializerRange }

    /// A tied head stored in the checkpoint anyway is skipped: the embedding is the head.
    public func parameterName(forCheckpointTensor name: String) -> String? {
        tiedEmbeddings && name == names.head ? nil : name
    }
}

extension LlamaConfiguration: ModelConfiguration {
    public func architecture(path: String) throws -> any ModelArchitecture { try spec(path: path) }
}

extension LLaDAConfiguration: ModelConfiguration {
    public func architecture(path: String) throws -> any ModelArchitecture { try spec(path: path) }
}
