import DLLMGGUF
import Foundation

/// `config.json` for a GGUF file's model, from its llama.cpp metadata keys
/// (gguf-py `constants.Keys`; transformers' `GGUF_CONFIG_MAPPING` maps the same keys).
public enum GGUFModelConfig {
    /// The architectures the importer maps, with their Hugging Face class names.
    public static let architectures = ["llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM"]

    /// `general.architecture`, checked to be importable.
    public static func architecture(of file: GGUFFile) throws -> String {
        guard let arch = file.metadata["general.architecture"]?.string else {
            throw GGUFImportError.missingKey(file: file.path, key: "general.architecture", expected: "a string")
        }
        guard architectures[arch] != nil else {
            throw GGUFImportError.unsupportedArchitecture(file: file.path, architecture: arch)
        }
        return arch
    }

    /// The Hugging Face `config.json` object: `model_type`, sizes, norms, RoPE base,
    /// context length, vocabulary size, tied embeddings (no `output.weight`), special ids.
    /// - Parameter torchDType: the `torch_dtype` to record ("float32" or "bfloat16").
    public static func huggingFaceConfig(_ file: GGUFFile, torchDType: String = "float32") throws -> [String: Any] {
        let arch = try architecture(of: file)
        let meta = file.metadata
        func int(_ key: String) throws -> Int {
            guard let v = meta[key]?.int, v > 0 else { throw GGUFImportError.missingKey(file: file.path, key: key, expected: "a positive integer") }
            return v
        }
        func optionalInt(_ key: String) -> Int? { meta[key]?.int }
        /// A float32 key as the shortest decimal that reads back as the same float32
        /// (9.999999747378752e-06 → 1e-05), as the original config.json had it.
        func float(_ key: String) throws -> Double? {
            guard let value = meta[key] else { return nil }
            switch value {
            case let .float32(f): return Double(String(describing: f))!
            case let .float64(d): return d
            default: throw GGUFImportError.missingKey(file: file.path, key: key, expected: "a float")
            }
        }
        if let scaling = meta["\(arch).rope.scaling.type"]?.string, scaling != "none" {
            throw GGUFImportError.unsupportedValue(file: file.path, key: "\(arch).rope.scaling.type", value: scaling,
                                                   reason: "dllm runs default RoPE only")
        }
        let hidden = try int("\(arch).embedding_length")
        let heads = try int("\(arch).attention.head_count")
        let kvHeads = optionalInt("\(arch).attention.head_count_kv") ?? heads
        var config: [String: Any] = [
            "architectures": [architectures[arch]!],
            "model_type": arch,
            "hidden_size": hidden,
            "intermediate_size": try int("\(arch).feed_forward_length"),
            "num_hidden_layers": try int("\(arch).block_count"),
            "num_attention_heads": heads,
            "num_key_value_heads": kvHeads,
            "rms_norm_eps": try float("\(arch).attention.layer_norm_rms_epsilon") ?? 1e-6,
            "rope_theta": try float("\(arch).rope.freq_base") ?? 10_000,
            "max_position_embeddings": try int("\(arch).context_length"),
            "vocab_size": try vocabularySize(file, arch: arch),
            "tie_word_embeddings": file.tensor(named: "output.weight") == nil,
            "hidden_act": "silu",
            "initializer_range": 0.02,
            "torch_dtype": torchDType,
            "use_cache": true,
        ]
        if arch == "llama" {
            config["attention_bias"] = false
            config["mlp_bias"] = false
        } else {
            config["use_sliding_window"] = false
        }
        let headDim = optionalInt("\(arch).attention.key_length") ?? optionalInt("\(arch).rope.dimension_count") ?? hidden / heads
        if headDim != hidden / heads { config["head_dim"] = headDim }
        for (gguf, hf) in [("bos_token_id", "bos_token_id"), ("eos_token_id", "eos_token_id"), ("padding_token_id", "pad_token_id")] {
            if let id = optionalInt("tokenizer.ggml." + gguf) { config[hf] = id }
        }
        return config
    }

    /// `{arch}.vocab_size`, else the token list's length, else the embedding's rows.
    static func vocabularySize(_ file: GGUFFile, arch: String) throws -> Int {
        if let v = file.metadata["\(arch).vocab_size"]?.int, v > 0 { return v }
        if let tokens = file.metadata["tokenizer.ggml.tokens"]?.array, !tokens.isEmpty { return tokens.count }
        if let embedding = file.tensor(named: "token_embd.weight"), embedding.dims.count == 2 { return embedding.dims[1] }
        throw GGUFImportError.missingKey(file: file.path, key: "\(arch).vocab_size", expected: "a positive integer")
    }
}
