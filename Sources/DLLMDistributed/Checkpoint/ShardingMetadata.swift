import Foundation

/// `sharding.json` of a multi-rank checkpoint: the strategy, the world size, every
/// segment's range and chunk length, and every tensor's name, shape and flat offset.
/// Each rank's chunks live in `shard-RRRRR-of-WWWWW.safetensors`, concatenated in
/// segment order (padding included, as zeros).
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

    public static let fileName = "sharding.json"

    public static func shardName(rank: Int, worldSize: Int) -> String {
        String(format: "shard-%05d-of-%05d.safetensors", rank, worldSize)
    }

    /// Checks what the readers index with, so a damaged file cannot send them out of bounds.
    func validate(path: String, parameterCount expected: Int) throws {
        func bad(_ reason: String) -> CheckpointStateError { .badCheckpoint(path: path, reason: reason) }
        guard parameterCount == expected else {
            throw bad("checkpoint has \(parameterCount) parameters, the model \(expected)")
        }
        guard worldSize >= 1, shardMap.worldSize == worldSize, shardMap.shardCount >= 0 else {
            throw bad("world size \(worldSize) (shard map: \(shardMap.worldSize)) is not a positive rank count")
        }
        for (i, seg) in shardMap.segments.enumerated() {
            let padded = seg.chunk.multipliedReportingOverflow(by: worldSize)
            guard seg.range.lowerBound >= 0, seg.range.upperBound <= parameterCount, seg.chunk >= 0, seg.chunk <= parameterCount,
                  !padded.overflow, padded.partialValue >= seg.range.count,
                  seg.shardOffset >= 0, seg.shardOffset <= shardMap.shardCount - seg.chunk else {
                throw bad("segment \(i) (\(seg.range), chunk \(seg.chunk), offset \(seg.shardOffset)) does not fit \(parameterCount) parameters")
            }
        }
    }
}

/// A checkpoint that cannot be resumed from.
public enum CheckpointStateError: Error, CustomStringConvertible {
    case badCheckpoint(path: String, reason: String)

    public var description: String {
        switch self {
        case let .badCheckpoint(path, reason): return "\(path): cannot resume: \(reason)"
        }
    }
}
