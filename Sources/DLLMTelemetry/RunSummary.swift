import DLLMJSON
import Foundation

/// `RUN_DIR/summary.json`: what a user who was not watching needs to know about a run.
public struct RunSummary: Codable, Sendable, Equatable {
    public struct Eval: Codable, Sendable, Equatable {
        public var step: Int
        public var rank: Int
        public var evalLoss: Double?
        enum CodingKeys: String, CodingKey { case step, rank, evalLoss = "eval_loss" }
    }

    public struct Checkpoint: Codable, Sendable, Equatable {
        public var step: Int
        public var rank: Int
        public var path: String
    }

    public struct Failure: Codable, Sendable, Equatable {
        public var rank: Int
        public var message: String
    }

    public var run: String
    public var runDir: String?
    /// True when every rank sent its exit event.
    public var complete: Bool
    /// "exit" (every rank exited), "idle-timeout", or "collector-stopped".
    public var endedBy: String
    public var writtenAt: Double
    public var firstEventTime: Double?
    public var lastEventTime: Double?
    public var durationSeconds: Double?
    public var worldSize: Int
    public var totalSteps: Int?
    public var stepsAggregated: Int
    public var lastStep: Int?
    public var finalLoss: Double?
    public var minLoss: Double?
    public var minLossStep: Int?
    public var meanTokensPerSecond: Double?
    public var meanStepTime: Double?
    public var maxStepTime: Double?
    public var meanCommunicationShare: Double?
    public var evals: [Eval]
    public var checkpoints: [Checkpoint]
    public var errors: [Failure]
    public var warnings: Int
    public var events: [String: Int]
    /// Sequence numbers that never arrived, over all ranks.
    public var missingEvents: Int
    /// Events the publishers reported dropping (a part of `missingEvents`).
    public var droppedReported: Int
    public var ranks: [RankProgress]
    public var lossCurve: String?

    enum CodingKeys: String, CodingKey {
        case run, runDir = "run_dir", complete, endedBy = "ended_by", writtenAt = "written_at"
        case firstEventTime = "first_event_time", lastEventTime = "last_event_time", durationSeconds = "duration_s"
        case worldSize = "world_size", totalSteps = "total_steps", stepsAggregated = "steps_aggregated"
        case lastStep = "last_step", finalLoss = "final_loss", minLoss = "min_loss", minLossStep = "min_loss_step"
        case meanTokensPerSecond = "mean_tokens_per_s", meanStepTime = "mean_step_time_s", maxStepTime = "max_step_time_s"
        case meanCommunicationShare = "mean_comm_share", evals, checkpoints, errors, warnings, events
        case missingEvents = "missing_events", droppedReported = "dropped_reported", ranks, lossCurve = "loss_curve"
    }

    public static let fileName = "summary.json"
    public static let curveFileName = "loss_curve.svg"

    /// Reads `RUN_DIR/summary.json`.
    public static func load(runDirectory: String) throws -> RunSummary {
        let url = URL(fileURLWithPath: runDirectory).appendingPathComponent(fileName)
        do {
            return try JSONValueDecoder().decode(RunSummary.self, fromJSON: Data(contentsOf: url), file: url.path)
        } catch {
            throw TelemetryError.file(path: url.path, reason: "not a readable run summary (\(error))")
        }
    }
}
