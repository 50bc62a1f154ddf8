import Foundation

/// A snapshot of a collector for its HTTP endpoints (`/api/status`, `/metrics`).
public struct CollectorStatus: Codable, Sendable {
    public var wireVersion: Int
    public var pull: String
    public var pub: String
    public var startedAt: Double
    /// Accepted events by kind.
    public var accepted: [String: Int]
    /// Refused messages by reason (`RejectionReason`).
    public var rejected: [String: Int]
    public var bytesWritten: Int
    public var runs: [RunStatus]

    enum CodingKeys: String, CodingKey {
        case wireVersion = "wire_version", pull, pub, startedAt = "started_at", accepted, rejected
        case bytesWritten = "bytes_written", runs
    }

    public var acceptedTotal: Int { accepted.values.reduce(0, +) }
    public var rejectedTotal: Int { rejected.values.reduce(0, +) }
}

/// One run in a `CollectorStatus`.
public struct RunStatus: Codable, Sendable {
    public var run: String
    public var runDir: String?
    public var worldSize: Int?
    public var totalSteps: Int?
    public var finished: Bool
    public var events: Int
    public var missing: Int
    public var lastRow: StepRow?
    public var ranks: [RankProgress]
    /// Latest per-rank step metrics (the last `step` event of each rank).
    public var latest: [RankLatest]

    enum CodingKeys: String, CodingKey {
        case run, runDir = "run_dir", worldSize = "world_size", totalSteps = "total_steps", finished, events, missing
        case lastRow = "last_row", ranks, latest
    }
}

/// The last step metrics of one rank, for per-rank gauges.
public struct RankLatest: Codable, Sendable, Equatable {
    public var rank: Int
    public var step: Int
    public var loss: Double?
    public var learningRate: Double?
    public var gradNorm: Double?
    public var tokensPerSecond: Double?
    public var stepTime: Double?
    public var communicationTime: Double?
    public var dataTime: Double?
    public var residentBytes: Int?
    public var optimizerStateBytes: Int?

    enum CodingKeys: String, CodingKey {
        case rank, step, loss, learningRate = "lr", gradNorm = "grad_norm", tokensPerSecond = "tokens_per_s"
        case stepTime = "step_time", communicationTime = "comm_time", dataTime = "data_time"
        case residentBytes = "rss_bytes", optimizerStateBytes = "optimizer_bytes"
    }

    init(_ e: ReceivedEvent) {
        rank = e.rank
        step = e.step ?? 0
        loss = finite(e.loss)
        learningRate = finite(e.learningRate)
        gradNorm = finite(e.gradNorm)
        tokensPerSecond = finite(e.tokensPerSecond)
        stepTime = finite(e.stepTime)
        communicationTime = finite(e.communicationTime)
        dataTime = finite(e.dataTime)
        residentBytes = e.residentBytes
        optimizerStateBytes = e.optimizerStateBytes
    }
}

/// The dashboard's curves for one run (`/api/series`), at most a few thousand points.
public struct RunSeries: Codable, Sendable {
    public var run: String
    public var runs: [String]
    public var worldSize: Int?
    public var totalSteps: Int?
    public var finished: Bool
    public var step: [Int]
    public var loss: [Double?]
    public var learningRate: [Double?]
    public var tokensPerSecond: [Double?]
    public var stepTime: [Double?]
    public var evalStep: [Int]
    public var evalLoss: [Double?]
    public var last: StepRow?
    public var missing: Int

    enum CodingKeys: String, CodingKey {
        case run, runs, worldSize = "world_size", totalSteps = "total_steps", finished, step, loss
        case learningRate = "lr", tokensPerSecond = "tokens_per_s", stepTime = "step_time"
        case evalStep = "eval_step", evalLoss = "eval_loss", last, missing
    }

    /// The curves of `state`, one point per `stride`-th row so at most `maxPoints` remain.
    public init(_ state: RunState, runs: [String], maxPoints: Int = 2_000) {
        let rows = state.rows.sorted { $0.step < $1.step }
        let stride = max(1, Int((Double(rows.count) / Double(max(1, maxPoints))).rounded(.up)))
        var picked: [StepRow] = []
        picked.reserveCapacity(rows.count / stride + 1)
        for (k, row) in rows.enumerated() where k % stride == 0 || k == rows.count - 1 { picked.append(row) }
        run = state.id
        self.runs = runs
        worldSize = state.worldSize
        totalSteps = state.totalSteps
        finished = state.finished
        step = picked.map(\.step)
        loss = picked.map(\.loss)
        learningRate = picked.map(\.learningRate)
        tokensPerSecond = picked.map(\.tokensPerSecond)
        stepTime = picked.map(\.stepTimeMax)
        let evals = state.evals.filter { $0.rank == 0 || state.worldSize == nil }
        evalStep = evals.map(\.step)
        evalLoss = evals.map(\.evalLoss)
        last = state.lastRow
        missing = state.ranks.values.reduce(0) { $0 + $1.missing }
    }
}
