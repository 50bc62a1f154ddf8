import DLLMCheckpoint
import DLLMGGUF
import DLLMModels
import Foundation

/// `dllm convert gguf`: a GGUF file to a Hugging Face model folder — `config.json`,
/// `generation_config.json` (bos/eos/pad ids) and `model.safetensors` (F32, or BF16),
/// written by `ModelFolder.save` so `transformers` loads the folder unchanged, and
/// `tokenizer.json` + `tokenizer_config.json` from the file's tokenizer metadata
/// (`GGUFTokenizerImport`).
public enum GGUFFolderConverter {
    /// What a conversion wrote.
    public struct Summary: Sendable {
        public let files: [String]
        public let parameterCount: Int
        public let architecture: String
        /// Adapted layers merged from `adapter` (0 without one).
        public let mergedLayers: Int
    }

    /// Converts `file` into `directory` (created if needed). `dtype` is `.F32` or `.BF16`;
    /// `tokenizer: false` leaves the tokenizer files out. With `adapter` (a PEFT LoRA folder, e.g.
    /// a run trained over this GGUF), the dequantised weights get W + s·B·A before they are
    /// written (`dllm checkpoint merge-lora FILE.gguf ADAPTER OUT`); `mergedLayers` counts them.
    @discardableResult
    public static func convert(_ file: GGUFFile, to directory: URL, dtype: SafeTensorsDType = .F32,
                               tokenizer: Bool = true, adapter: URL? = nil) throws -> Summary {
        precondition(dtype == .F32 || dtype == .BF16, "convert writes F32 or BF16")
        // The tokenizer first: its errors come before the slow part.
        let imported = tokenizer ? try GGUFTokenizerImport.convert(file.metadata, source: file.path) : nil
        var (model, config) = try GGUFModelImport.load(file)
        config["torch_dtype"] = dtype == .BF16 ? "bfloat16" : "float32"
        let merged = try adapter.map { try LoRAMerge.merge($0, into: model) } ?? 0
        try ModelFolder.save(model, config: config, to: directory, dtype: dtype)
        var files = ["config.json", "generation_config.json", SafeTensorsCheckpoint.singleFileName]
        if let imported {
            try imported.write(to: directory)
            files += ["tokenizer.json", "tokenizer_config.json"]
        }
        return Summary(files: files, parameterCount: model.parameterCount, architecture: config["model_type"] as? String ?? "?",
                       mergedLayers: merged)
    }
}
