import CZMQ
import DLLMJSON
import Foundation

/// The collector's engine: a PULL socket every rank pushes to, validation of every
/// message, one append-only `metrics.jsonl` per run, per-step aggregates across
/// ranks, a PUB socket that republishes everything for tailers, and the end-of-run
/// summary. HTTP (dashboard, Prometheus) sits on top, reading `status()`/`series()`.
///
/// `run()` is the receive loop (one thread); every other method may be called from
/// any thread. A run's folder is, in order: `runDirectory` when set (the launcher's
/// choice), the `output_dir` of the run's start event when it lies under the state
/// directory or one of `outputRoots`, the folder this collector's index
/// (`STATE/runs.json`) remembers for the run id (so a restarted collector appends
/// where its predecessor wrote). Events that arrive before any of these is known wait
/// in memory for a start event (publishers resend theirs on reconnect), at most
/// `unroutedTimeout` seconds, then go to `STATE/runs/RUN_ID/`, as do runs whose
/// `output_dir` lies elsewhere. A start event naming another `output_dir` than the
/// run's current one is a new job reusing the id: the old run is summarised and the
/// new one gets its own folder.
///
/// Memory: a finished run stays in memory `finishedRetention` seconds, then its log
/// is closed and its state dropped; asking for it again (`series`, a late event)
/// replays its `metrics.jsonl`. Each run keeps at most `RunState.rowLimit` rows.
// @unchecked Sendable: every mutable field is read and written under `lock`; the sockets are
// used only by `run()`'s thread; `diagnostics` is set before `run()` starts, `loopCPUSeconds`
// read after it returned.
public final class CollectorCore: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// Interface to bind: 127.0.0.1 (default, this machine only), an address, or `*`.
        public var bind = "127.0.0.1"
        /// PULL port (ranks push here); 0 picks a free port.
        public var pullPort = 5555
        /// PUB port (tailers subscribe here); 0 picks a free port.
        public var pubPort = 5556
        /// Overrides every run's folder.
        public var runDirectory: String?
        /// Where the run index and folders for runs without one live.
        public var stateDirectory: String
        /// Folders (besides `stateDirectory`) under which a start event's `output_dir`
        /// is honoured; any other `output_dir` goes to `STATE/runs/RUN_ID/`.
        public var outputRoots: [String] = []
        /// Seconds a finished run stays in memory before it is evicted (re-read from
        /// its log when asked for again).
        public var finishedRetention = 60.0
        /// Shared secret every message must carry as `token`.
        public var token: String?
        public var maxMessageBytes = WireFormat.defaultMaxMessageBytes
        /// Seconds between `fdatasync`s of a run's log (0: after every batch).
        public var syncInterval = 1.0
        /// A run with no event for this long is summarised as ended.
        public var idleTimeout = 300.0
        /// How long events may wait for their run's folder to be known.
        public var unroutedTimeout = 10.0
        /// `ZMQ_RCVHWM`: messages ZeroMQ buffers before the loop reads them.
        public var receiveQueueLimit: Int32 = 100_000

        public init(stateDirectory: String) { self.stateDirectory = stateDirectory }

        /// `$XDG_STATE_HOME/dllm-collector`, else `~/.local/state/dllm-collector`.
        public static var defaultStateDirectory: String {
            let env = ProcessInfo.processInfo.environment
            let base = env["XDG_STATE_HOME"].map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/state")
            return base.appendingPathComponent("dllm-collector").path
        }
    }

    public let configuration: Configuration
    public let pullEndpoint: String
    public let pubEndpoint: String
    /// Where diagnostics go (stderr by default).
    public var diagnostics: (String) -> Void = { FileHandle.standardError.write(Data(("[collector] " + $0 + "\n").utf8)) }

    private let context: ZMQContext
    private let pull: ZMQSocket
    private let pub: ZMQSocket
    /// Checks subscribers' tokens when one is set.
    private let subscriberCheck: SubscriberAuthentication?
    private let lock = NSLock()
    private var validator: EventValidator
    private var runs: [String: RunState] = [:]
    private var runOrder: [String] = []
    private var index: RunIndex
    private var accepted = [Int](repeating: 0, count: EventKind.allCases.count)
    private var rejected = [Int](repeating: 0, count: RejectionReason.allCases.count)
    private var bytesWritten = 0
    private var stopRequested = false
    private var rowWriter = JSONObjectWriter()
    /// Topic prefixes subscribed to on the PUB socket (XPUB reports each once).
    private var subscriptions = Set<[UInt8]>()
    private let startedAt = Date().timeIntervalSince1970
    private static let kinds = EventKind.allCases
    private static let maxPendingBytes = 64 << 20

    public init(_ configuration: Configuration) throws {
        self.configuration = configuration
        validator = EventValidator(maxMessageBytes: configuration.maxMessageBytes, token: configuration.token)
        index = RunIndex(directory: URL(fileURLWithPath: configuration.stateDirectory))
        context = ZMQContext(ioThreads: 1)
        pull = try ZMQSocket(context, type: ZMQ_PULL)
        pull.set(ZMQ_RCVHWM, configuration.receiveQueueLimit)
        // A hard cap far above the stored limit: larger messages make libzmq drop the
        // sender's connection; those up to it are read, counted and refused.
        pull.set(ZMQ_MAXMSGSIZE, Int64(max(configuration.maxMessageBytes * 16, 64 << 20)))
        pull.set(ZMQ_LINGER, Int32(0))
        // XPUB: a PUB socket that also tells which topics are subscribed, so nothing is
        // encoded or republished while no one listens.
        pub = try ZMQSocket(context, type: ZMQ_XPUB)
        pub.set(ZMQ_SNDHWM, Int32(100_000))
        pub.set(ZMQ_LINGER, Int32(0))
        if let token = configuration.token {
            subscriberCheck = try SubscriberAuthentication(context, token: token)
            pub.set(ZMQ_PLAIN_SERVER, Int32(1))
        } else {
            subscriberCheck = nil
        }
        let host = configuration.bind
        if host.contains(":") { pull.set(ZMQ_IPV6, Int32(1)); pub.set(ZMQ_IPV6, Int32(1)) }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        func endpoint(_ port: Int) -> String { "tcp://\(hostPart):\(port == 0 ? "*" : String(port))" }
        pullEndpoint = try pull.bind(endpoint(configuration.pullPort))
        pubEndpoint = try pub.bind(endpoint(configuration.pubPort))
    }

    // MARK: The loop

    /// Receives, validates, stores and republishes until `stop()`; then writes the
    /// summaries of runs still open and syncs their logs.
    public func run() {
        let message = ZMQMessage()
        let cpuAtStart = Self.threadCPUSeconds()
        defer { loopCPUSeconds = Self.threadCPUSeconds() - cpuAtStart }
        while true {
            let (ready, subscribing) = ZMQSocket.waitReadable(pull, pub, milliseconds: 100)
            lock.lock()
            if stopRequested { break }
            if let subscriberCheck { rejected[RejectionReason.unauthorized.index] += subscriberCheck.answer(message) }
            if subscribing { readSubscriptions(message) }
            if ready { receiveBatch(message) }
            housekeeping()
            lock.unlock()
        }
        shutdown()
        lock.unlock()
    }

    /// CPU time the receive loop's thread used, once `run()` returned (for benchmarks).
    public private(set) var loopCPUSeconds = 0.0

    /// CPU seconds the calling thread has used.
    public static func threadCPU() -> Double { threadCPUSeconds() }

    static func threadCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// Asks `run()` to finish (from any thread, or a signal handler's queue).
    public func stop() {
        lock.lock()
        stopRequested = true
        lock.unlock()
    }

    /// XPUB delivers `1 + topic` when a topic gains its first subscriber, `0 + topic`
    /// when it loses its last.
    private func readSubscriptions(_ message: ZMQMessage) {
        while pub.receive(message, dontWait: true) {
            let bytes = message.bytes
            guard let first = bytes.first else { continue }
            let topic = Array(bytes.dropFirst())
            if first == 1 { subscriptions.insert(topic) } else if first == 0 { subscriptions.remove(topic) }
        }
    }

    private func receiveBatch(_ message: ZMQMessage) {
        for _ in 0..<4_096 {
            guard pull.receive(message, dontWait: true) else { break }
            if message.more {
                while message.more && pull.receive(message, dontWait: true) {}
                rejected[RejectionReason.malformed.index] += 1
                continue
            }
            handle(message)
        }
        for name in runOrder {
            guard let run = runs[name], let log = run.log, log.hasPendingBytes else { continue }
            write(run, log)
        }
    }

    private func write(_ run: RunState, _ log: RunLog) {
        let before = log.bytesWritten
        do { try log.flush() } catch { diagnostics("run \(run.id): \(error)") }
        bytesWritten += log.bytesWritten - before
    }

    private func handle(_ message: ZMQMessage) {
        let bytes = message.bytes
        switch validator.validate(bytes) {
        case .failure(let reason):
            rejected[reason.index] += 1
        case .success(let result):
            let event = result.event
            var known = runs[event.run] ?? reload(event.run)
            if let existing = known, isNewJob(event, of: existing) {
                retire(existing)
                known = nil
            }
            let run = known ?? newRun(event.run)
            run.lastActivity = DispatchTime.now().uptimeNanoseconds
            run.finished = false
            run.finishedAt = nil
            if run.log == nil { route(run, event) }
            if let rewritten = result.rewritten {
                rewritten.withUnsafeBytes { store(run, event, $0, forwarding: nil) }
            } else {
                store(run, event, bytes, forwarding: message)
            }
            accepted[event.kind.index] += 1
        }
    }

    /// Stores `line` (or holds it until the run has a folder) and republishes it; the
    /// received message itself is forwarded when it is the line, saving a copy.
    private func store(_ run: RunState, _ event: ReceivedEvent, _ line: UnsafeRawBufferPointer, forwarding message: ZMQMessage?) {
        if let log = run.log {
            log.append(line)
            process(run, event)
        } else {
            queue(run, event, line)
        }
        guard !subscriptions.isEmpty else { return }
        pub.send(run.topic(event.kind), dontWait: true, more: true)
        if let message {
            message.forward(to: pub)
        } else {
            pub.send(line, dontWait: true)
        }
    }

    /// Applies an event stored in the run's log, publishing the rows it completes.
    private func process(_ run: RunState, _ event: ReceivedEvent) {
        let (rows, _) = run.apply(event)
        for row in rows { publish(row, of: run) }
    }

    private func publish(_ row: StepRow, of run: RunState) {
        guard !subscriptions.isEmpty else { return }
        let bytes = CollectorMessages.row(row, run: run.id, writer: &rowWriter)
        pub.send(run.topic(named: "row"), dontWait: true, more: true)
        pub.send(bytes, dontWait: true)
    }

    private func newRun(_ id: String) -> RunState {
        let run = RunState(id: id)
        runs[id] = run
        runOrder.append(id)
        return run
    }

    // MARK: Run folders

    private func route(_ run: RunState, _ event: ReceivedEvent) {
        if let dir = configuration.runDirectory {
            open(run, URL(fileURLWithPath: dir))
        } else if event.kind == .start, let dir = event.outputDir {
            open(run, permittedFolder(dir, run: run) ?? fallbackDirectory(run))
        } else if let dir = index[run.id] {
            open(run, URL(fileURLWithPath: dir))
        }
    }

    /// Where a run not in memory was written: the run directory when set (this collector
    /// writes every run there), else the folder the index remembers. The index is shared
    /// by every collector of the state directory, so a collector with a run directory (a
    /// launcher's) never reads it: a run id another job used would lead into that job's
    /// folder.
    private func knownFolder(_ id: String) -> String? {
        configuration.runDirectory ?? index[id]
    }

    /// `output_dir` as a folder, when it is absolute and lies under the state directory
    /// or one of the configured output roots (symbolic links and `..` resolved).
    private func permittedFolder(_ outputDir: String, run: RunState) -> URL? {
        guard outputDir.hasPrefix("/") else { return nil }
        let folder = Self.resolved(outputDir)
        for root in [configuration.stateDirectory] + configuration.outputRoots {
            let base = Self.resolved(root)
            if folder == base || folder.hasPrefix(base.hasSuffix("/") ? base : base + "/") { return URL(fileURLWithPath: folder) }
        }
        diagnostics("run \(run.id): output_dir \(outputDir) is outside the collector's state directory and --output-root folders; writing to \(fallbackDirectory(run).path)")
        return nil
    }

    static func resolved(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// A start event that names another `output_dir` than the run's: another job that
    /// reuses the run id (the same job always names the same folder).
    private func isNewJob(_ event: ReceivedEvent, of run: RunState) -> Bool {
        guard configuration.runDirectory == nil, event.kind == .start, let dir = event.outputDir,
              let known = run.outputDir else { return false }
        return Self.resolved(dir) != Self.resolved(known)
    }

    /// Summarises a run (if still open), closes its log and forgets it.
    private func retire(_ run: RunState, reason: String = "replaced") {
        if reason == "replaced" {
            diagnostics("run \(run.id): a start event names another output_dir: a new job reuses the id; closing the previous one")
        }
        if !run.finished, run.log != nil { finish(run, endedBy: reason) }
        if let log = run.log { write(run, log); log.syncIfDue(interval: 0) }
        run.log = nil
        runs[run.id] = nil
        runOrder.removeAll { $0 == run.id }
    }

    /// An evicted run (or one an earlier collector wrote), rebuilt from the log in its `knownFolder`.
    private func reload(_ id: String) -> RunState? {
        guard let dir = knownFolder(id), FileManager.default.fileExists(atPath: URL(fileURLWithPath: dir).appendingPathComponent(RunLog.fileName).path)
        else { return nil }
        let run = newRun(id)
        open(run, URL(fileURLWithPath: dir))
        return run
    }

    private func queue(_ run: RunState, _ event: ReceivedEvent, _ line: UnsafeRawBufferPointer) {
        if run.pendingSince == nil {
            run.pendingSince = DispatchTime.now().uptimeNanoseconds
            diagnostics("run \(run.id): no folder known yet; holding its events until a start event names one")
        }
        run.pending.append((event, Array(line)))
        run.pendingBytes += line.count
        if run.pendingBytes > Self.maxPendingBytes { open(run, fallbackDirectory(run)) }
    }

    private func fallbackDirectory(_ run: RunState) -> URL {
        URL(fileURLWithPath: configuration.stateDirectory).appendingPathComponent("runs").appendingPathComponent(run.id)
    }

    /// Opens the run's log in `directory` (replaying what an earlier collector wrote
    /// there), remembers the folder, and stores the events that were waiting.
    private func open(_ run: RunState, _ directory: URL) {
        let log: RunLog
        do {
            log = try RunLog(directory: directory)
        } catch {
            diagnostics("run \(run.id): \(error)")
            let fallback = fallbackDirectory(run)
            guard directory != fallback, let second = try? RunLog(directory: fallback) else {
                rejected[RejectionReason.unstorable.index] += run.pending.count
                run.pending = []
                run.pendingBytes = 0
                return
            }
            diagnostics("run \(run.id): writing to \(fallback.path) instead")
            return adopt(run, second, fallback)
        }
        adopt(run, log, directory)
    }

    private func adopt(_ run: RunState, _ log: RunLog, _ directory: URL) {
        if log.repairedBytes > 0 {
            diagnostics("run \(run.id): removed a torn last line (\(log.repairedBytes) bytes) from \(log.url.path)")
        }
        var reader = EventLogReader(url: log.url)
        let replayed = (try? reader.readNew { event, _ in if event.run == run.id { run.apply(event) } }) ?? 0
        run.directory = directory
        run.log = log
        if replayed > 0 { diagnostics("run \(run.id): continuing \(log.url.path) (\(replayed) events already there)") }
        let waiting = run.pending
        run.pending = []
        run.pendingBytes = 0
        run.pendingSince = nil
        for (event, line) in waiting {
            log.append(line)
            process(run, event)
        }
        if configuration.runDirectory == nil, index[run.id] != directory.path {
            index[run.id] = directory.path
            do { try index.save() } catch { diagnostics("\(error)") }
        }
    }

    // MARK: Housekeeping

    private func housekeeping() {
        let now = DispatchTime.now().uptimeNanoseconds
        for name in runOrder {
            guard let run = runs[name] else { continue }
            if run.log == nil, let since = run.pendingSince,
               Double(now - since) / 1e9 >= configuration.unroutedTimeout {
                diagnostics("run \(run.id): no start event named a folder within \(configuration.unroutedTimeout) s")
                open(run, fallbackDirectory(run))
            }
            if let log = run.log {
                if log.hasPendingBytes { write(run, log) }
                log.syncIfDue(interval: configuration.syncInterval)
            }
            if run.finished, let at = run.finishedAt, Double(now - at) / 1e9 >= configuration.finishedRetention {
                retire(run, reason: "evicted")
                continue
            }
            guard !run.finished, run.log != nil else { continue }
            if run.allExited {
                finish(run, endedBy: "exit")
            } else if Double(now - run.lastActivity) / 1e9 >= configuration.idleTimeout {
                finish(run, endedBy: "idle-timeout")
            }
        }
    }

    /// Writes `summary.json` and the loss curve, syncs the log, and tells tailers.
    private func finish(_ run: RunState, endedBy: String) {
        for row in run.flushRows() { publish(row, of: run) }
        run.finished = true
        run.finishedAt = DispatchTime.now().uptimeNanoseconds
        guard let directory = run.directory, let log = run.log else { return }
        write(run, log)
        log.syncIfDue(interval: 0)
        let summary = run.summary(endedBy: endedBy, lossCurve: RunSummary.curveFileName)
        do {
            let text = try JSONValueEncoder().bytes(summary, style: .indented(2), sortedKeys: true)
            try atomicWrite(Data(text), to: directory.appendingPathComponent(RunSummary.fileName))
            let svg = LossCurveSVG.render(run: run.id, rows: run.rows, evals: run.evals)
            try atomicWrite(Data(svg.utf8), to: directory.appendingPathComponent(RunSummary.curveFileName))
            diagnostics("run \(run.id): ended (\(endedBy)); summary in \(directory.appendingPathComponent(RunSummary.fileName).path)")
        } catch {
            diagnostics("run \(run.id): cannot write the summary: \(error)")
        }
        pub.send(run.topic(named: "summary"), dontWait: true, more: true)
        pub.send(CollectorMessages.summary(summary), dontWait: true)
    }

    private func atomicWrite(_ data: Data, to url: URL) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp")
        try data.write(to: temporary)
        guard rename(temporary.path, url.path) == 0 else {
            throw TelemetryError.file(path: url.path, reason: "cannot replace: \(String(cString: strerror(errno)))")
        }
    }

    private func shutdown() {
        for name in runOrder {
            guard let run = runs[name], let log = run.log else { continue }
            write(run, log)
            if !run.finished { finish(run, endedBy: "collector-stopped") }
            log.syncIfDue(interval: 0)
        }
        pull.close()
        pub.close()
        subscriberCheck?.close()
    }

    // MARK: Snapshots (any thread)

    public func status() -> CollectorStatus {
        lock.lock(); defer { lock.unlock() }
        var acceptedByKind: [String: Int] = [:]
        for kind in EventKind.allCases { acceptedByKind[kind.rawValue] = accepted[kind.index] }
        var rejectedByReason: [String: Int] = [:]
        for reason in RejectionReason.allCases { rejectedByReason[reason.rawValue] = rejected[reason.index] }
        let runList = runOrder.compactMap { runs[$0] }.map { run in
            RunStatus(run: run.id, runDir: run.directory?.path, worldSize: run.worldSize, totalSteps: run.totalSteps,
                      finished: run.finished, events: run.eventCounts.values.reduce(0, +),
                      missing: run.ranks.values.reduce(0) { $0 + $1.missing }, lastRow: run.lastRow,
                      ranks: run.ranks.values.sorted { $0.rank < $1.rank },
                      latest: run.latestSteps.values.sorted { $0.rank < $1.rank })
        }
        return CollectorStatus(wireVersion: WireFormat.version, pull: pullEndpoint, pub: pubEndpoint, startedAt: startedAt,
                               accepted: acceptedByKind, rejected: rejectedByReason, bytesWritten: bytesWritten, runs: runList)
    }

    /// Messages accepted so far (cheap; for benchmarks and tests).
    public var acceptedCount: Int {
        lock.lock(); defer { lock.unlock() }
        return accepted.reduce(0, +)
    }

    /// The dashboard's curves of run `id`, or of the most recently active run.
    /// An unknown `id` gives nil, never another run's curves; an evicted run is re-read
    /// from its log.
    public func series(run id: String?, maxPoints: Int = 2_000) -> RunSeries? {
        lock.lock(); defer { lock.unlock() }
        let chosen: RunState?
        if let id {
            chosen = runs[id] ?? (WireFormat.isValidRunID(id.utf8) ? Self.replayed(id, knownFolder(id)) : nil)
        } else {
            chosen = runOrder.compactMap { runs[$0] }.max { $0.lastActivity < $1.lastActivity }
        }
        guard let run = chosen else { return nil }
        return RunSeries(run, runs: runOrder, maxPoints: maxPoints)
    }

    /// A run's state read back from the log in `directory` (for a run no longer in memory).
    static func replayed(_ id: String, _ directory: String?) -> RunState? {
        guard let directory else { return nil }
        var reader = EventLogReader(url: URL(fileURLWithPath: directory).appendingPathComponent(RunLog.fileName))
        let run = RunState(id: id)
        var found = 0
        guard (try? reader.readNew { event, _ in if event.run == id { run.apply(event); found += 1 } }) != nil, found > 0 else { return nil }
        run.directory = URL(fileURLWithPath: directory)
        run.finished = true
        return run
    }

    /// Runs held in memory (for tests of eviction).
    public var residentRuns: Int {
        lock.lock(); defer { lock.unlock() }
        return runs.count
    }
}

extension EventKind {
    /// Position in `allCases`, for counters kept in arrays.
    var index: Int {
        switch self {
        case .step: return 0
        case .start: return 1
        case .checkpoint: return 2
        case .eval: return 3
        case .warning: return 4
        case .error: return 5
        case .exit: return 6
        case .dropped: return 7
        case .heartbeat: return 8
        }
    }
}

extension RejectionReason {
    var index: Int { RejectionReason.allCases.firstIndex(of: self)! }
}

extension RunState {
    /// The PUB topic frame for this run's events of `kind` (cached).
    func topic(_ kind: EventKind) -> [UInt8] { topic(named: kind.rawValue) }

    func topic(named name: String) -> [UInt8] {
        if let t = topics[name] { return t }
        let t = WireFormat.topic(run: id, kind: name)
        topics[name] = t
        return t
    }
}
