import DLLMProcess
import Foundation

/// The root cause of a failed attempt: the first rank that ended badly on its own (not
/// because it was told to stop), its host, exit code or signal, and its last log lines.
public struct FailureReport: Sendable {
    public var cause: RankRecord?
    /// How the starter (`mpirun`/`srun`) itself ended.
    public var starter: Termination
    public var starterName: String
    public var logDirectory: URL
    public var worldSize: Int
    /// What the hang watch saw (silent ranks, or every rank's last telemetry), shown first.
    public var telemetryLines: [String] = []

    /// The first rank to fail by itself, by the time it ended.
    public static func rootCause(in logDirectory: URL) -> RankRecord? {
        RankRecord.all(in: logDirectory, suffix: ".exit.json").filter(\.isRootCauseCandidate)
            .min { ($0.endedAt ?? .infinity, $0.rank) < ($1.endedAt ?? .infinity, $1.rank) }
    }

    /// The failed rank as `mpirun` or `srun` describe it, for when no agent left a record
    /// (the agent itself was killed):
    /// `mpirun noticed that process rank 1 with PID 0 on node vm exited on signal 9 (Killed).`,
    /// `srun: error: node1: task 1: Killed` or `srun: error: node1: task 1: Exited with exit code 3`.
    public static func starterReport(_ lines: [String]) -> (rank: Int, host: String?, termination: Termination)? {
        func number(after marker: String, in line: String) -> Int? {
            guard let range = line.range(of: marker) else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        func word(after marker: String, in line: String) -> String? {
            guard let range = line.range(of: marker) else { return nil }
            return String(line[range.upperBound...].prefix { !$0.isWhitespace && $0 != ":" })
        }
        for line in lines {
            if line.contains("mpirun noticed that process rank"), let rank = number(after: "process rank ", in: line) {
                let host = word(after: " on node ", in: line)
                if let sig = number(after: "exited on signal ", in: line) { return (rank, host, .signaled(Int32(sig))) }
                if let code = number(after: "exit code ", in: line) ?? number(after: "exit status ", in: line) { return (rank, host, .exited(Int32(code))) }
            }
            if line.hasPrefix("srun: error:"), let rank = number(after: ": task ", in: line) {
                let host = word(after: "srun: error: ", in: line)
                if let code = number(after: "exit code ", in: line) { return (rank, host, .exited(Int32(code))) }
                if line.hasSuffix("Killed") { return (rank, host, .signaled(9)) }
                if line.hasSuffix("Terminated") { return (rank, host, .signaled(15)) }
            }
        }
        return nil
    }

    /// The exit status the launcher returns: the failing rank's, else the starter's.
    public var exitCode: Int32 {
        if let code = cause?.termination?.exitCode, code != 0 { return code }
        return starter.exitCode == 0 ? 1 : starter.exitCode
    }

    /// The lines printed for the user.
    public func lines(tail count: Int = 15) -> [String] {
        var out: [String] = telemetryLines
        guard let cause, let termination = cause.termination else {
            if let reported = Self.starterReport(RankRecord.tail(of: logDirectory.appendingPathComponent("launcher.log"), lines: 60)) {
                out.append("the job failed: rank \(reported.rank)\(reported.host.map { " on \($0)" } ?? "") \(reported.termination) (as \(starterName) reports; its agent left no record)")
                let tail = RankRecord.tail(of: RankRecord.logFile(reported.rank, in: logDirectory), lines: count)
                if !tail.isEmpty {
                    out.append("last lines of rank \(reported.rank) (\(RankRecord.logFile(reported.rank, in: logDirectory).path)):")
                    out += tail.map { "    | " + $0 }
                }
                return out
            }
            out.append("the job failed: \(starterName) \(starter), and no rank recorded how it ended")
            let log = logDirectory.appendingPathComponent("launcher.log")
            let tail = RankRecord.tail(of: log, lines: count)
            if !tail.isEmpty {
                out.append("last lines of \(log.path):")
                out += tail.map { "    | " + $0 }
            }
            return out
        }
        let seconds = cause.seconds.map { String(format: " after %.1f s", $0) } ?? ""
        out.append("the job failed: rank \(cause.rank) on \(cause.host) (pid \(cause.pid)) \(termination)\(seconds)")
        let logFile = RankRecord.logFile(cause.rank, in: logDirectory)
        var tail = RankRecord.tail(of: logFile, lines: count + 1).filter { !$0.hasPrefix("[dllm-launch] rank \(cause.rank) on") }
        if tail.isEmpty { tail = cause.lastLines ?? [] }
        tail = Array(tail.suffix(count))
        if tail.isEmpty {
            out.append("rank \(cause.rank) printed nothing (\(logFile.path))")
        } else {
            out.append("last lines of rank \(cause.rank) (\(logFile.path)):")
            out += tail.map { "    | " + $0 }
        }
        if worldSize > 1 { out.append("the other \(worldSize - 1) rank(s) were stopped; every rank's log is in \(logDirectory.path)") }
        return out
    }
}
