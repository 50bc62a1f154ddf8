import DLLMModels
import Foundation

/// A model for inference from a model folder (config.json + safetensors).
func loadInferenceModel(path: String, dequantize: Bool) throws -> (model: any InferenceModel<Float>, describe: String) {
    let loaded = try ModelFolder.load(URL(fileURLWithPath: path), as: Float.self)
    let type = loaded.config["model_type"] as? String ?? "?"
    return (inferenceModel(loaded.model), "\(path) (\(type)\(loaded.randomlyInitialized ? ", random weights" : ""))")
}
