import DLLMCheckpoint
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

    /// The one check of a sharded checkpoint's sizes, before anything is read: the parameter
    /// count is the model's, the segments tile `0..<parameterCount`, and each
    /// segment's chunk, shard offset and the shard length are exactly what ``ShardMap``
    /// computes from those ranges (so a damaged or lying `sharding.json` cannot send the
    /// readers out of bounds or make them read another segment's values in silence).
    func validate(path: String, parameterCount expected: Int) throws {
        func bad(_ reason: String) -> CheckpointStateError { .badCheckpoint(path: path, reason: reason) }
        guard parameterCount == expected else {
            throw bad("checkpoint has \(parameterCount) parameters, the model \(expected)")
        }
        guard worldSize >= 1, shardMap.worldSize == worldSize else {
            throw bad("world size \(worldSize) (shard map: \(shardMap.worldSize)) is not a positive rank count")
        }
        // In buffer order (the gradient buckets are stored last-first), without gaps or overlaps.
        var next = 0
        for (i, seg) in shardMap.segments.enumerated().sorted(by: { $0.element.range.lowerBound < $1.element.range.lowerBound }) {
            guard seg.range.lowerBound == next, seg.range.upperBound <= parameterCount, !seg.range.isEmpty else {
                throw bad("segment \(i) (\(seg.range)) leaves a gap or overlaps another (at \(next) of \(parameterCount) parameters)")
            }
            next = seg.range.upperBound
        }
        guard next == parameterCount else {
            throw bad("the segments cover \(next) of \(parameterCount) parameters")
        }
        let expectedMap = ShardMap(ranges: shardMap.segments.map(\.range), worldSize: worldSize)
        for (i, (seg, want)) in zip(shardMap.segments, expectedMap.segments).enumerated() where seg != want {
            throw bad("segment \(i) (\(seg.range)): chunk \(seg.chunk) at shard offset \(seg.shardOffset), "
                      + "where \(worldSize) rank(s) give chunk \(want.chunk) at \(want.shardOffset)")
        }
        guard shardMap.shardCount == expectedMap.shardCount else {
            throw bad("shard length \(shardMap.shardCount), where the segments give \(expectedMap.shardCount)")
        }
    }

    /// Each of `tensors` that a shard file holds must hold one value per shard position.
    func validate(shard file: SafeTensorsFile, tensors: [String], path: String) throws {
        try Self.requireElementCount(shardMap.shardCount, of: tensors, in: file, path: path)
    }

    /// `tensors` (those `file` has) hold exactly `count` values: the size check shared by
    /// the shard files and a single-process `optimizer.safetensors`.
    static func requireElementCount(_ count: Int, of tensors: [String], in file: SafeTensorsFile, path: String,
                                    required: Bool = false) throws {
        for name in tensors {
            guard let info = file.info(name) else {
                if required { throw CheckpointStateError.badCheckpoint(path: path, reason: "no tensor \(name)") }
                continue
            }
            guard info.elementCount == count else {
                throw CheckpointStateError.badCheckpoint(path: path, reason: "\(name) holds \(info.elementCount) values, not \(count)")
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
