import DLLMData
import Foundation
import XCTest

final class DistributedBatchSamplerTests: XCTestCase {
    /// Per-device batch for a world size with the global batch fixed at 12 (accumulation 1).
    func plan(world: Int, seed: UInt64 = 5, dropLast: Bool = false) -> BatchPlan {
        BatchPlan(perDeviceBatchSize: 12 / world, worldSize: world, gradientAccumulationSteps: 1, seed: seed, dropLast: dropLast)
    }

    func testRanksAreDisjointAndCompleteForWorldSizes1To4() throws {
        let count = 100
        for world in 1...4 {
            for accumulation in [1, 2] {
                let p = BatchPlan(perDeviceBatchSize: 3, worldSize: world, gradientAccumulationSteps: accumulation, seed: 9, dropLast: true)
                var samplers = try (0..<world).map { try DistributedBatchSampler(datasetCount: count, plan: p, rank: $0) }
                var seenInEpoch = Set<Int>()
                for step in 0..<samplers[0].stepsPerEpoch {
                    var union: [Int] = []
                    for r in 0..<world {
                        let out = samplers[r].next()
                        XCTAssertEqual(out.step, step)
                        XCTAssertEqual(out.microBatches.count, accumulation)
                        XCTAssert(out.microBatches.allSatisfy { $0.count == 3 })
                        union += out.microBatches.flatMap { $0 }
                    }
                    XCTAssertEqual(union.count, Set(union).count, "world \(world): ranks overlap at step \(step)")
                    XCTAssertEqual(Set(union), Set(samplers[0].globalBatch(epoch: 0, step: step)), "world \(world): incomplete")
                    XCTAssert(seenInEpoch.isDisjoint(with: union))
                    seenInEpoch.formUnion(union)
                }
                XCTAssertEqual(seenInEpoch.count, (count / p.globalBatchSize) * p.globalBatchSize)
            }
        }
    }

    func testSameGlobalOrderRegardlessOfWorldSize() throws {
        var reference: [[Int]] = []
        var single = try DistributedBatchSampler(datasetCount: 50, plan: plan(world: 1), rank: 0)
        for _ in 0..<9 { reference.append(single.next().microBatches[0]) }  // crosses into epoch 1
        for world in [2, 3, 4] {
            var samplers = try (0..<world).map { try DistributedBatchSampler(datasetCount: 50, plan: plan(world: world), rank: $0) }
            for step in 0..<9 {
                let global = (0..<world).flatMap { samplers[$0].next().microBatches[0] }
                XCTAssertEqual(global, reference[step], "world \(world) step \(step)")
            }
        }
    }

    func testShuffleDependsOnSeedAndEpochAndLastBatchWraps() throws {
        let s = try DistributedBatchSampler(datasetCount: 30, plan: plan(world: 1), rank: 0)
        XCTAssertEqual(s.globalOrder(epoch: 0).sorted(), Array(0..<30))
        XCTAssertNotEqual(s.globalOrder(epoch: 0), s.globalOrder(epoch: 1))
        XCTAssertNotEqual(s.globalOrder(epoch: 0), Array(0..<30))
        let other = try DistributedBatchSampler(datasetCount: 30, plan: plan(world: 1, seed: 6), rank: 0)
        XCTAssertNotEqual(s.globalOrder(epoch: 0), other.globalOrder(epoch: 0))
        var wrap = s
        XCTAssertEqual(wrap.stepsPerEpoch, 3)  // 30 samples, batches of 12, last completed from the start
        let order = s.globalOrder(epoch: 0)
        XCTAssertEqual(wrap.globalBatch(epoch: 0, step: 2), Array(order[24..<30]) + Array(order[0..<6]))
        let unshuffled = try DistributedBatchSampler(
            datasetCount: 5, plan: BatchPlan(perDeviceBatchSize: 1, shuffle: false), rank: 0)
        XCTAssertEqual(unshuffled.globalOrder(epoch: 3), [0, 1, 2, 3, 4])
    }

    func testPositionSaveAndRestoreContinuesIdentically() throws {
        let p = BatchPlan(perDeviceBatchSize: 2, worldSize: 2, gradientAccumulationSteps: 2, seed: 11)
        var original = try DistributedBatchSampler(datasetCount: 37, plan: p, rank: 1)
        for _ in 0..<7 { _ = original.next() }
        let saved = try JSONEncoder().encode(original.position)
        let position = try JSONDecoder().decode(LoaderPosition.self, from: saved)
        XCTAssertEqual(position.epoch, 1)
        XCTAssertEqual(position.globalStep, 7)
        var resumed = try DistributedBatchSampler(datasetCount: 37, plan: p, rank: 1)
        try resumed.restore(position)
        for _ in 0..<12 {
            let a = original.next()
            let b = resumed.next()
            XCTAssertEqual(a.epoch, b.epoch)
            XCTAssertEqual(a.step, b.step)
            XCTAssertEqual(a.microBatches, b.microBatches)
        }
        var wrongData = try DistributedBatchSampler(datasetCount: 36, plan: p, rank: 1)
        assertThrows(["37 samples", "36"]) { try wrongData.restore(position) }
        var wrongSeed = try DistributedBatchSampler(datasetCount: 37, plan: BatchPlan(perDeviceBatchSize: 2, worldSize: 2, gradientAccumulationSteps: 2, seed: 12), rank: 1)
        assertThrows(["seed 11"]) { try wrongSeed.restore(position) }
        // Same global batch with another world size is accepted.
        var regrouped = try DistributedBatchSampler(datasetCount: 37, plan: BatchPlan(perDeviceBatchSize: 4, worldSize: 1, gradientAccumulationSteps: 2, seed: 11), rank: 0)
        XCTAssertNoThrow(try regrouped.restore(position))
    }

    func testInvalidPlans() {
        assertThrows(["rank 2 with world size 2"]) { _ = try DistributedBatchSampler(datasetCount: 10, plan: BatchPlan(perDeviceBatchSize: 1, worldSize: 2), rank: 2) }
        assertThrows(["per-device batch 0"]) { _ = try DistributedBatchSampler(datasetCount: 10, plan: BatchPlan(perDeviceBatchSize: 0), rank: 0) }
        assertThrows(["no samples"]) { _ = try DistributedBatchSampler(datasetCount: 0, plan: BatchPlan(perDeviceBatchSize: 1), rank: 0) }
        assertThrows(["cannot fill one global batch"]) {
            _ = try DistributedBatchSampler(datasetCount: 3, plan: BatchPlan(perDeviceBatchSize: 4, dropLast: true), rank: 0)
        }
    }

    func testTokenBatchLoaderCollatesAndTruncatesDeterministically() throws {
        let sequences = (0..<20).map { i in (0..<8).map { Int32(i * 10 + $0) } }
        let p = BatchPlan(perDeviceBatchSize: 2, worldSize: 2, gradientAccumulationSteps: 1, seed: 3)
        let truncation = RandomLengthTruncation(ratio: 0.5, seed: 3)
        var rank0 = try TokenBatchLoader(source: SequenceSource(sequences), plan: p, rank: 0,
                                         collator: .pretraining(padTokenID: 0), randomTruncation: truncation)
        var rank1 = try TokenBatchLoader(source: SequenceSource(sequences), plan: p, rank: 1,
                                         collator: .pretraining(padTokenID: 0), randomTruncation: truncation)
        var sawCut = false
        for _ in 0..<10 {
            let a = try rank0.next()
            let b = try rank1.next()
            XCTAssertEqual(a.microBatches[0].length, b.microBatches[0].length)  // ranks agree on the cut
            XCTAssertEqual(a.microBatches[0].rows, 2)
            if a.microBatches[0].length < 8 { sawCut = true }
            let firstIndex = a.sampleIndices[0][0]
            XCTAssertEqual(Array(a.microBatches[0].inputRow(0)), Array(sequences[firstIndex].prefix(a.microBatches[0].length)))
        }
        XCTAssert(sawCut)
    }
}
