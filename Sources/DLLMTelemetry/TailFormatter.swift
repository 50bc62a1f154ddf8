import Foundation

/// The text `dllm-collector tail` prints: a header, one compact row per aggregated
/// step, and one line per lifecycle event or sequence gap.
///
///      step      loss        lr   grad     tok/s   step ms  comm  slowest
///       120    4.2311  1.00e-03  1.234    12,345     812.3  12%   r3 905ms
public struct TailFormatter {
    /// Prefix rows with the run id (when following several runs).
    public var showRun: Bool

    public init(showRun: Bool = false) { self.showRun = showRun }

    public var header: String {
        (showRun ? pad("run", 14, left: true) + " " : "")
            + "  step      loss        lr    grad      tok/s   step ms   comm  slowest"
    }

    public func row(_ r: StepRow, run: String = "") -> String {
        var line = showRun ? pad(String(run.prefix(14)), 14, left: true) + " " : ""
        line += pad(String(r.step), 6)
        line += pad(r.loss.map { String(format: "%.4f", $0) } ?? "-", 10)
        line += pad(r.learningRate.map { String(format: "%.2e", $0) } ?? "-", 10)
        line += pad(r.gradNorm.map { String(format: "%.3f", $0) } ?? "-", 8)
        line += pad(r.tokensPerSecond.map { Self.grouped($0) } ?? "-", 11)
        line += pad(r.stepTimeMax.map { String(format: "%.1f", $0 * 1000) } ?? "-", 10)
        line += pad(r.communicationShare.map { String(format: "%.0f%%", $0 * 100) } ?? "-", 7)
        if let slow = r.slowestRank, let t = r.stepTimeMax {
            line += "  r\(slow) " + String(format: "%.0fms", t * 1000)
        }
        if !r.complete { line += "  (\(r.ranks)/\(r.worldSize) ranks)" }
        return line
    }

    /// A line for a non-step event, or nil for step events (they become rows) and heartbeats.
    public func event(_ e: ReceivedEvent) -> String? {
        let who = (showRun ? "\(e.run) " : "") + "rank \(e.rank)"
        switch e.kind {
        case .step, .heartbeat: return nil
        case .start:
            if e.resent { return nil }
            var parts = ["[start] \(who) on \(e.host)"]
            if let w = e.worldSize { parts.append("world size \(w)") }
            if let t = e.totalSteps { parts.append("\(t) steps") }
            if let o = e.outputDir { parts.append("output \(o)") }
            return parts.joined(separator: ", ")
        case .checkpoint: return "[checkpoint] \(who) step \(e.step ?? 0): \(e.path ?? "")"
        case .eval: return "[eval] \(who) step \(e.step ?? 0): eval_loss \(e.evalLoss.map { String(format: "%.4f", $0) } ?? "-")"
        case .warning: return "[warning] \(who): \(e.message ?? "")"
        case .error: return "[error] \(who): \(e.message ?? "")"
        case .exit: return "[exit] \(who): \(e.status ?? "?")" + (e.step.map { " at step \($0)" } ?? "")
        case .dropped: return "[dropped] \(who) dropped \(e.count ?? 0) events while the collector was unreachable (total \(e.total ?? 0))"
        }
    }

    public func gap(_ gap: SequenceGap, run: String, rank: Int) -> String {
        "[gap] " + (showRun ? "\(run) " : "") + "rank \(rank): \(gap.count) event\(gap.count == 1 ? "" : "s") missing (seq \(gap))"
    }

    public func summary(_ s: RunSummary) -> String {
        var parts = ["[summary] \(s.run): \(s.complete ? "complete" : "ended (\(s.endedBy))")"]
        if let step = s.lastStep { parts.append("last step \(step)") }
        if let loss = s.finalLoss { parts.append(String(format: "final loss %.4f", loss)) }
        if let t = s.meanTokensPerSecond { parts.append("\(Self.grouped(t)) tok/s") }
        if s.missingEvents > 0 { parts.append("\(s.missingEvents) events missing") }
        return parts.joined(separator: ", ")
    }

    /// 12345.6 → "12,346".
    static func grouped(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        let digits = String(Int(value.rounded()).magnitude)
        var out = ""
        for (k, c) in digits.enumerated() {
            if k > 0 && (digits.count - k) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (value < 0 ? "-" : "") + out
    }

    private func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
        guard s.count < width else { return s }
        let fill = String(repeating: " ", count: width - s.count)
        return left ? s + fill : fill + s
    }
}
