import DLLMJSON
import DLLMProcess
import Foundation

/// What a rank's agent leaves in the log folder for the launcher: `rank-R.pid` when
/// the rank starts (host and process ids, for a last-resort cleanup) and
/// `rank-R.exit.json` when it ends (how, when, and its last log lines).
public struct RankRecord: Codable, Sendable, Equatable {
    public var rank: Int
    public var host: String
    /// The `dllm train` process.
    public var pid: Int32
    /// The agent supervising it.
    public var agentPID: Int32
    public var exitCode: Int32?
    public var signal: Int32?
    /// True when the rank was told to stop (by the launcher, mpirun or Slurm) before it ended:
    /// a consequence, not a cause.
    public var stoppedFromOutside: Bool?
    /// Seconds since the Unix epoch when the rank ended.
    public var endedAt: Double?
    public var seconds: Double?
    public var lastLines: [String]?

    enum CodingKeys: String, CodingKey {
        case rank, host, pid, signal, seconds
        case agentPID = "agent_pid", exitCode = "exit_code", stoppedFromOutside = "stopped_from_outside"
        case endedAt = "ended_at", lastLines = "last_lines"
    }

    public var termination: Termination? {
        if let signal { return .signaled(signal) }
        return exitCode.map { .exited($0) }
    }

    /// A failure that caused the job to end, rather than the stop that followed it.
    public var isRootCauseCandidate: Bool {
        guard let termination, !termination.succeeded else { return false }
        return stoppedFromOutside != true
    }

    public static func pidFile(_ rank: Int, in dir: URL) -> URL { dir.appendingPathComponent("rank-\(rank).pid") }
    public static func exitFile(_ rank: Int, in dir: URL) -> URL { dir.appendingPathComponent("rank-\(rank).exit.json") }
    public static func logFile(_ rank: Int, in dir: URL) -> URL { dir.appendingPathComponent("rank-\(rank).log") }

    public func write(to url: URL) {
        guard let data = try? Data(JSONValueEncoder().bytes(self, sortedKeys: true)) else { return }
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid())")
        if (try? data.write(to: temporary)) != nil { _ = rename(temporary.path, url.path) }
    }

    public static func read(_ url: URL) -> RankRecord? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONValueDecoder().decode(RankRecord.self, fromJSON: data)
    }

    /// Every record of one kind (`.pid` or `.exit.json`) in the folder.
    public static func all(in dir: URL, suffix: String) -> [RankRecord] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasPrefix("rank-") && $0.hasSuffix(suffix) }.compactMap { read(dir.appendingPathComponent($0)) }
    }

    /// Removes the previous attempt's pid and exit records (the logs stay and grow).
    public static func clear(in dir: URL) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        for name in names where name.hasPrefix("rank-") && (name.hasSuffix(".pid") || name.hasSuffix(".exit.json")) {
            try? FileManager.default.removeItem(at: dir.appendingPathComponent(name))
        }
    }

    /// The last `count` lines of a rank's log file.
    public static func tail(of url: URL, lines count: Int) -> [String] {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return [] }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let start = size > 16384 ? size - 16384 : 0
        try? handle.seek(toOffset: start)
        let data = (try? handle.readToEnd()) ?? Data()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return Array(lines.drop { _ in false }.suffix(count + 1).filter { !$0.isEmpty }.suffix(count))
    }
}

/// This machine's short host name (what Slurm and MPI call it).
public func shortHostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    gethostname(&buffer, buffer.count)
    return String(cString: buffer).split(separator: ".").first.map(String.init) ?? "localhost"
}
