import DLLMConfig
import Yams

/// The keys HF and dLLM training configs carry that dllm does not turn into behaviour,
/// each with what happens to it: every key is honoured, refused, or ignored with a reason
/// printed once at start-up. None is accepted and then silently dropped.
extension TrainingConfig {
    /// Keys that cannot change a CPU run's results: accepted, and listed once at start-up
    /// with the reason. A key here must never alter what is computed.
    public static let ignoredKeyReasons: [String: String] = [
        "tf32": "TensorFloat-32 is an NVIDIA GPU matmul mode",
        "fp16_full_eval": "evaluation runs in float32 on CPU",
        "bf16_full_eval": "evaluation runs in float32 on CPU",
        "dataloader_num_workers": "batches are read from memory-mapped shards in the training process",
        "dataloader_pin_memory": "pinned memory only speeds host-to-GPU copies",
        "ddp_find_unused_parameters": "every parameter receives a gradient in every step here",
        "torch_compile": "PyTorch's compiler; dllm's kernels are compiled ahead of time",
        "attn_implementation": "one attention kernel serves every setting (same results)",
        "overwrite_output_dir": "checkpoints are written atomically beside existing ones",
        "remove_unused_columns": "only the text_field (or SFT message) columns are read",
        "logging_dir": "metrics go to the run's trainer_state.json and the telemetry collector",
        "disable_tqdm": "the progress line is drawn only on an interactive terminal",
        "num_proc": "tokenisation runs in the training process; in dLLM num_proc only parallelises datasets.map and never changes the data",
        "deepspeed": "parallelism comes from the launch config (dllm-launch --config, or --launch-config)",
        "fsdp": "parallelism comes from the launch config (dllm-launch --config, or --launch-config)",
        "fsdp_config": "parallelism comes from the launch config (dllm-launch --config, or --launch-config)",
        "accelerator_config": "parallelism comes from the launch config (dllm-launch --config, or --launch-config)",
        "local_rank": "ranks are numbered by MPI",
    ]

    /// Keys that ask for a feature dllm does not have yet: accepted only with a value
    /// that asks for nothing (`false`, or one of `accepted`), refused otherwise with
    /// what to do instead.
    public static let unavailableFeatureKeys: [String: (accepted: Set<String>, message: String)] = [
        "load_in_8bit": (["false"], "quantised (8-bit) training bases are not available yet; remove the key to train a float32 base"),
        "fp16": (["false"], "fp16 mixed precision needs a GPU (training runs in float32 here); remove the key or set it false"),
        "gradient_checkpointing_kwargs": (["null", "{}"], "activation checkpointing takes no options here (each block is recomputed whole, as use_reentrant: false does); remove the key"),
        "streaming": (["false"], "streaming datasets are not available; prepare token shards once with `dllm prepare` (memory-mapped, never loaded whole) and set load_preprocessed_data: true"),
        "push_to_hub": (["false"], "dllm does not upload; remove the key and copy the output folder yourself"),
        "hub_model_id": (["null"], "dllm does not upload; remove the key"),
        "optim": (["adamw_torch", "adamw_torch_fused", "adamw_hf", "adamw"], "dllm's optimizer is AdamW (HF's adamw_torch); remove the key or set adamw_torch"),
        "dtype": (["float32", "auto", "null"], "models train in float32; remove the key or set float32"),
        "torch_dtype": (["float32", "auto", "null"], "models train in float32; remove the key or set float32"),
    ]

    /// Every key a training config may carry: decoded, ignored with a reason, or
    /// accepted only without effect.
    static var acceptedKeys: Set<String> {
        knownKeys.union(ignoredKeyReasons.keys).union(unavailableFeatureKeys.keys)
    }

    /// Refuses an unavailable feature that `file` (after overrides) asks for, naming the key and line.
    static func refuseUnavailableFeatures(in file: FlatYAMLConfig) throws {
        guard let mapping = file.node.mapping else { return }
        for (k, v) in mapping {
            guard let key = k.string, let rule = unavailableFeatureKeys[key] else { continue }
            let value = Self.scalarText(v)
            if !rule.accepted.contains(value) {
                throw ConfigError(file: file.source(of: key), line: file.line(of: key), key: key, "\(value) is not supported: \(rule.message)")
            }
        }
    }

    /// A YAML value as a short canonical text (`true`, `false`, `null`, `{}`, a scalar's string).
    static func scalarText(_ node: Node) -> String {
        if node.null != nil { return "null" }
        if let b = node.bool { return b ? "true" : "false" }
        if let s = node.scalar?.string { return s.lowercased() }
        if let m = node.mapping, m.isEmpty { return "{}" }
        return node.mapping != nil ? "a mapping" : "a list"
    }
}
