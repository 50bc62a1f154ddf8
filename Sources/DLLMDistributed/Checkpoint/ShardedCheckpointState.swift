import DLLMCheckpoint
import DLLMCompute
import DLLMJSON
import DLLMModels
import Foundation

/// How the data-parallel strategies save and resume: every rank writes its own
/// shard (its chunks of the AdamW moments and, for FSDP, of the parameters) as
/// `shard-RRRRR-of-WWWWW.safetensors`, streamed from its own buffers; rank 0 writes
/// `sharding.json`, `config.json` and, where parameters are replicated (DDP, ZeRO-1/2)
/// or a consolidated copy is asked for, `model.safetensors`, streamed tensor by tensor
/// (`StreamedModelSave`: FSDP's parameters reach it a window at a time, so no rank
/// gathers the whole model). Resuming reads each rank's chunks for its own
/// shard map, so a checkpoint resumes at any world size and under any strategy.
public enum ShardedCheckpointState {
    static func save(core: DataParallelCore, to folder: URL, modelConfig: [String: Any], consolidated: Bool) throws {
        let comm = core.comm, map = core.map, model = core.model
        try writeShard(core: core, to: folder.appendingPathComponent(ShardingMetadata.shardName(rank: comm.rank, worldSize: comm.worldSize)))
        // A whole `model.safetensors` where parameters are replicated, or (FSDP) when a
        // consolidated copy is asked for: streamed to rank 0, never gathered whole.
        let writesModel = core.paramShard == nil || consolidated
        if writesModel {
            try StreamedModelSave.write(model: model, config: modelConfig, shard: core.paramShard.map { ($0, map) }, comm: comm, to: folder)
        }
        guard comm.rank == 0 else { return }
        let meta = ShardingMetadata(stage: core.plan.stage, worldSize: comm.worldSize, shardMap: map,
                                    tensors: model.layout.slots.map { .init(name: $0.name, shape: $0.shape, offset: $0.offset) },
                                    parameterCount: model.parameterCount)
        let metaText = try JSONValueEncoder().bytes(meta, style: .indented(2), sortedKeys: true)
        try AtomicFile.write(Data(metaText), to: folder.appendingPathComponent(ShardingMetadata.fileName))
        if !writesModel {
            let configURL = folder.appendingPathComponent("config.json")
            try AtomicFile.write(try ConfigJSON.text(modelConfig, path: configURL.path), to: configURL)
        }
    }

    /// This rank's `shard-RRRRR-of-WWWWW.safetensors`, streamed from the buffers it
    /// trains with (no copy): its chunks of `exp_avg` and `exp_avg_sq` (cut from the full
    /// moments for DDP) and, for FSDP, of the parameters, each (shardCount) with padding.
    static func writeShard(core: DataParallelCore, to url: URL) throws {
        let map = core.map, rank = core.comm.rank
        var sources = [(CheckpointStateReader.firstMoment, core.m), (CheckpointStateReader.secondMoment, core.v)]
        if let shard = core.paramShard { sources.append((CheckpointStateReader.parameters, shard)) }
        let writer = try SafeTensorsStreamWriter(
            tensors: sources.map { .init(name: $0.0, dtype: .F32, shape: [map.shardCount]) },
            metadata: ["format": "dllm-shard", "rank": "\(rank)", "world_size": "\(core.comm.worldSize)"])
        try writer.write(to: url) { index, sink in
            let (name, buffer) = sources[index]
            guard core.momentsAreFull && name != CheckpointStateReader.parameters else {
                return try sink.append(UnsafeBufferPointer(buffer.buffer))
            }
            for seg in map.segments {
                let owned = seg.owned(by: rank)
                try sink.append(UnsafeBufferPointer(start: buffer.pointer + owned.lowerBound, count: owned.count))
                try sink.appendZeros(seg.chunk - owned.count)
            }
        }
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

    /// A single process's `optimizer.safetensors`: the full moments, streamed from `m` and `v`.
    public static func writeFullMoments(m: Buffer<Float>, v: Buffer<Float>, to folder: URL) throws {
        let moments = [m, v]
        try writeFullMoments(count: m.count, to: folder) { index, sink in try sink.append(UnsafeBufferPointer(moments[index].buffer)) }
    }

    /// `optimizer.safetensors` holding `exp_avg` and `exp_avg_sq` of `count` values each,
    /// whose values `body(0 or 1, sink)` appends.
    static func writeFullMoments(count: Int, to folder: URL, _ body: (Int, inout TensorValueSink) throws -> Void) throws {
        let names = [CheckpointStateReader.firstMoment, CheckpointStateReader.secondMoment]
        let writer = try SafeTensorsStreamWriter(tensors: names.map { .init(name: $0, dtype: .F32, shape: [count]) },
                                                 metadata: ["format": "dllm-adamw"])
        try writer.write(to: folder.appendingPathComponent("optimizer.safetensors"), values: body)
    }
}
