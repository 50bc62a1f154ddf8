import DLLMCompute
import Foundation

/// Adapters merged into their base: `W ← W + s·B·A` (PEFT `merge_and_unload`). Inference with
/// `--adapter` merges at load, so generation, chat and evaluation run the base's own kernels.
public enum LoRAMerge {
    /// Merges `adapter` (a PEFT adapter folder) into `model`'s float weights; returns how many layers changed.
    @discardableResult
    public static func merge<S: ComputeScalar>(_ adapter: URL, into model: any LanguageModel<S>) throws -> Int {
        guard let base = model as? LlamaModel<S> else {
            throw LoRAError.badAdapter(path: adapter.path, reason: "adapters apply to LLaMA-family bases (llama, qwen2, qwen3, a2d-*, llada), not \(model.architecture.modelType)")
        }
        guard base.quantizedWeights == nil else {
            throw LoRAError.badAdapter(path: adapter.path, reason: "the base keeps quantized matrices, which a merge cannot change; load the GGUF with --dequantize")
        }
        let adapters = try LoRAAdapterFolder.load(adapter, for: base)
        try adapters.merge(into: base)
        return adapters.modules.count
    }

    /// `dllm checkpoint merge-lora BASE ADAPTER OUT`: a Hugging Face folder with the merged weights,
    /// the base's config and its tokenizer files.
    public static func mergeFolder(base: URL, adapter: URL, output: URL) throws -> Int {
        let loaded = try ModelFolder.load(base, as: Float.self)
        guard !loaded.randomlyInitialized else {
            throw LoRAError.badAdapter(path: base.path, reason: "the base folder has no weights to merge into")
        }
        let count = try merge(adapter, into: loaded.model)
        try ModelFolder.save(loaded.model, config: loaded.configJSON, to: output)
        let fm = FileManager.default
        let tokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "vocab.json", "merges.txt"]
        for name in tokenizerFiles where fm.fileExists(atPath: base.appendingPathComponent(name).path) {
            let target = output.appendingPathComponent(name)
            try? fm.removeItem(at: target)
            try fm.copyItem(at: base.appendingPathComponent(name), to: target)
        }
        return count
    }
}
