import DLLMCompute
@testable import DLLMModels
import Dispatch
import Synchronization
import XCTest

/// `parallelRows` on the spinning pool (chunks claimed from one atomic ticket) and its
/// `concurrentPerform` fallback: every index exactly once, chunk bounds on the granule, and
/// concurrent or nested callers served.
final class SpinningThreadPoolTests: XCTestCase {
    /// Counts how often each index was visited and checks each chunk's bounds.
    final class Visits: @unchecked Sendable {
        let counts: UnsafeMutablePointer<Atomic<Int>>
        let n: Int
        let badBounds = Atomic<Int>(0)
        init(_ n: Int) {
            self.n = n
            counts = .allocate(capacity: max(n, 1))
            for i in 0..<max(n, 1) { (counts + i).initialize(to: Atomic(0)) }
        }
        deinit { counts.deallocate() }
        func visit(_ range: Range<Int>, granule: Int) {
            if range.lowerBound % granule != 0 || (range.upperBound % granule != 0 && range.upperBound != n) { badBounds.add(1, ordering: .relaxed) }
            for i in range { counts[i].add(1, ordering: .relaxed) }
        }
        var exactlyOnce: Bool { (0..<n).allSatisfy { counts[$0].load(ordering: .relaxed) == 1 } }
    }

    private var savedThreads = 1
    private var savedThreading = QuantizedThreading.current

    override func setUp() {
        savedThreads = ComputeThreads.count
        savedThreading = QuantizedThreading.current
    }

    override func tearDown() {
        ComputeThreads.set(savedThreads)
        QuantizedThreading.current = savedThreading
    }

    func testEveryIndexOnceOnBothPaths() {
        for threading in QuantizedThreading.allCases {
            QuantizedThreading.current = threading
            for threads in [1, 2, 3] {
                ComputeThreads.set(threads)
                for (count, minimum, granule) in [(0, 1, 1), (1, 1, 1), (2, 1, 1), (7, 1, 1), (960, 64, 4), (577, 64, 4), (49152, 64, 4), (130, 1, 4)] {
                    let visits = Visits(count)
                    parallelRows(count, minimumPerThread: minimum, granule: granule) { visits.visit($0, granule: granule) }
                    XCTAssertTrue(visits.exactlyOnce, "\(threading) \(threads) threads, count \(count)")
                    XCTAssertEqual(visits.badBounds.load(ordering: .relaxed), 0, "\(threading) \(threads) threads, count \(count): chunk off the granule")
                }
            }
        }
    }

    func testConcurrentAndNestedCallers() {
        ComputeThreads.set(2)
        QuantizedThreading.current = .spin
        let outer = 4, inner = 1000
        let all = Visits(outer * inner)
        // Four callers at once: one holds the pool, the others take the fallback; each also nests a region.
        DispatchQueue.concurrentPerform(iterations: outer) { o in
            for _ in 0..<20 {
                let local = Visits(inner)
                parallelRows(inner, minimumPerThread: 16) { range in
                    parallelRows(range.count, minimumPerThread: 8, granule: 1) { sub in
                        local.visit((range.lowerBound + sub.lowerBound)..<(range.lowerBound + sub.upperBound), granule: 1)
                    }
                }
                XCTAssertTrue(local.exactlyOnce)
            }
            all.visit((o * inner)..<((o + 1) * inner), granule: 1)
        }
        XCTAssertTrue(all.exactlyOnce)
    }
}
