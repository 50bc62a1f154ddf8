import Foundation

/// One optimizer step across ranks: what `tail` prints as a table row and the
/// dashboard draws. Means are over the ranks that reported the step; throughput is
/// their sum; step time is given as the range, with the slowest rank named.
public struct StepRow: Codable, Sendable, Equatable {
    public var step: Int
    /// Ranks that reported this step, out of `worldSize`.
    public var ranks: Int
    public var worldSize: Int
    public var epoch: Double?
    public var loss: Double?
    public var lossMin: Double?
    public var lossMax: Double?
    public var learningRate: Double?
    public var gradNorm: Double?
    /// Summed over the ranks: the job's throughput.
    public var tokensPerSecond: Double?
    public var stepTimeMin: Double?
    public var stepTimeMax: Double?
    public var stepTimeMean: Double?
    /// Communication time over step time, summed over ranks (0…1).
    public var communicationShare: Double?
    /// Data-loading time over step time, summed over ranks (0…1).
    public var dataShare: Double?
    /// The rank with the longest step time.
    public var slowestRank: Int?
    public var residentBytesMax: Int?
    /// Latest sender time among the ranks (Unix seconds).
    public var time: Double

    public var complete: Bool { ranks >= worldSize }

    enum CodingKeys: String, CodingKey {
        case step, ranks, worldSize = "world_size", epoch, loss, lossMin = "loss_min", lossMax = "loss_max"
        case learningRate = "lr", gradNorm = "grad_norm", tokensPerSecond = "tokens_per_s"
        case stepTimeMin = "step_time_min", stepTimeMax = "step_time_max", stepTimeMean = "step_time_mean"
        case communicationShare = "comm_share", dataShare = "data_share", slowestRank = "slowest_rank"
        case residentBytesMax = "rss_bytes_max", time
    }
}

/// Collects `step` events by step number and produces a `StepRow` once every rank
/// reported it. Steps that stay incomplete (a rank's message was lost, or a rank is
/// far behind) are produced as partial rows once `maxPending` newer steps wait.
public struct StepAggregator {
    public var worldSize: Int
    public var maxPending: Int
    private var pending: [Int: Accumulator] = [:]
    private var emitted = Set<Int>()

    public init(worldSize: Int = 1, maxPending: Int = 64) {
        self.worldSize = max(1, worldSize)
        self.maxPending = maxPending
    }

    /// Steps waiting for more ranks.
    public var pendingCount: Int { pending.count }

    /// Adds a `step` event; returns the rows it completed (usually zero or one).
    public mutating func add(_ event: ReceivedEvent) -> [StepRow] {
        guard event.kind == .step, let step = event.step, !emitted.contains(step) else { return [] }
        if event.rank >= worldSize { worldSize = event.rank + 1 }
        // Mutated in place through the subscript, so the accumulator's set is never copied.
        guard pending[step, default: Accumulator(step: step)].add(event) else { return [] }
        var rows: [StepRow] = []
        if pending[step]!.rankCount >= worldSize {
            let accumulator = pending.removeValue(forKey: step)!
            emitted.insert(step)
            rows.append(accumulator.row(worldSize: worldSize))
        }
        if pending.count > maxPending { rows.append(contentsOf: flush(keepingNewest: maxPending / 2)) }
        return rows
    }

    /// Produces the rows still waiting, oldest first, keeping the newest `keepingNewest`.
    public mutating func flush(keepingNewest: Int = 0) -> [StepRow] {
        let steps = pending.keys.sorted()
        var rows: [StepRow] = []
        for step in steps.dropLast(keepingNewest) {
            rows.append(pending.removeValue(forKey: step)!.row(worldSize: worldSize))
            emitted.insert(step)
        }
        return rows
    }

    struct Accumulator {
        let step: Int
        /// Ranks seen: a bit each below 64 (no allocation), a set beyond.
        var lowRanks: UInt64 = 0
        var highRanks: Set<Int>?
        var rankCount = 0
        var epoch: Double?
        var loss = Statistic(), gradNorm = Statistic(), stepTime = Statistic()
        var learningRate: Double?
        var tokensPerSecond: Double?
        var communication = 0.0, data = 0.0, timed = 0.0
        var slowest: (rank: Int, seconds: Double)?
        var residentBytesMax: Int?
        var time = 0.0

        init(step: Int) { self.step = step }

        /// False when this rank already reported the step (a replayed or resumed step).
        mutating func add(_ e: ReceivedEvent) -> Bool {
            if e.rank < 64 {
                let bit = UInt64(1) << UInt64(e.rank)
                guard lowRanks & bit == 0 else { return false }
                lowRanks |= bit
            } else {
                guard highRanks == nil || !highRanks!.contains(e.rank) else { return false }
                highRanks = (highRanks ?? []).union([e.rank])
            }
            rankCount += 1
            if let v = e.epoch { epoch = max(epoch ?? v, v) }
            loss.add(e.loss)
            gradNorm.add(e.gradNorm)
            stepTime.add(e.stepTime)
            if let lr = e.learningRate, lr.isFinite { learningRate = lr }
            if let t = e.tokensPerSecond, t.isFinite { tokensPerSecond = (tokensPerSecond ?? 0) + t }
            if let s = e.stepTime, s.isFinite, s > 0 {
                timed += s
                communication += finite(e.communicationTime) ?? 0
                data += finite(e.dataTime) ?? 0
                if slowest == nil || s > slowest!.seconds { slowest = (e.rank, s) }
            }
            if let r = e.residentBytes { residentBytesMax = max(residentBytesMax ?? r, r) }
            time = max(time, e.time)
            return true
        }

        func row(worldSize: Int) -> StepRow {
            StepRow(step: step, ranks: rankCount, worldSize: worldSize, epoch: epoch,
                    loss: loss.mean, lossMin: loss.min, lossMax: loss.max, learningRate: learningRate,
                    gradNorm: gradNorm.mean, tokensPerSecond: finite(tokensPerSecond),
                    stepTimeMin: stepTime.min, stepTimeMax: stepTime.max, stepTimeMean: stepTime.mean,
                    communicationShare: timed > 0 ? finite(communication / timed) : nil,
                    dataShare: timed > 0 ? finite(data / timed) : nil,
                    slowestRank: slowest?.rank, residentBytesMax: residentBytesMax, time: time)
        }
    }

    /// Count, sum, min and max of the finite values seen.
    struct Statistic {
        var count = 0, sum = 0.0
        var min: Double?, max: Double?

        mutating func add(_ value: Double?) {
            guard let v = value, v.isFinite else { return }
            count += 1
            sum += v
            min = Swift.min(min ?? v, v)
            max = Swift.max(max ?? v, v)
        }

        var mean: Double? { count > 0 ? finite(sum / Double(count)) : nil }
    }
}

/// `value` when it is a finite number (JSON cannot carry the others).
@inline(__always)
func finite(_ value: Double?) -> Double? {
    guard let v = value, v.isFinite else { return nil }
    return v
}
