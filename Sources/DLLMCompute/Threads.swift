import RealModule
import CBLAS
import Dispatch
import Foundation
import Synchronization

/// How many cores the compute core uses, for its own loops and for OpenBLAS.
///
/// Read once from `DLLM_NUM_THREADS`, else `OMP_NUM_THREADS` (what the launcher sets
/// so ranks × threads never oversubscribe a node), else the number of active cores.
public enum ComputeThreads {
    /// An `Atomic` so `set` from one thread and a kernel's read on another never race; the
    /// read is a relaxed load (a plain load on x86), once per parallel region.
    @usableFromInline static let configured = Atomic<Int>({
        let env = ProcessInfo.processInfo.environment
        for key in ["DLLM_NUM_THREADS", "OMP_NUM_THREADS"] {
            if let value = env[key], let n = Int(value), n > 0 { return n }
        }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }())

    @inlinable public static var count: Int { configured.load(ordering: .relaxed) }

    /// Sets the thread count for both the Swift loops and OpenBLAS.
    public static func set(_ n: Int) {
        precondition(n > 0, "thread count must be positive")
        configured.store(n, ordering: .relaxed)
        openblas_set_num_threads(Int32(n))
    }

    /// Applies the configured count to OpenBLAS (call once at start-up).
    public static func configureBLAS() { openblas_set_num_threads(Int32(count)) }
}

/// Runs `body(range)` over `0..<count` split into contiguous chunks, one per thread.
/// Work below `minimumPerThread` items runs inline: a dispatch costs microseconds.
@inlinable
public func parallelChunks(_ count: Int, minimumPerThread: Int = 1, _ body: (Range<Int>) -> Void) {
    parallelChunks(count, minimumPerThread: minimumPerThread) { (_: Int, range: Range<Int>) in body(range) }
}

/// As `parallelChunks`, also passing the chunk's index (< `ComputeThreads.count`),
/// so each chunk can use its own slice of a scratch buffer.
@inlinable
public func parallelChunks(_ count: Int, minimumPerThread: Int = 1, _ body: (Int, Range<Int>) -> Void) {
    if count <= 0 { return }
    let threads = min(ComputeThreads.count, max(1, count / max(1, minimumPerThread)))
    if threads <= 1 { body(0, 0..<count); return }
    let chunk = (count + threads - 1) / threads
    // `body` runs on several threads at once by this function's contract (each call gets its own
    // chunk, so callers write disjoint ranges), and `concurrentPerform` returns only after every
    // call ended, so `body` never outlives this frame. Requiring `@Sendable` instead would reject
    // every kernel (they capture buffer pointers, which are not `Sendable`).
    nonisolated(unsafe) let body = body
    DispatchQueue.concurrentPerform(iterations: threads) { t in
        let start = t * chunk
        let end = min(count, start + chunk)
        if start < end { body(t, start..<end) }
    }
}

/// Runs `body` with OpenBLAS limited to one thread, for regions that parallelise
/// over many small products themselves, then restores the configured count.
@inlinable
public func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
    if ComputeThreads.count == 1 { return try body() }
    openblas_set_num_threads(1)
    defer { openblas_set_num_threads(Int32(ComputeThreads.count)) }
    return try body()
}
