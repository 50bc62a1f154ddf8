import DLLMCompute
import DLLMJSON
import DLLMRandom
import Foundation

/// Fixed-length sequences held in memory, served as micro-batches in a seeded
/// per-epoch shuffle; its position is (epoch, next micro-batch). Used by tests and
/// benchmarks; real runs read token shards through `DLLMData`.
public final class InMemoryDataSource: TrainingDataSource {
    let sequences: [[Int32]]
    let labels: [[Int32]]
    let batchSize: Int
    let seed: UInt64
    var epochIndex = 0
    var cursor = 0
    var order: [Int] = []

    struct Position: Codable { var epoch: Int; var cursor: Int }

    public init(sequences: [[Int32]], labels: [[Int32]]? = nil, batchSize: Int, seed: UInt64) {
        precondition(!sequences.isEmpty && sequences.allSatisfy { $0.count == sequences[0].count }, "equal-length sequences")
        self.sequences = sequences
        self.labels = labels ?? sequences
        self.batchSize = batchSize
        self.seed = seed
        order = shuffled(epoch: 0)
    }

    func shuffled(epoch: Int) -> [Int] {
        var rng = SeededGenerator(seed: seed, stream: UInt64(epoch))
        return Array(0..<sequences.count).shuffled(using: &rng)
    }

    public var microBatchesPerEpoch: Int { sequences.count / batchSize }
    public var epoch: Double { Double(epochIndex) + Double(cursor) / Double(max(1, microBatchesPerEpoch)) }

    public func nextMicroBatch() throws -> CleanBatch {
        if cursor >= microBatchesPerEpoch {
            epochIndex += 1
            cursor = 0
            order = shuffled(epoch: epochIndex)
        }
        let rows = order[(cursor * batchSize)..<((cursor + 1) * batchSize)]
        let T = sequences[0].count
        let globalBase = (epochIndex * microBatchesPerEpoch + cursor) * batchSize
        cursor += 1
        return CleanBatch(B: batchSize, T: T, inputIDs: rows.flatMap { sequences[$0] }, labels: rows.flatMap { labels[$0] },
                          sampleIndices: Array(globalBase..<(globalBase + batchSize)))
    }

    public func position() throws -> Data { Data(try JSONValueEncoder().bytes(Position(epoch: epochIndex, cursor: cursor))) }

    public func restore(_ data: Data) throws {
        let p = try JSONValueDecoder().decode(Position.self, fromJSON: data)
        epochIndex = p.epoch
        cursor = p.cursor
        order = shuffled(epoch: epochIndex)
    }
}
