import ArgumentParser
import CZMQ
import DLLMJSON
import DLLMTelemetry
import Foundation
import Synchronization

/// `dllm-collector bench`: how many events per second a collector receives,
/// validates, aggregates, republishes and persists. A real `CollectorCore` on
/// loopback TCP, fed by `--publishers` threads that push real encoded step events
/// as fast as the collector takes them (blocking sends, so nothing is dropped).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the collector's sustained throughput (events/s persisted); prints the figures.",
        discussion: "Build in release mode for meaningful figures: swift run -c release dllm-collector bench")

    @Option var events = 1_000_000
    @Option var publishers = 2
    @Option(help: "Seconds between syncs of metrics.jsonl, as in the collector.")
    var syncInterval = 1.0
    @Option(help: "Folder for the benchmark's metrics.jsonl (default: a temporary folder, removed after).")
    var dir: String?
    @Flag(help: "Print the figures as one JSON object.")
    var json = false
    @Flag(help: "Attach a subscriber that receives everything republished (as a live tail would).")
    var subscriber = false
    @Flag(help: "Only time the stages of handling one event (validate, aggregate, encode a row), in-process.")
    var breakdown = false

    func run() throws {
        if breakdown { return stages() }
        let folder = dir.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("dllm-collector-bench-\(getpid())")
        defer { if dir == nil { try? FileManager.default.removeItem(at: folder) } }
        var configuration = CollectorCore.Configuration(stateDirectory: folder.appendingPathComponent("state").path)
        configuration.pullPort = 0
        configuration.pubPort = 0
        configuration.runDirectory = folder.path
        configuration.syncInterval = syncInterval
        configuration.idleTimeout = 3_600
        let core = try CollectorCore(configuration)
        core.diagnostics = { _ in }
        let loopDone = DispatchSemaphore(value: 0)
        Thread { core.run(); loopDone.signal() }.start()

        // Validation alone, in this thread, on one encoded step event.
        var encoder = EventEncoder(source: EventSource(runID: "bench", rank: 0, host: "bench-host"))
        let sample = encoder.encode(.step(SyntheticRun(totalSteps: 1_000, worldSize: 2).metrics(step: 17, rank: 0)),
                                    seq: 17, time: Date().timeIntervalSince1970)
        var validator = EventValidator()
        let validations = 200_000
        let v0 = DispatchTime.now().uptimeNanoseconds
        var ok = 0
        sample.withUnsafeBytes { bytes in
            for _ in 0..<validations { if case .success = validator.validate(bytes) { ok += 1 } }
        }
        let validateRate = Double(validations) / (Double(DispatchTime.now().uptimeNanoseconds - v0) / 1e9)

        let perPublisher = events / publishers
        let total = perPublisher * publishers
        // Messages are encoded before the clock starts, so the figure is the collector's
        // (the publishers' sends still share the machine's cores with it).
        let synthetic = SyntheticRun(totalSteps: perPublisher, worldSize: publishers)
        let now = Date().timeIntervalSince1970
        let batches: [(bytes: [UInt8], ends: [Int])] = (0..<publishers).map { rank in
            var encoder = EventEncoder(source: EventSource(runID: "bench", rank: rank, host: "bench-host"))
            var bytes: [UInt8] = []
            var ends: [Int] = []
            bytes.reserveCapacity(perPublisher * 460)
            ends.reserveCapacity(perPublisher)
            for seq in 0..<perPublisher {
                bytes += encoder.encode(.step(synthetic.metrics(step: seq + 1, rank: rank)), seq: seq, time: now)
                ends.append(bytes.count)
            }
            return (bytes, ends)
        }
        let drain = Drain()
        if subscriber {
            let endpoint = core.pubEndpoint
            Thread {
                let context = ZMQContext()
                guard let sub = try? ZMQSocket(context, type: ZMQ_SUB) else { return }
                sub.set(ZMQ_RCVHWM, Int32(0))
                sub.set(ZMQ_SUBSCRIBE, bytes: [])
                try? sub.connect(endpoint)
                let message = ZMQMessage()
                while !drain.stopping {
                    guard sub.waitReadable(milliseconds: 50) else { continue }
                    while sub.receive(message, dontWait: true) { if !message.more { drain.count() } }
                }
                sub.close()
                drain.done.signal()
            }.start()
            usleep(300_000)  // the subscription reaches the collector
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let group = DispatchGroup()
        let endpoint = core.pullEndpoint
        for rank in 0..<publishers {
            group.enter()
            Thread {
                defer { group.leave() }
                let context = ZMQContext()
                guard let socket = try? ZMQSocket(context, type: ZMQ_PUSH) else { return }
                socket.set(ZMQ_SNDHWM, Int32(100_000))
                socket.set(ZMQ_LINGER, Int32(-1))
                try? socket.connect(endpoint)
                let batch = batches[rank]
                batch.bytes.withUnsafeBytes { all in
                    var from = 0
                    for end in batch.ends {
                        socket.send(UnsafeRawBufferPointer(rebasing: all[from..<end]), dontWait: false)
                        from = end
                    }
                }
                socket.close()
            }.start()
        }
        while core.acceptedCount < total {
            usleep(2_000)
            if Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 > 600 { break }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        group.wait()
        if subscriber {
            usleep(300_000)
            drain.stop()
            drain.done.wait()
        }
        core.stop()
        loopDone.wait()
        let status = core.status()
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(RunLog.fileName).path)[.size] as? Int) ?? 0
        let stored = try EventLogReader.readAll(folder.path).count

        func int(_ n: some BinaryInteger) -> JSONValue { .integer(Int64(n)) }
        let figures: JSONValue = .object([
            ("events", int(total)), ("publishers", int(publishers)), ("seconds", .double(seconds)),
            ("events_per_second", .double(Double(status.acceptedTotal) / seconds)),
            ("megabytes_per_second", .double(Double(fileBytes) / 1e6 / seconds)),
            ("bytes_per_event", int(fileBytes / max(1, total))), ("stored_lines", int(stored)),
            ("rejected", int(status.rejectedTotal)), ("validate_only_per_second", .double(validateRate)),
            ("loop_cpu_us_per_event", .double(core.loopCPUSeconds / Double(total) * 1e6)),
            ("cores", int(ProcessInfo.processInfo.activeProcessorCount)), ("cpu", .string(Self.cpuModel())),
            ("subscriber_received", int(drain.received)),
        ])
        if json {
            FileHandle.standardOutput.write(Data(JSONWriter.bytes(figures, sortedKeys: true) + [0x0A]))
        } else {
            print(String(format: "collector throughput: %.0f events/s persisted (%d events from %d publishers in %.2f s, %.1f MB/s, %d B/event)",
                         Double(status.acceptedTotal) / seconds, total, publishers, seconds, Double(fileBytes) / 1e6 / seconds,
                         fileBytes / max(1, total)))
            print(String(format: "validation alone:     %.0f events/s (one thread)", validateRate))
            print(String(format: "receive loop CPU:     %.2f µs/event (one core could take %.0f events/s)",
                         core.loopCPUSeconds / Double(total) * 1e6, Double(total) / max(core.loopCPUSeconds, 1e-9)))
            print("stored lines: \(stored), rejected: \(status.rejectedTotal)"
                  + (subscriber ? ", subscriber received \(drain.received) messages (events and rows)" : ""))
            print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(Self.cpuModel())")
        }
        if stored != total { throw ValidationError("only \(stored) of \(total) events reached metrics.jsonl") }
    }

    /// CPU time per event of each stage of the collector's handling, on one thread.
    func stages() {
        let synthetic = SyntheticRun(totalSteps: events, worldSize: 2)
        var encoder = EventEncoder(source: EventSource(runID: "bench", rank: 0, host: "bench-host"))
        let messages = (0..<10_000).map { encoder.encode(.step(synthetic.metrics(step: $0 + 1, rank: 0)), seq: $0, time: 1.7e9) }
        func time(_ name: String, _ body: () -> Void) {
            let t0 = CollectorCore.threadCPU()
            body()
            let seconds = CollectorCore.threadCPU() - t0
            print(name.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%6.2f µs/event", seconds / Double(events) * 1e6))
        }
        var validator = EventValidator()
        var parsed: [ReceivedEvent] = []
        parsed.reserveCapacity(messages.count)
        for m in messages { if case .success(let a) = m.withUnsafeBytes({ validator.validate($0) }) { parsed.append(a.event) } }
        time("scan (JSON only)") {
            for k in 0..<events {
                messages[k % messages.count].withUnsafeBytes { bytes in
                    var scanner = JSONScanner.forBenchmark(bytes)
                    scanner.scanForBenchmark()
                }
            }
        }
        // What a tree costs on this path: the whole message parsed into a JSONValue, as
        // every other JSON reader in the package does (the reason the scanner stays).
        let treeOptions = JSONParser.Options(maximumDepth: WireFormat.maxDepth)
        time("parse (DLLMJSON tree)") {
            for k in 0..<events {
                _ = messages[k % messages.count].withUnsafeBytes { try? JSONParser.parse($0, options: treeOptions) }
            }
        }
        time("validate (scan + schema)") {
            for k in 0..<events { _ = messages[k % messages.count].withUnsafeBytes { validator.validate($0) } }
        }
        time("encode (publisher side)") {
            for k in 0..<events { _ = encoder.encode(.step(synthetic.metrics(step: k, rank: 0)), seq: k, time: 1.7e9) }
        }
        let state = RunState(id: "bench")
        time("aggregate (RunState.apply)") {
            for k in 0..<events {
                var e = parsed[k % parsed.count]
                e.step = k / 2 + 1
                e.rank = k % 2
                e.seq = k / 2
                state.apply(e)
            }
        }
        var writer = JSONObjectWriter()
        guard let row = state.rows.last else { return }
        time("encode a row (per step)") {
            for _ in 0..<events { _ = CollectorMessages.row(row, run: "bench", writer: &writer) }
        }
    }

    static func cpuModel() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }) else { return "unknown CPU" }
        return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
    }
}

/// The benchmark subscriber's count and stop flag, shared across threads.
final class Drain: Sendable {
    private let messages = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    let done = DispatchSemaphore(value: 0)

    func count() { messages.wrappingAdd(1, ordering: .relaxed) }
    func stop() { stopped.store(true, ordering: .releasing) }
    var stopping: Bool { stopped.load(ordering: .acquiring) }
    /// Read after `done` was waited for, which orders it after every `count()`.
    var received: Int { messages.load(ordering: .relaxed) }
}
