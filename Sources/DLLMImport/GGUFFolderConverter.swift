import DLLMCheckpoint
import DLLMGGUF
import DLLMModels
import Foundation

/// `dllm convert gguf`: a GGUF file to a Hugging Face model folder — `config.json`,
/// `generation_config.json` (bos/eos/pad ids) and `model.safetensors` (F32, or BF16),
/// written by `ModelFolder.save` so `transformers` loads the folder unchanged.
public enum GGUFFolderConverter {
    /// What a conversion wrote.
    public struct Summary: Sendable {
        public let files: [String]
        public let parameterCount: Int
        public let architecture: String
    }

    /// Converts `file` into `directory` (created if needed). `dtype` is `.F32` or `.BF16`.
    @discardableResult
    public static func convert(_ file: GGUFFile, to directory: URL, dtype: SafeTensorsDType = .F32) throws -> Summary {
        precondition(dtype == .F32 || dtype == .BF16, "convert writes F32 or BF16")
        var (model, config) = try GGUFModelImport.load(file)
        config["torch_dtype"] = dtype == .BF16 ? "bfloat16" : "float32"
        try ModelFolder.save(model, config: config, to: directory, dtype: dtype)
        let files = ["config.json", "generation_config.json", SafeTensorsCheckpoint.singleFileName]
        return Summary(files: files, parameterCount: model.parameterCount, architecture: config["model_type"] as? String ?? "?")
    }
}
