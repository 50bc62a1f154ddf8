import DLLMCompute
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
        try ModelFolder.save(model, config: loaded.config, to: url)
        let m = Buffer<Float>(count: P), v = Buffer<Float>(count: P)
        try reader.read(CheckpointStateReader.firstMoment, flat: 0..<P, into: m.pointer)
        try reader.read(CheckpointStateReader.secondMoment, flat: 0..<P, into: v.pointer)
        try ShardedCheckpointState.writeFullMoments(m: m, v: v, to: url)
    }
}
