import DLLMSampling
import XCTest

/// LLaDA's transfer schedule and the selection rules.
final class ScheduleTests: XCTestCase {
    func testEvenSplitRemainderToFirstSteps() {
        XCTAssertEqual(numTransferTokens(maskCount: 12, steps: 5), [3, 3, 2, 2, 2])
        XCTAssertEqual(numTransferTokens(maskCount: 3, steps: 5), [1, 1, 1, 0, 0])
        XCTAssertEqual(numTransferTokens(maskCount: 32, steps: 32), [Int](repeating: 1, count: 32))
        XCTAssertEqual(numTransferTokens(maskCount: 0, steps: 2), [0, 0])
        for n in 0..<40 { for s in 1..<12 { XCTAssertEqual(numTransferTokens(maskCount: n, steps: s).reduce(0, +), n) } }
    }
}
