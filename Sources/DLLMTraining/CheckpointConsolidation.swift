import DLLMDistributed
import DLLMModels
import Foundation

extension CheckpointManager {
    /// `dllm checkpoint consolidate`: writes `model.safetensors` (and a full
    /// `optimizer.safetensors`) into a sharded checkpoint folder.
    public static func consolidate(_ url: URL) throws {
        let loaded = try ModelFolder.load(url, as: Float.self, parameterShards: true)  // config.json (+ model.safetensors if present)
        let model = loaded.model, P = model.parameterCount
        let reader = try CheckpointStateReader(folder: url, parameterCount: P)
        if reader.hasParameterShards {
            try reader.read(CheckpointStateReader.parameters, flat: 0..<P, into: model.parameters.pointer)
        } else if loaded.randomlyInitialized {
            throw TrainingError.badCheckpoint(path: url.path, reason: "no parameters in model.safetensors or in the shards")
        }
        // Both files streamed: no copy of the parameters, the moments a window at a time.
        try StreamedModelSave.write(model: model, config: loaded.config, to: url)
        try reader.writeFullMoments(to: url)
    }
}
