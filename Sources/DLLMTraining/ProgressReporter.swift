import Foundation

/// A one-line progress bar with loss, tokens/s and ETA on an interactive terminal;
/// plain log lines otherwise (a batch job's log file).
final class ProgressReporter {
    let total: Int
    let interactive: Bool
    let log: (String) -> Void
    let start = Date()
    var tokensPerSecond = 0.0

    init(total: Int, interactive: Bool, log: @escaping (String) -> Void) {
        self.total = total
        self.interactive = interactive
        self.log = log
    }

    func update(step: Int, loss: Double, tokensPerSecond: Double) {
        self.tokensPerSecond = tokensPerSecond
        guard interactive else { return }
        let fraction = Double(step) / Double(total)
        let width = 24
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let elapsed = Date().timeIntervalSince(start)
        let eta = step > 0 ? elapsed / Double(step) * Double(total - step) : 0
        let line = String(format: "\r%@ %d/%d  loss %.4f  %.0f tok/s  ETA %@ ", bar, step, total, loss, tokensPerSecond, Self.clock(eta))
        FileHandle.standardError.write(Data(line.utf8))
    }

    func log(_ entry: TrainerState.LogEntry) {
        if interactive { FileHandle.standardError.write(Data("\r".utf8)) }
        log(String(format: "step %d/%d  epoch %.2f  loss %.4f  lr %.3g  grad_norm %.3f  %.0f tok/s",
                   entry.step, total, entry.epoch, entry.loss ?? .nan, entry.learningRate ?? .nan, entry.gradNorm ?? .nan,
                   entry.tokensPerSecond ?? 0))
    }

    /// The closing line: the steps this run actually reached (a stop on request ends early).
    func finish(step: Int) {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
        let elapsed = Self.clock(Date().timeIntervalSince(start))
        log(step < total ? String(format: "stopped at step %d of %d after %@", step, total, elapsed)
                         : String(format: "done: %d steps in %@", total, elapsed))
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return String(format: "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60)
    }
}
