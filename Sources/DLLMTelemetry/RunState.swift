import Foundation

/// Everything known about one run from its events: the ranks and their sequence
/// gaps, the per-step aggregate rows, lifecycle events. Pure bookkeeping — files and
/// sockets belong to `CollectorCore`; `tail` uses the same type on a finished run's log.
public final class RunState {
    public let id: String
    public internal(set) var directory: URL?
    public private(set) var outputDir: String?
    /// From the start event; nil until one arrives.
    public private(set) var worldSize: Int?
    public private(set) var totalSteps: Int?
    public private(set) var ranks: [Int: RankProgress] = [:]
    /// Aggregate rows in the order they were completed (ascending steps, in practice).
    /// At most `rowLimit`: when full, the older half is thinned to every second row
    /// (the newest half stays whole), so a long run keeps its whole curve at a coarser
    /// resolution; the summary's figures come from `totals`, over every row.
    public private(set) var rows: [StepRow] = []
    /// Rows held in memory per run (see `rows`).
    public static let rowLimit = 20_000
    private var totals = RowTotals()
    public private(set) var evals: [RunSummary.Eval] = []
    public private(set) var checkpoints: [RunSummary.Checkpoint] = []
    public private(set) var errors: [RunSummary.Failure] = []
    public private(set) var eventCounts: [EventKind: Int] = [:]
    /// The last step metrics of each rank.
    public private(set) var latestSteps: [Int: RankLatest] = [:]
    public private(set) var firstTime: Double?
    public private(set) var lastTime: Double?
    private var aggregator = StepAggregator()

    /// Collector bookkeeping: the log file, when the run last had an event (monotonic
    /// nanoseconds), whether its summary is written, events waiting for a folder.
    var log: RunLog?
    var lastActivity: UInt64 = DispatchTime.now().uptimeNanoseconds
    var finished = false
    var finishedAt: UInt64?
    var pending: [(event: ReceivedEvent, line: [UInt8])] = []
    var pendingBytes = 0
    var pendingSince: UInt64?
    var topics: [String: [UInt8]] = [:]

    public init(id: String) { self.id = id }

    /// Applies one event; returns the aggregate rows it completed and the sequence
    /// gap it revealed.
    @discardableResult
    public func apply(_ event: ReceivedEvent) -> (rows: [StepRow], gap: SequenceGap?) {
        eventCounts[event.kind, default: 0] += 1
        firstTime = min(firstTime ?? event.time, event.time)
        lastTime = max(lastTime ?? event.time, event.time)
        let gap = ranks[event.rank, default: RankProgress(rank: event.rank, host: event.host)].observe(seq: event.seq)
        ranks[event.rank]!.apply(event)

        var completed: [StepRow] = []
        switch event.kind {
        case .start:
            if let w = event.worldSize, w >= 1 {
                worldSize = w
                aggregator.worldSize = max(aggregator.worldSize, w)
            }
            if let t = event.totalSteps { totalSteps = t }
            if let o = event.outputDir { outputDir = o }
            if !event.resent { finished = false; finishedAt = nil }
        case .step:
            latestSteps[event.rank] = RankLatest(event)
            completed = aggregator.add(event)
        case .checkpoint:
            if let step = event.step, let path = event.path { checkpoints.append(.init(step: step, rank: event.rank, path: path)) }
        case .eval:
            if let step = event.step { evals.append(.init(step: step, rank: event.rank, evalLoss: finite(event.evalLoss))) }
        case .error:
            if errors.count < 100 { errors.append(.init(rank: event.rank, message: event.message ?? "")) }
        case .exit:
            if allExited { completed = aggregator.flush() }
        default:
            break
        }
        append(completed)
        return (completed, gap)
    }

    /// Whether every rank of the run sent its exit event.
    public var allExited: Bool {
        let expected = worldSize ?? ranks.count
        guard expected > 0 else { return false }
        for r in 0..<expected where ranks[r]?.exitStatus == nil { return false }
        return true
    }

    /// Produces the rows still waiting for ranks (at the end of a run).
    @discardableResult
    public func flushRows() -> [StepRow] {
        let remaining = aggregator.flush()
        append(remaining)
        return remaining
    }

    private func append(_ completed: [StepRow]) {
        for row in completed {
            totals.add(row)
            rows.append(row)
        }
        if rows.count > Self.rowLimit {
            let half = rows.count / 2
            rows = stride(from: 0, to: half, by: 2).map { rows[$0] } + rows[half...]
        }
    }

    /// The latest aggregate row.
    public var lastRow: StepRow? { rows.last }

    /// The summary as of now.
    public func summary(endedBy: String, lossCurve: String?) -> RunSummary {
        let rankList = ranks.values.sorted { $0.rank < $1.rank }
        return RunSummary(
            run: id, runDir: directory?.path, complete: allExited, endedBy: endedBy,
            writtenAt: Date().timeIntervalSince1970, firstEventTime: firstTime, lastEventTime: lastTime,
            durationSeconds: firstTime.flatMap { f in lastTime.map { $0 - f } },
            worldSize: worldSize ?? ranks.count, totalSteps: totalSteps, stepsAggregated: totals.count,
            lastStep: totals.lastStep, finalLoss: totals.finalLoss?.loss,
            minLoss: totals.minLoss?.loss, minLossStep: totals.minLoss?.step,
            meanTokensPerSecond: totals.meanTokensPerSecond, meanStepTime: totals.meanStepTime,
            maxStepTime: totals.maxStepTime, meanCommunicationShare: totals.meanCommunicationShare,
            evals: evals, checkpoints: checkpoints, errors: errors,
            warnings: rankList.reduce(0) { $0 + $1.warnings },
            events: Dictionary(uniqueKeysWithValues: eventCounts.map { ($0.key.rawValue, $0.value) }),
            missingEvents: rankList.reduce(0) { $0 + $1.missing },
            droppedReported: rankList.reduce(0) { $0 + $1.droppedReported },
            ranks: rankList, lossCurve: lossCurve)
    }
}
