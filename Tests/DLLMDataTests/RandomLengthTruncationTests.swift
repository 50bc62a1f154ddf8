import DLLMData
import XCTest

final class RandomLengthTruncationTests: XCTestCase {
    func testSameKeySameDecisionAndDifferentSeedsDiffer() {
        let a = RandomLengthTruncation(ratio: 0.3, seed: 7)
        let b = RandomLengthTruncation(ratio: 0.3, seed: 7)
        let c = RandomLengthTruncation(ratio: 0.3, seed: 8)
        var same = 0
        var differ = 0
        for step in 0..<200 {
            let x = a.length(forBatchLength: 64, epoch: 1, step: step, microStep: 0)
            XCTAssertEqual(x, b.length(forBatchLength: 64, epoch: 1, step: step, microStep: 0))
            if x == c.length(forBatchLength: 64, epoch: 1, step: step, microStep: 0) { same += 1 } else { differ += 1 }
        }
        XCTAssertGreaterThan(differ, 20)
    }

    func testFrequencyFollowsRatioAndLengthsStayInRange() {
        let truncation = RandomLengthTruncation(ratio: 0.01, seed: 1)
        var cut = 0
        var lengths = Set<Int>()
        for step in 0..<20_000 {
            if let l = truncation.length(forBatchLength: 16, epoch: 0, step: step, microStep: 0) {
                cut += 1
                XCTAssert((1...16).contains(l))
                lengths.insert(l)
            }
        }
        XCTAssert((120...290).contains(cut), "\(cut) truncated batches out of 20000 at ratio 0.01")
        XCTAssertGreaterThan(lengths.count, 10)
        XCTAssertNil(RandomLengthTruncation(ratio: 0, seed: 1).length(forBatchLength: 16, epoch: 0, step: 0, microStep: 0))
        XCTAssertNotNil(RandomLengthTruncation(ratio: 1, seed: 1).length(forBatchLength: 16, epoch: 0, step: 0, microStep: 0))
    }

    func testApplyCutsEveryRowAndLabel() {
        let batch = BatchCollator.pretraining(padTokenID: 0).collate(sequences: [[1, 2, 3, 4], [5, 6, 7, 8]])
        let truncation = RandomLengthTruncation(ratio: 1, seed: 3)
        let l = truncation.length(forBatchLength: 4, epoch: 0, step: 5, microStep: 1)!
        let out = truncation.apply(batch, epoch: 0, step: 5, microStep: 1)
        XCTAssertEqual(out.length, l)
        XCTAssertEqual(Array(out.inputRow(1)), Array([5, 6, 7, 8].prefix(l)))
        XCTAssertEqual(out.labels.count, 2 * l)
        XCTAssertEqual(batch.truncated(to: 2).inputIDs, [1, 2, 5, 6])
    }
}
