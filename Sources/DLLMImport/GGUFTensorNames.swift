/// llama.cpp tensor names (gguf-py `constants.TENSOR_NAMES`, `MODEL_ARCH.LLAMA`/`QWEN2`)
/// and their Hugging Face `LlamaForCausalLM` / `Qwen2ForCausalLM` names.
public enum GGUFTensorNames {
    /// Per-block suffixes: `blk.N.<gguf>` ↔ `model.layers.N.<hf>`.
    static let blockNames: [(gguf: String, hf: String)] = [
        ("attn_norm", "input_layernorm"),
        ("attn_q", "self_attn.q_proj"),
        ("attn_k", "self_attn.k_proj"),
        ("attn_v", "self_attn.v_proj"),
        ("attn_output", "self_attn.o_proj"),
        ("ffn_norm", "post_attention_layernorm"),
        ("ffn_gate", "mlp.gate_proj"),
        ("ffn_up", "mlp.up_proj"),
        ("ffn_down", "mlp.down_proj"),
    ]
    static let globalNames: [(gguf: String, hf: String)] = [
        ("token_embd", "model.embed_tokens"),
        ("output_norm", "model.norm"),
        ("output", "lm_head"),
    ]

    /// The Hugging Face name of a GGUF tensor (`blk.3.attn_q.weight` →
    /// `model.layers.3.self_attn.q_proj.weight`), or nil for names outside the map.
    public static func huggingFaceName(ofGGUF name: String) -> String? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard let kind = parts.last, kind == "weight" || kind == "bias" else { return nil }
        if parts.count == 2, let entry = globalNames.first(where: { $0.gguf == parts[0] }) {
            return entry.hf + "." + kind
        }
        if parts.count == 4, parts[0] == "blk", let layer = Int(parts[1]), layer >= 0, String(layer) == parts[1],
           let entry = blockNames.first(where: { $0.gguf == parts[2] }) {
            return "model.layers.\(layer).\(entry.hf).\(kind)"
        }
        return nil
    }

    /// The GGUF name of a Hugging Face tensor (inverse of ``huggingFaceName(ofGGUF:)``).
    public static func ggufName(ofHuggingFace name: String) -> String? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard let kind = parts.last, kind == "weight" || kind == "bias" else { return nil }
        let stem = parts.dropLast().joined(separator: ".")
        if let entry = globalNames.first(where: { $0.hf == stem }) { return entry.gguf + "." + kind }
        if parts.count >= 5, parts[0] == "model", parts[1] == "layers", let layer = Int(parts[2]), String(layer) == parts[2] {
            let suffix = parts[3 ..< parts.count - 1].joined(separator: ".")
            if let entry = blockNames.first(where: { $0.hf == suffix }) { return "blk.\(layer).\(entry.gguf).\(kind)" }
        }
        return nil
    }
}
