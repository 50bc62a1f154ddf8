import DLLMCheckpoint
import DLLMCompute
import DLLMDistributed
import DLLMModels
import Foundation

/// Multi-rank checkpoints: every rank writes its own shard (its chunks of the AdamW
/// moments and, for FSDP, of the parameters) as `shard-RRRRR-of-WWWWW.safetensors`;
/// `sharding.json` records the strategy, the world size, every segment's range and
/// chunk length, and every tensor's name, shape and flat offset. Rank 0 writes the
/// replicated parameters as `model.safetensors` (DDP, ZeRO-1/2); FSDP checkpoints
/// hold parameters only in shards until `dllm checkpoint consolidate`.
///
/// The checkpoint is complete only when every shard and the metadata are on disk:
/// ranks write into one temporary folder, meet at a barrier, and rank 0 writes
/// `trainer_state.json` last and renames the folder into place.
/// Loading reassembles full flat buffers from the old shards and slices them for
/// the new world size, so a checkpoint resumes at any world size.
public struct ShardingMetadata: Codable, Sendable {
    public var stage: ShardingStage
    public var worldSize: Int
    public var shardMap: ShardMap
    public var tensors: [TensorEntry]
    public var parameterCount: Int

    public struct TensorEntry: Codable, Sendable {
        public var name: String
        public var shape: [Int]
        public var offset: Int
    }

    static let fileName = "sharding.json"
    static func shardName(rank: Int, worldSize: Int) -> String {
        String(format: "shard-%05d-of-%05d.safetensors", rank, worldSize)
    }
}

extension CheckpointManager {
    /// Every rank calls this together.
    @discardableResult
    public func saveSharded(engine: DistributedEngine, modelConfig: [String: Any], state: TrainerState,
                            trainingConfig: TrainingConfig, tokenizerFiles: [URL], name: String? = nil) throws -> URL {
        let comm = engine.comm, model = engine.model
        let finalName = name ?? "\(Self.prefix)\(state.globalStep)"
        let final = outputDirectory.appendingPathComponent(finalName)
        let temporary = outputDirectory.appendingPathComponent(".\(finalName).tmp-shards")
        if comm.rank == 0 {
            try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(at: temporary)
            try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
        }
        comm.barrier()
        let map = engine.map
        // A named (final) FSDP checkpoint also holds the consolidated model.
        if engine.paramShard != nil && name != nil { engine.gatherFullParameters() }
        defer { if engine.paramShard != nil && name != nil { engine.releaseFullParameters() } }
        // This rank's chunks, segment by segment (padding included, as zeros).
        func shardOf(_ full: Buffer<Float>) -> [Float] {
            var out = [Float](repeating: 0, count: map.shardCount)
            for seg in map.segments {
                let owned = seg.owned(by: comm.rank)
                for i in 0..<owned.count { out[seg.shardOffset + i] = full[owned.lowerBound + i] }
            }
            return out
        }
        let m = engine.plan.stage == .ddp ? shardOf(engine.m) : engine.m.array
        let v = engine.plan.stage == .ddp ? shardOf(engine.v) : engine.v.array
        var writer = SafeTensorsWriter(metadata: ["format": "dllm-shard", "rank": "\(comm.rank)", "world_size": "\(comm.worldSize)"])
        try m.withUnsafeBufferPointer { try writer.add("exp_avg", shape: [m.count], values: $0, as: .F32) }
        try v.withUnsafeBufferPointer { try writer.add("exp_avg_sq", shape: [v.count], values: $0, as: .F32) }
        if let shard = engine.paramShard {
            try writer.add("params", shape: [shard.count], values: UnsafeBufferPointer(shard.buffer), as: .F32)
        }
        try writer.write(to: temporary.appendingPathComponent(ShardingMetadata.shardName(rank: comm.rank, worldSize: comm.worldSize)))
        comm.barrier()
        if comm.rank == 0 {
            let meta = ShardingMetadata(stage: engine.plan.stage, worldSize: comm.worldSize, shardMap: map,
                                        tensors: model.layout.slots.map { .init(name: $0.name, shape: $0.shape, offset: $0.offset) },
                                        parameterCount: model.parameterCount)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(meta), to: temporary.appendingPathComponent(ShardingMetadata.fileName))
            let configURL = temporary.appendingPathComponent("config.json")
            try AtomicFile.write(try ConfigJSON.text(modelConfig, path: configURL.path), to: configURL)
            if engine.paramShard == nil || name != nil {
                try ModelFolder.save(model, config: modelConfig, to: temporary)
            }
            for file in tokenizerFiles where FileManager.default.fileExists(atPath: file.path) {
                try AtomicFile.write(try Data(contentsOf: file), to: temporary.appendingPathComponent(file.lastPathComponent))
            }
            try AtomicFile.write(try encoder.encode(trainingConfig), to: temporary.appendingPathComponent("training_args.json"))
            try AtomicFile.write(try encoder.encode(state), to: temporary.appendingPathComponent("trainer_state.json"))
            if FileManager.default.fileExists(atPath: final.path) { try FileManager.default.removeItem(at: final) }
            try AtomicFile.commitDirectory(temporary, as: final)
            try rotate()
        }
        comm.barrier()
        return final
    }

    /// Full flat parameters, `exp_avg` and `exp_avg_sq` of a checkpoint written at any
    /// world size (sharded) or by one process (`optimizer.safetensors`).
    public static func loadFullState(_ url: URL, parameterCount: Int) throws -> (params: [Float]?, m: [Float], v: [Float]) {
        let metaURL = url.appendingPathComponent(ShardingMetadata.fileName)
        guard let data = FileManager.default.contents(atPath: metaURL.path) else {
            let file = try SafeTensorsFile(contentsOf: url.appendingPathComponent("optimizer.safetensors"))
            return (nil, try file.floats("exp_avg"), try file.floats("exp_avg_sq"))
        }
        let meta: ShardingMetadata
        do { meta = try JSONDecoder().decode(ShardingMetadata.self, from: data) } catch {
            throw TrainingError.badCheckpoint(path: metaURL.path, reason: "unreadable sharding metadata: \(error)")
        }
        guard meta.parameterCount == parameterCount else {
            throw TrainingError.badCheckpoint(path: url.path, reason: "checkpoint has \(meta.parameterCount) parameters, the model \(parameterCount)")
        }
        var m = [Float](repeating: 0, count: parameterCount), v = m
        var params: [Float]? = meta.stage == .fsdp ? [Float](repeating: 0, count: parameterCount) : nil
        for r in 0..<meta.worldSize {
            let shardURL = url.appendingPathComponent(ShardingMetadata.shardName(rank: r, worldSize: meta.worldSize))
            guard FileManager.default.fileExists(atPath: shardURL.path) else {
                throw TrainingError.badCheckpoint(path: url.path, reason: "missing \(shardURL.lastPathComponent) (of \(meta.worldSize) shards)")
            }
            let file = try SafeTensorsFile(contentsOf: shardURL)
            let sm = try file.floats("exp_avg"), sv = try file.floats("exp_avg_sq")
            let sp = params != nil ? try file.floats("params") : nil
            for seg in meta.shardMap.segments {
                let owned = seg.owned(by: r)
                for i in 0..<owned.count {
                    m[owned.lowerBound + i] = sm[seg.shardOffset + i]
                    v[owned.lowerBound + i] = sv[seg.shardOffset + i]
                    if let sp { params![owned.lowerBound + i] = sp[seg.shardOffset + i] }
                }
            }
        }
        return (params, m, v)
    }

    /// `dllm checkpoint consolidate`: writes `model.safetensors` (and a full
    /// `optimizer.safetensors`) into a sharded checkpoint folder.
    public static func consolidate(_ url: URL) throws {
        let loaded = try ModelFolder.load(url, as: Float.self)  // config.json (+ model.safetensors if present)
        let model = loaded.model
        let state = try loadFullState(url, parameterCount: model.parameterCount)
        if let params = state.params {
            params.withUnsafeBufferPointer { model.parameters.pointer.update(from: $0.baseAddress!, count: params.count) }
        } else if loaded.randomlyInitialized {
            throw TrainingError.badCheckpoint(path: url.path, reason: "no parameters in model.safetensors or in the shards")
        }
        try ModelFolder.save(model, config: loaded.config, to: url)
        var writer = SafeTensorsWriter(metadata: ["format": "dllm-adamw"])
        try state.m.withUnsafeBufferPointer { try writer.add("exp_avg", shape: [state.m.count], values: $0, as: .F32) }
        try state.v.withUnsafeBufferPointer { try writer.add("exp_avg_sq", shape: [state.v.count], values: $0, as: .F32) }
        try writer.write(to: url.appendingPathComponent("optimizer.safetensors"))
    }
}
