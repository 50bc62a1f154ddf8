import DLLMCompute
import Dispatch
import Foundation
import Synchronization

/// Persistent worker threads that wait for work by spinning, for the ~200 small matrix products of
/// one decoding step (ggml's thread pool does the same): waking a parked thread through
/// `DispatchQueue.concurrentPerform` costs microseconds per product. A worker that has found no work
/// for `parkAfterSeconds` parks on a semaphore, so an idle process does not burn a core.
// @unchecked Sendable: `job` is the one non-atomic mutable field; `run` sets it before bumping
// `generation` (sequentially consistent) and clears it only after every worker decremented
// `remaining` (release/acquire), so workers read it only while it is stable.
@available(macOS 15, *)
final class SpinningThreadPool: @unchecked Sendable {
    /// Workers besides the calling thread.
    let workers: Int
    private let generation = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    /// One flag per worker: parked on its semaphore (atomics cannot live in an array, so each has a box).
    private final class Flag: Sendable { let value = Atomic<Bool>(false) }
    private let parkedFlags: [Flag]
    private let wake: [DispatchSemaphore]
    private var job: ((Int) -> Void)?
    private let parkAfterSeconds = 0.002

    init(workers: Int) {
        self.workers = workers
        parkedFlags = (0..<workers).map { _ in Flag() }
        wake = (0..<workers).map { _ in DispatchSemaphore(value: 0) }
        for w in 0..<workers {
            let thread = Thread { [unowned self] in self.workerLoop(index: w) }
            thread.name = "dllm-spin-\(w + 1)"
            thread.start()
        }
    }

    /// Runs `body(t)` for t in 0 ..< workers + 1, t = 0 on the calling thread; returns when all are done.
    /// Not reentrant: one caller at a time.
    func run(_ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { escaping in
            job = escaping
            remaining.store(workers, ordering: .relaxed)
            generation.add(1, ordering: .sequentiallyConsistent)
            for w in 0..<workers where parkedFlags[w].value.exchange(false, ordering: .sequentiallyConsistent) { wake[w].signal() }
            escaping(0)
            var spins = 0
            while remaining.load(ordering: .acquiring) > 0 {
                spins += 1
                if spins & 255 == 0 { sched_yield() }  // an oversubscribed machine may have descheduled the worker
            }
            job = nil
        }
    }

    private func workerLoop(index w: Int) {
        // Generation 0 is the pool's state before any job, whenever this thread starts running (reading
        // the counter here could miss a job posted before the thread was scheduled).
        var seen = 0
        while true {
            var spins = 0
            var idleSince = 0.0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins & 255 == 0 { sched_yield() }
                if spins & 1023 == 0 {
                    let now = ProcessInfo.processInfo.systemUptime
                    if idleSince == 0 { idleSince = now } else if now - idleSince > parkAfterSeconds {
                        // Read-modify-write and sequentially consistent: the flag must be visible before
                        // the generation is re-read (a plain store could pass the load).
                        _ = parkedFlags[w].value.exchange(true, ordering: .sequentiallyConsistent)
                        if generation.load(ordering: .sequentiallyConsistent) != seen {
                            // Work arrived while parking: if the poster already took the flag, it signals; consume that.
                            if !parkedFlags[w].value.exchange(false, ordering: .sequentiallyConsistent) { wake[w].wait() }
                        } else {
                            wake[w].wait()
                        }
                        idleSince = 0
                    }
                }
            }
            seen = generation.load(ordering: .acquiring)
            job!(w + 1)
            remaining.subtract(1, ordering: .releasing)
        }
    }
}


/// How ``quantizedLinear`` spreads a product's rows over threads.
public enum QuantizedThreading: String, Sendable, CaseIterable {
    /// Persistent spinning workers.
    case spin
    /// `parallelChunks` (DispatchQueue.concurrentPerform), as the fp32 kernels (default: measured no slower).
    case dispatch

    /// `DLLM_QUANT_POOL` (spin or dispatch), else dispatch.
    // nonisolated(unsafe): set at start-up (`dllm bench`) before any product runs; read-only afterwards.
    nonisolated(unsafe) public static var current: QuantizedThreading =
        ProcessInfo.processInfo.environment["DLLM_QUANT_POOL"].flatMap(QuantizedThreading.init(rawValue:)) ?? .dispatch
}

// nonisolated(unsafe): used only by `parallelRows`, whose callers (one quantized forward at a time,
// as the pool itself requires) never run it on two threads at once.
@available(macOS 15, *)
nonisolated(unsafe) private var sharedPool: SpinningThreadPool?

/// `body(range)` over `0 ..< count` split into one contiguous chunk per compute thread (chunks of
/// the same size, a multiple of 4 rows so the four-row kernels rarely meet a remainder), on the
/// spinning pool or through `DispatchQueue.concurrentPerform`.
func parallelRows(_ count: Int, minimumPerThread: Int, _ body: (Range<Int>) -> Void) {
    let threads = min(ComputeThreads.count, max(1, count / max(1, minimumPerThread)))
    if threads <= 1 { if count > 0 { body(0..<count) }; return }
    let chunk = ((count + threads - 1) / threads + 3) / 4 * 4
    // Concurrent by contract (disjoint row ranges), and both paths return only after every
    // chunk ended, so `body` never outlives this call (as in `parallelChunks`).
    nonisolated(unsafe) let body = body
    @Sendable func run(_ t: Int) {
        let start = t * chunk, end = min(count, start + chunk)
        if start < end { body(start..<end) }
    }
    guard QuantizedThreading.current == .spin, #available(macOS 15, *) else {
        DispatchQueue.concurrentPerform(iterations: threads) { run($0) }
        return
    }
    if sharedPool == nil || sharedPool!.workers != ComputeThreads.count - 1 {
        sharedPool = SpinningThreadPool(workers: ComputeThreads.count - 1)
    }
    let pool = sharedPool!
    pool.run { t in if t < threads { run(t) } }  // fewer chunks than pool threads: the others idle
}
