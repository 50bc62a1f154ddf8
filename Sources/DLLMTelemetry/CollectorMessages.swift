import DLLMJSON
import Foundation

/// The messages a collector publishes itself on its PUB socket, next to the ranks'
/// events: `RUN/row` (one aggregate `StepRow`, flat, `"kind": "row"`) and
/// `RUN/summary` (the `RunSummary` under `"summary"`, when a run ends).
public enum CollectorMessages {
    public static func row(_ row: StepRow, run: String, writer: inout JSONObjectWriter) -> [UInt8] {
        writer.begin()
        writer.field("v", WireFormat.version)
        writer.field("kind", "row")
        writer.field("run", run)
        writer.field("step", row.step)
        writer.field("ranks", row.ranks)
        writer.field("world_size", row.worldSize)
        func optional(_ name: StaticString, _ value: Double?) { if let value { writer.field(name, value) } }
        optional("epoch", row.epoch)
        optional("loss", row.loss)
        optional("loss_min", row.lossMin)
        optional("loss_max", row.lossMax)
        optional("lr", row.learningRate)
        optional("grad_norm", row.gradNorm)
        optional("tokens_per_s", row.tokensPerSecond)
        optional("step_time_min", row.stepTimeMin)
        optional("step_time_max", row.stepTimeMax)
        optional("step_time_mean", row.stepTimeMean)
        optional("comm_share", row.communicationShare)
        optional("data_share", row.dataShare)
        if let r = row.slowestRank { writer.field("slowest_rank", r) }
        if let b = row.residentBytesMax { writer.field("rss_bytes_max", b) }
        writer.field("time", row.time)
        writer.end()
        return writer.bytes
    }

    public static func summary(_ summary: RunSummary) -> [UInt8] {
        var writer = JSONObjectWriter()
        writer.begin()
        writer.field("v", WireFormat.version)
        writer.field("kind", "summary")
        writer.field("run", summary.run)
        if let data = try? JSONValueEncoder().bytes(summary, sortedKeys: true) { writer.field("summary", rawJSON: data) }
        writer.end()
        return writer.bytes
    }

    /// Decodes a `row` message (also accepts any JSON object with `StepRow`'s fields).
    public static func decodeRow(_ bytes: Data) -> StepRow? {
        guard let value = try? JSONParser.parse(bytes, options: .init(maximumDepth: WireFormat.maxDepth)) else { return nil }
        return try? JSONValueDecoder().decode(StepRow.self, from: value)
    }
}
