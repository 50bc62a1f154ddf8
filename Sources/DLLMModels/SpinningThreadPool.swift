import DLLMCompute
import Dispatch
import Foundation
import Synchronization

/// Persistent worker threads that wait for work by spinning, for the ~150 small parallel regions of
/// one decoding step (ggml's thread pool does the same): waking a parked thread through
/// `DispatchQueue.concurrentPerform` costs microseconds per region, more on a virtual machine whose
/// idle vCPU has halted. A worker that has found no work for `parkAfterSeconds` parks on a
/// semaphore, so an idle process does not burn a core.
///
/// Work is a number of chunks that the calling thread and the workers claim one at a time from one
/// atomic ticket (generation, chunk count, next chunk). The caller never waits for a worker that has
/// not started: a worker descheduled by a loaded machine simply claims nothing, and the caller runs
/// every chunk itself; it waits only for chunks already claimed.
// @unchecked Sendable: `job` is the one non-atomic mutable field; `run` sets it before publishing the
// ticket (release) and clears it only after every chunk of that ticket finished (release/acquire); a
// worker reads it only after a successful claim on that ticket, so only while it is stable.
@available(macOS 15, *)
final class SpinningThreadPool: @unchecked Sendable {
    /// Workers besides the calling thread.
    let workers: Int
    /// Bits 40..< the generation, 20..<40 the chunk count, 0..<20 the next unclaimed chunk.
    private let ticket = Atomic<Int>(0)
    /// Chunks of the current generation that have finished.
    private let finished = Atomic<Int>(0)
    /// One flag per worker: parked on its semaphore (atomics cannot live in an array, so each has a box).
    private final class Flag: Sendable { let value = Atomic<Bool>(false) }
    private let parkedFlags: [Flag]
    private let wake: [DispatchSemaphore]
    private var job: ((Int) -> Void)?
    private let parkAfterSeconds = 0.002
    /// Largest chunk count of one run (the ticket's 20-bit field).
    static let maximumChunks = (1 << 20) - 1

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

    private static func generation(_ t: Int) -> Int { t >> 40 }

    /// Runs `body(c)` for every chunk c in 0 ..< chunks, each exactly once, on the calling thread and
    /// the workers; returns when all are done. Not reentrant: one caller at a time.
    func run(chunks: Int, _ body: (Int) -> Void) {
        precondition(chunks >= 0 && chunks <= Self.maximumChunks, "SpinningThreadPool: \(chunks) chunks")
        if chunks == 0 { return }
        withoutActuallyEscaping(body) { escaping in
            job = escaping
            finished.store(0, ordering: .relaxed)
            let generation = Self.generation(ticket.load(ordering: .relaxed)) + 1
            ticket.store(generation << 40 | chunks << 20, ordering: .sequentiallyConsistent)
            for w in 0..<workers where parkedFlags[w].value.exchange(false, ordering: .sequentiallyConsistent) { wake[w].signal() }
            claimChunks(generation: generation)
            var spins = 0
            while finished.load(ordering: .acquiring) < chunks {
                spins += 1
                if spins & 255 == 0 { sched_yield() }  // a claimed chunk's worker may have been descheduled
            }
            job = nil
        }
    }

    /// Claims and runs chunks of `generation` until none is left (or a newer generation was posted).
    private func claimChunks(generation: Int) {
        var t = ticket.load(ordering: .acquiring)
        while Self.generation(t) == generation {
            let next = t & 0xFFFFF, count = (t >> 20) & 0xFFFFF
            if next >= count { return }
            let (exchanged, original) = ticket.compareExchange(expected: t, desired: t + 1, ordering: .acquiringAndReleasing)
            if exchanged {
                job!(next)
                finished.add(1, ordering: .releasing)
                t = t + 1
            } else {
                t = original
            }
        }
    }

    private func workerLoop(index w: Int) {
        // Generation 0 is the pool's state before any job.
        var seen = 0
        while true {
            var spins = 0
            var idleSince = 0.0
            while Self.generation(ticket.load(ordering: .acquiring)) == seen {
                spins += 1
                if spins & 255 == 0 { sched_yield() }
                if spins & 1023 == 0 {
                    let now = ProcessInfo.processInfo.systemUptime
                    if idleSince == 0 { idleSince = now } else if now - idleSince > parkAfterSeconds {
                        // Read-modify-write and sequentially consistent: the flag must be visible before
                        // the ticket is re-read (a plain store could pass the load).
                        _ = parkedFlags[w].value.exchange(true, ordering: .sequentiallyConsistent)
                        if Self.generation(ticket.load(ordering: .sequentiallyConsistent)) != seen {
                            // Work arrived while parking: if the poster already took the flag, it signals; consume that.
                            if !parkedFlags[w].value.exchange(false, ordering: .sequentiallyConsistent) { wake[w].wait() }
                        } else {
                            wake[w].wait()
                        }
                        idleSince = 0
                    }
                }
            }
            seen = Self.generation(ticket.load(ordering: .acquiring))
            claimChunks(generation: seen)
        }
    }
}


/// How ``quantizedLinear`` and the decode attention spread their work over threads.
public enum QuantizedThreading: String, Sendable, CaseIterable {
    /// Persistent spinning workers claiming chunks (default).
    case spin
    /// `DispatchQueue.concurrentPerform`, as the fp32 kernels.
    case dispatch

    /// `DLLM_QUANT_POOL` (spin or dispatch), else spin.
    // nonisolated(unsafe): set at start-up (`dllm bench`) before any product runs; read-only afterwards.
    nonisolated(unsafe) public static var current: QuantizedThreading =
        ProcessInfo.processInfo.environment["DLLM_QUANT_POOL"].flatMap(QuantizedThreading.init(rawValue:)) ?? .spin
}

// nonisolated(unsafe): created by the first `parallelRows` that finds it nil while holding `poolBusy`,
// then only read; a thread that cannot take `poolBusy` never touches it.
@available(macOS 15, *)
nonisolated(unsafe) private var sharedPool: SpinningThreadPool?
/// Held while one thread runs work on `sharedPool` (the pool takes one caller at a time); a second
/// caller, or a nested region, falls back to `concurrentPerform`.
private let poolBusy = Atomic<Bool>(false)

/// Chunks per thread a region is cut into, so a late or descheduled thread leaves its share to the others.
let chunksPerThread = 4

/// `body(range)` over `0 ..< count` in contiguous chunks whose bounds are multiples of `granule`
/// (4 for the four-row kernels, so a chunk's rows are computed exactly as in one call over all rows)
/// and hold at least `minimumPerThread` items, run on the spinning pool (a few chunks per thread,
/// claimed dynamically) or through `DispatchQueue.concurrentPerform` (one chunk per thread).
func parallelRows(_ count: Int, minimumPerThread: Int, granule: Int = 4, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let threads = min(ComputeThreads.count, max(1, count / max(1, minimumPerThread)))
    if threads <= 1 { body(0..<count); return }
    // Concurrent by contract (disjoint row ranges), and both paths return only after every
    // chunk ended, so `body` never outlives this call (as in `parallelChunks`).
    nonisolated(unsafe) let body = body
    func chunkSize(_ pieces: Int) -> Int { ((count + pieces - 1) / pieces + granule - 1) / granule * granule }
    guard QuantizedThreading.current == .spin, #available(macOS 15, *),
          !poolBusy.exchange(true, ordering: .acquiring) else {
        let chunk = chunkSize(threads)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let start = t * chunk, end = min(count, start + chunk)
            if start < end { body(start..<end) }
        }
        return
    }
    defer { poolBusy.store(false, ordering: .releasing) }
    if sharedPool == nil || sharedPool!.workers != ComputeThreads.count - 1 {
        sharedPool = SpinningThreadPool(workers: ComputeThreads.count - 1)
    }
    let chunk = max(chunkSize(threads * chunksPerThread), min(count, (max(1, minimumPerThread) + granule - 1) / granule * granule))
    let chunks = (count + chunk - 1) / chunk
    sharedPool!.run(chunks: chunks) { c in body(c * chunk ..< min(count, (c + 1) * chunk)) }
}
