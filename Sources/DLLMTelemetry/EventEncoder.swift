import DLLMJSON
import Foundation

/// Who is sending: the envelope every message carries.
public struct EventSource: Sendable, Equatable {
    public var runID: String
    public var rank: Int
    public var host: String
    /// The shared secret a collector may require; sent as `token`, never stored.
    public var token: String?

    public init(runID: String, rank: Int, host: String = EventSource.localHostName, token: String? = nil) {
        self.runID = runID
        self.rank = rank
        self.host = host
        self.token = token
    }

    /// This machine's name from `gethostname(2)`: no DNS lookup, so it cannot hang on a
    /// cluster without reverse DNS (Foundation's `hostName` may).
    public static var localHostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(cString: buffer)
    }
}

/// Encodes events to the wire format (see `WireFormat` and docs/telemetry.md).
public struct EventEncoder {
    public let source: EventSource
    var writer = JSONObjectWriter()

    public init(source: EventSource) { self.source = source }

    /// The message for `event` with sequence number `seq`, sent at `time` (Unix seconds).
    public mutating func encode(_ event: TelemetryEvent, seq: Int, time: Double, resent: Bool = false) -> [UInt8] {
        header(kind: event.kind.rawValue, seq: seq, time: time)
        switch event {
        case .start(let start):
            writer.field("output_dir", start.outputDir)
            writer.field("world_size", start.worldSize)
            if let total = start.totalSteps { writer.field("total_steps", total) }
            writer.field("pid", Int(getpid()))
            if resent { writer.field("resent", true) }
            if let config = start.config { writer.field("config", rawJSON: config) }
        case .step(let m):
            writer.field("step", m.step)
            writer.field("epoch", m.epoch)
            writer.field("loss", m.loss)
            writer.field("lr", m.learningRate)
            writer.field("grad_norm", m.gradNorm)
            writer.field("tokens", m.tokens)
            writer.field("tokens_per_s", m.tokensPerSecond)
            writer.field("step_time", m.stepTime)
            writer.field("compute_time", m.computeTime)
            writer.field("comm_time", m.communicationTime)
            writer.field("data_time", m.dataTime)
            writer.field("rss_bytes", m.residentBytes)
            writer.field("optimizer_bytes", m.optimizerStateBytes)
        case .checkpoint(let step, let path):
            writer.field("step", step)
            writer.field("path", path)
        case .eval(let step, let loss):
            writer.field("step", step)
            writer.field("eval_loss", loss)
        case .warning(let message), .error(let message):
            writer.field("message", message)
        case .exit(let status, let step):
            writer.field("status", status.rawValue)
            if let step { writer.field("step", step) }
        case .heartbeat(let step):
            if let step { writer.field("step", step) }
        }
        return finish()
    }

    /// The `dropped` report: `count` events dropped since the last report, `total` ever.
    public mutating func encodeDropped(count: Int, total: Int, seq: Int, time: Double) -> [UInt8] {
        header(kind: EventKind.dropped.rawValue, seq: seq, time: time)
        writer.field("count", count)
        writer.field("total", total)
        return finish()
    }

    private mutating func header(kind: String, seq: Int, time: Double) {
        writer.begin()
        writer.field("v", WireFormat.version)
        writer.field("kind", kind)
        writer.field("run", source.runID)
        writer.field("rank", source.rank)
        writer.field("host", source.host)
        writer.field("seq", seq)
        writer.field("time", (time * 1e6).rounded() / 1e6)
    }

    private mutating func finish() -> [UInt8] {
        if let token = source.token { writer.field("token", token) }
        writer.end()
        return writer.bytes
    }
}
