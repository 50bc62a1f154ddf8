import DLLMTraining
import Dispatch
import Synchronization
import XCTest

/// A stop asked for many times, from many threads at once, is made exactly once.
final class StopRequestTests: XCTestCase {
    private final class Count: Sendable { let value = Atomic<Int>(0) }

    func testOnlyTheFirstRequestMakesTheStop() {
        let stop = StopRequest()
        XCTAssertFalse(stop.isRequested)
        let made = Count()
        DispatchQueue.concurrentPerform(iterations: 64) { _ in
            if stop.request() { made.value.add(1, ordering: .relaxed) }
        }
        XCTAssertEqual(made.value.load(ordering: .relaxed), 1)
        XCTAssertTrue(stop.isRequested)
        XCTAssertFalse(stop.request())
    }
}
