import DLLMCheckpoint
import DLLMCompute
import DLLMModels
import Foundation

/// How the data-parallel strategies save and resume: every rank writes its own
/// shard (its chunks of the AdamW moments and, for FSDP, of the parameters) as
/// `shard-RRRRR-of-WWWWW.safetensors`; rank 0 writes `sharding.json`, `config.json`
/// and, where parameters are replicated (DDP, ZeRO-1/2) or a consolidated copy is
/// asked for, `model.safetensors`. Resuming reads each rank's chunks for its own
/// shard map, so a checkpoint resumes at any world size and under any strategy.
public enum ShardedCheckpointState {
    static func save(core: DataParallelCore, to folder: URL, modelConfig: [String: Any], consolidated: Bool) throws {
        let comm = core.comm, map = core.map, model = core.model
        let writesModel = core.paramShard == nil || consolidated
        // FSDP's consolidated copy: every rank takes part in the gathers, rank 0 writes.
        if core.paramShard != nil && consolidated { core.gatherAll() }
        defer { if core.paramShard != nil && consolidated { core.releaseAllGathered() } }

        var writer = SafeTensorsWriter(metadata: ["format": "dllm-shard", "rank": "\(comm.rank)", "world_size": "\(comm.worldSize)"])
        for (name, moments) in [(CheckpointStateReader.firstMoment, core.m), (CheckpointStateReader.secondMoment, core.v)] {
            let chunks = core.momentsAreFull ? shardOf(moments, map: map, rank: comm.rank) : moments
            try writer.add(name, shape: [chunks.count], values: UnsafeBufferPointer(chunks.buffer), as: .F32)
        }
        if let shard = core.paramShard {
            try writer.add(CheckpointStateReader.parameters, shape: [shard.count], values: UnsafeBufferPointer(shard.buffer), as: .F32)
        }
        try writer.write(to: folder.appendingPathComponent(ShardingMetadata.shardName(rank: comm.rank, worldSize: comm.worldSize)))
        guard comm.rank == 0 else { return }
        let meta = ShardingMetadata(stage: core.plan.stage, worldSize: comm.worldSize, shardMap: map,
                                    tensors: model.layout.slots.map { .init(name: $0.name, shape: $0.shape, offset: $0.offset) },
                                    parameterCount: model.parameterCount)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(meta), to: folder.appendingPathComponent(ShardingMetadata.fileName))
        let configURL = folder.appendingPathComponent("config.json")
        try AtomicFile.write(try ConfigJSON.text(modelConfig, path: configURL.path), to: configURL)
        if writesModel { try ModelFolder.save(model, config: modelConfig, to: folder) }
    }

    /// Each rank reads only its own chunks of the moments (and, for FSDP, of the
    /// parameters when the checkpoint holds them in shards).
    static func load(core: DataParallelCore, from folder: URL) throws {
        let model = core.model, P = model.parameterCount
        let reader = try CheckpointStateReader(folder: folder, parameterCount: P)
        if let paramShard = core.paramShard {
            if reader.hasParameterShards {
                paramShard.zero()
                try reader.readShard(CheckpointStateReader.parameters, map: core.map, rank: core.comm.rank, into: paramShard.pointer)
                core.releaseAllGathered()
            } else {
                // Replicated weights (a DDP/ZeRO or single-process checkpoint): load, then keep this rank's chunks.
                try reader.loadReplicatedParameters(into: model)
                core.shardParameters()
            }
        } else {
            try reader.loadReplicatedParameters(into: model)
        }
        for (name, moments) in [(CheckpointStateReader.firstMoment, core.m), (CheckpointStateReader.secondMoment, core.v)] {
            moments.zero()
            if core.momentsAreFull {
                try reader.read(name, flat: 0..<P, into: moments.pointer)
            } else {
                try reader.readShard(name, map: core.map, rank: core.comm.rank, into: moments.pointer)
            }
        }
    }

    /// A full buffer's chunks owned by `rank`, in shard layout (padding as zeros).
    static func shardOf(_ full: Buffer<Float>, map: ShardMap, rank: Int) -> Buffer<Float> {
        let out = Buffer<Float>(count: map.shardCount)
        for seg in map.segments {
            let owned = seg.owned(by: rank)
            (out.pointer + seg.shardOffset).update(from: full.pointer + owned.lowerBound, count: owned.count)
        }
        return out
    }

    /// A single process's `optimizer.safetensors`: the full moments.
    public static func writeFullMoments(m: Buffer<Float>, v: Buffer<Float>, to folder: URL) throws {
        var writer = SafeTensorsWriter(metadata: ["format": "dllm-adamw"])
        try writer.add(CheckpointStateReader.firstMoment, shape: [m.count], values: UnsafeBufferPointer(m.buffer), as: .F32)
        try writer.add(CheckpointStateReader.secondMoment, shape: [v.count], values: UnsafeBufferPointer(v.buffer), as: .F32)
        try writer.write(to: folder.appendingPathComponent("optimizer.safetensors"))
    }
}
