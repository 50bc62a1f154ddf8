import DLLMImport
import DLLMModels
import DLLMSampling
import Foundation

/// A model for inference: a llama/qwen2 `.gguf` file (quantized matrices kept quantized unless
/// `dequantize`), or a model folder (config.json + safetensors).
func loadInferenceModel(path: String, dequantize: Bool) throws -> (model: any InferenceModel<Float>, describe: String) {
    if TextGenerator.isGGUF(path) {
        let loaded = dequantize ? try GGUFModelImport.load(path: path) : try GGUFQuantizedImport.load(path: path)
        let type = loaded.config["model_type"] as? String ?? "?"
        let weights = loaded.model.quantizedWeights
        let how = weights.map { "quantized matrices kept (\($0.byteCount / 1_048_576) MiB)" } ?? "dequantised to fp32"
        return (loaded.model, "\(path) (\(type), \(how))")
    }
    let loaded = try ModelFolder.load(URL(fileURLWithPath: path), as: Float.self)
    let type = loaded.config["model_type"] as? String ?? "?"
    return (inferenceModel(loaded.model), "\(path) (\(type)\(loaded.randomlyInitialized ? ", random weights" : ""))")
}
