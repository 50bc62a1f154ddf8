import DLLMJSON
import Foundation

/// Notices ranks that stop, from the telemetry the collector of this launch receives (it
/// appends every event to `OUTPUT_DIR/metrics.jsonl` on this machine, heartbeats included).
/// A rank counts as alive while its events keep arriving: its `heartbeat` every few seconds
/// (sent by a background thread, so an evaluation or a checkpoint longer than `timeout`
/// is not a hang), and its steps. Once it sent its first heartbeat or step, a silence
/// longer than `timeout` seconds means its process is frozen or its host (or the network
/// to it) is gone — the role of torchrun's elastic agent. A rank whose process lives but
/// waits forever in a collective keeps heartbeating: that is a hang of its peer, which
/// this names, not of the waiting rank. Events of other runs in the same file (earlier
/// attempts, other run ids) are ignored.
public final class HangWatch {
    /// What is known of one rank of this run.
    public struct RankState: Equatable, Sendable {
        public var rank: Int
        public var host: String
        public var lastStep: Int?
        /// When its latest event was read (the launcher's clock: no clock sync between hosts needed).
        public var lastSeen: Date
        /// When its latest heartbeat was read; nil from a rank that sends none (format version 1).
        public var lastHeartbeat: Date?
        public var exited = false
        /// The longest pause between two of its events so far (a slow step, a checkpoint,
        /// for a rank without heartbeats).
        public var longestGap: Double = 0
    }

    public let timeout: Double
    public let runID: String
    let file: URL
    private var offset: UInt64 = 0
    private var pending = Data()
    public private(set) var ranks: [Int: RankState] = [:]

    public init(metricsFile: URL, runID: String, timeout: Double) {
        self.file = metricsFile
        self.runID = runID
        self.timeout = timeout
        // Only what is appended from now on belongs to this attempt.
        offset = (try? FileManager.default.attributesOfItem(atPath: metricsFile.path)[.size] as? UInt64) ?? 0
    }

    /// Reads the events appended since the last call.
    public func poll(now: Date = Date()) {
        guard let handle = try? FileHandle(forReadingFrom: file) else { return }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: offset)) != nil, let data = try? handle.readToEnd(), !data.isEmpty else { return }
        offset += UInt64(data.count)
        pending.append(data)
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = pending[pending.startIndex..<newline]
            pending.removeSubrange(pending.startIndex...newline)
            record(line, now: now)
        }
    }

    func record(_ line: Data, now: Date) {
        guard let object = try? JSONParser.parse(String(decoding: line, as: UTF8.self)),
              object["run"]?.stringValue == runID, let rank = object["rank"]?.intValue else { return }
        var state = ranks[rank] ?? RankState(rank: rank, host: object["host"]?.stringValue ?? "?", lastSeen: now)
        if ranks[rank] != nil { state.longestGap = max(state.longestGap, now.timeIntervalSince(state.lastSeen)) }
        state.lastSeen = now
        if let host = object["host"]?.stringValue { state.host = host }
        switch object["kind"]?.stringValue {
        case "step": if let step = object["step"]?.intValue { state.lastStep = step }
        case "heartbeat":
            state.lastHeartbeat = now
            if let step = object["step"]?.intValue { state.lastStep = max(state.lastStep ?? step, step) }
        case "exit": state.exited = true
        default: break
        }
        ranks[rank] = state
    }

    /// How long a rank may stay silent: the timeout, or three times its longest pause so far
    /// when its steps are that slow (so slow steps of a big model are not taken for a hang).
    public func bound(for state: RankState) -> Double { max(timeout, 3 * state.longestGap) }

    /// The ranks silent for longer than their bound (after their first heartbeat or step,
    /// until they exit), by rank.
    public func silentRanks(now: Date = Date()) -> [RankState] {
        guard timeout > 0 else { return [] }
        return ranks.values.filter {
            !$0.exited && ($0.lastStep != nil || $0.lastHeartbeat != nil) && now.timeIntervalSince($0.lastSeen) > bound(for: $0)
        }
            .sorted { $0.rank < $1.rank }
    }

    /// The host OpenMPI lost its daemon on (`Remote daemon: [[…],1] on node HOST`), from mpirun's output.
    public static func lostHost(in lines: [String]) -> String? {
        for line in lines where line.contains("Remote daemon") {
            guard let range = line.range(of: " on node ") else { continue }
            let host = line[range.upperBound...].prefix { !$0.isWhitespace }
            if !host.isEmpty { return String(host) }
        }
        return nil
    }

    /// Every rank's latest telemetry, for a job that ended without a rank saying why;
    /// first the host OpenMPI lost, if mpirun said so, with its ranks.
    public func lastReports(starterOutput: [String] = [], now: Date = Date()) -> [String] {
        guard !ranks.isEmpty else { return [] }
        var lines: [String] = []
        if let host = Self.lostHost(in: starterOutput) {
            let there = ranks.values.filter { $0.host == host }.sorted { $0.rank < $1.rank }
                .map { "rank \($0.rank) (last step \($0.lastStep.map(String.init) ?? "none"))" }
            lines.append("host \(host) unreachable: OpenMPI lost its daemon there (a partition or a frozen host); its rank(s): "
                         + (there.isEmpty ? "none reported" : there.joined(separator: ", ")))
        }
        return lines + ["last telemetry of each rank:"] + ranks.values.sorted { $0.rank < $1.rank }.map { state in
            "  rank \(state.rank) on \(state.host): last step \(state.lastStep.map(String.init) ?? "none"), \(Int(now.timeIntervalSince(state.lastSeen))) s ago"
                + (state.exited ? " (exited)" : "")
        }
    }

    /// One line per silent rank, for the user: host, rank, last step and how long it has been silent.
    public static func describe(_ silent: [RankState], now: Date = Date(), worldSize: Int) -> [String] {
        let hosts = Set(silent.map(\.host)).sorted()
        var lines = ["hang: \(silent.count) of \(worldSize) rank(s) sent no telemetry for over the hang timeout, on host(s) \(hosts.joined(separator: ", ")):"]
        for state in silent {
            lines.append("  rank \(state.rank) on \(state.host): last step \(state.lastStep.map(String.init) ?? "none"), "
                         + "silent for \(Int(now.timeIntervalSince(state.lastSeen))) s")
        }
        return lines
    }
}
