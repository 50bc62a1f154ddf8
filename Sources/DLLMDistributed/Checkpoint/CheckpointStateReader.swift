import DLLMCheckpoint
import DLLMCompute
import DLLMModels
import Foundation

/// A checkpoint folder's weights and AdamW moments, read slice by slice so each
/// rank touches only what it holds: a flat range of a tensor is assembled from the
/// shard files that cover it (files are memory-mapped; only the pages read count).
///
/// Sources, by what the folder holds: `sharding.json` and one shard per rank (a
/// multi-rank checkpoint, any strategy, any world size), else `optimizer.safetensors`
/// (a single-process checkpoint); parameters come from the shards' `params` (FSDP)
/// or from `model.safetensors`.
public struct CheckpointStateReader {
    public static let firstMoment = "exp_avg", secondMoment = "exp_avg_sq", parameters = "params"

    public let folder: URL
    public let parameterCount: Int
    public let sharding: ShardingMetadata?
    /// One per source rank when sharded.
    let shards: [SafeTensorsFile]
    /// `optimizer.safetensors` of a single-process (or consolidated) checkpoint.
    let fullOptimizer: SafeTensorsFile?

    public init(folder: URL, parameterCount: Int) throws {
        self.folder = folder
        self.parameterCount = parameterCount
        let metaURL = folder.appendingPathComponent(ShardingMetadata.fileName)
        if let data = FileManager.default.contents(atPath: metaURL.path) {
            let meta: ShardingMetadata
            do { meta = try JSONDecoder().decode(ShardingMetadata.self, from: data) } catch {
                throw CheckpointStateError.badCheckpoint(path: metaURL.path, reason: "unreadable sharding metadata: \(error)")
            }
            try meta.validate(path: metaURL.path, parameterCount: parameterCount)
            sharding = meta
            shards = try (0..<meta.worldSize).map { r in
                let url = folder.appendingPathComponent(ShardingMetadata.shardName(rank: r, worldSize: meta.worldSize))
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw CheckpointStateError.badCheckpoint(path: folder.path, reason: "missing \(url.lastPathComponent) (of \(meta.worldSize) shards)")
                }
                return try SafeTensorsFile(contentsOf: url)
            }
            fullOptimizer = nil
        } else {
            sharding = nil
            shards = []
            let url = folder.appendingPathComponent("optimizer.safetensors")
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw CheckpointStateError.badCheckpoint(path: folder.path, reason: "no sharding.json and no optimizer.safetensors")
            }
            let file = try SafeTensorsFile(contentsOf: url)
            for name in [Self.firstMoment, Self.secondMoment] where file.info(name)?.elementCount != parameterCount {
                throw CheckpointStateError.badCheckpoint(path: url.path, reason: "\(name) does not hold \(parameterCount) values")
            }
            fullOptimizer = file
        }
    }

    /// True when the folder holds `model.safetensors` (or its sharded index).
    public var hasModelWeights: Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: folder.appendingPathComponent(SafeTensorsCheckpoint.singleFileName).path)
            || fm.fileExists(atPath: folder.appendingPathComponent(SafeTensorsCheckpoint.indexFileName).path)
    }

    /// True when the shards hold the parameters (an FSDP checkpoint).
    public var hasParameterShards: Bool { sharding?.stage == .fsdp }

    /// Elements `range` of the flat tensor (`exp_avg`, `exp_avg_sq` or `params`) into
    /// `destination[0..<range.count]`; elements no source covers are left alone.
    public func read(_ tensor: String, flat range: Range<Int>, into destination: UnsafeMutablePointer<Float>) throws {
        guard !range.isEmpty else { return }
        guard let meta = sharding else {
            guard let file = fullOptimizer else { return }
            let target = UnsafeMutableBufferPointer(start: destination, count: range.count)
            return try file.read(tensor, elements: range, into: target)
        }
        for seg in meta.shardMap.segments where seg.range.overlaps(range) {
            for r in 0..<meta.worldSize {
                let owned = seg.owned(by: r)
                let lo = max(owned.lowerBound, range.lowerBound), hi = min(owned.upperBound, range.upperBound)
                guard lo < hi else { continue }
                let start = seg.shardOffset + (lo - owned.lowerBound)
                let target = UnsafeMutableBufferPointer(start: destination + (lo - range.lowerBound), count: hi - lo)
                try shards[r].read(tensor, elements: start..<(start + hi - lo), into: target)
            }
        }
    }

    /// This rank's chunks of `map`, concatenated in segment order, into a shard-layout
    /// buffer of `map.shardCount` (padding left alone).
    public func readShard(_ tensor: String, map: ShardMap, rank: Int, into destination: UnsafeMutablePointer<Float>) throws {
        for seg in map.segments {
            try read(tensor, flat: seg.owned(by: rank), into: destination + seg.shardOffset)
        }
    }

    /// Full parameters into `model.parameters`: from the parameter shards when there
    /// are some (they are the newest), else from `model.safetensors`.
    public func loadReplicatedParameters(into model: any LanguageModel<Float>) throws {
        if hasParameterShards {
            try read(Self.parameters, flat: 0..<model.parameterCount, into: model.parameters.pointer)
        } else if hasModelWeights {
            try ModelFolder.loadWeights(into: model, from: try SafeTensorsCheckpoint(directory: folder), path: folder.path)
        } else if let adapters = model as? LoRAModel<Float>, LoRAAdapterFolder.isAdapter(folder) {
            // A LoRA run's checkpoint: the trained parameters are PEFT's adapter_model.safetensors.
            let url = folder.appendingPathComponent(LoRAAdapterFolder.weightsFileName)
            try LoRAAdapterFolder.read(try SafeTensorsFile(contentsOf: url), into: adapters.adapters, path: url.path)
        } else {
            throw CheckpointStateError.badCheckpoint(path: folder.path, reason: "no model.safetensors and no parameter shards")
        }
    }

    /// `optimizer.safetensors` with the full moments, assembled from the shards (or the
    /// existing file) and streamed a window of 4M values at a time (`dllm checkpoint consolidate`).
    public func writeFullMoments(to folder: URL) throws {
        let window = Buffer<Float>(count: min(max(parameterCount, 1), 1 << 22))
        try ShardedCheckpointState.writeFullMoments(count: parameterCount, to: folder) { index, sink in
            let name = index == 0 ? Self.firstMoment : Self.secondMoment
            for start in stride(from: 0, to: parameterCount, by: window.count) {
                let range = start..<min(parameterCount, start + window.count)
                window.zero()
                try read(name, flat: range, into: window.pointer)
                try sink.append(UnsafeBufferPointer(start: window.pointer, count: range.count))
            }
        }
    }
}
