import ArgumentParser
import CZMQ
import DLLMTelemetry
import Foundation

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

    func run() throws {
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
        core.stop()
        loopDone.wait()
        let status = core.status()
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(RunLog.fileName).path)[.size] as? Int) ?? 0
        let stored = try EventLogReader.readAll(folder.path).count

        let figures: [String: Any] = [
            "events": total, "publishers": publishers, "seconds": seconds,
            "events_per_second": Double(status.acceptedTotal) / seconds,
            "megabytes_per_second": Double(fileBytes) / 1e6 / seconds,
            "bytes_per_event": fileBytes / max(1, total), "stored_lines": stored,
            "rejected": status.rejectedTotal, "validate_only_per_second": validateRate,
            "loop_cpu_us_per_event": core.loopCPUSeconds / Double(total) * 1e6,
            "cores": ProcessInfo.processInfo.activeProcessorCount, "cpu": Self.cpuModel(),
        ]
        if json {
            let data = try JSONSerialization.data(withJSONObject: figures, options: [.sortedKeys])
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        } else {
            print(String(format: "collector throughput: %.0f events/s persisted (%d events from %d publishers in %.2f s, %.1f MB/s, %d B/event)",
                         Double(status.acceptedTotal) / seconds, total, publishers, seconds, Double(fileBytes) / 1e6 / seconds,
                         fileBytes / max(1, total)))
            print(String(format: "validation alone:     %.0f events/s (one thread)", validateRate))
            print(String(format: "receive loop CPU:     %.2f µs/event (one core could take %.0f events/s)",
                         core.loopCPUSeconds / Double(total) * 1e6, Double(total) / max(core.loopCPUSeconds, 1e-9)))
            print("stored lines: \(stored), rejected: \(status.rejectedTotal)")
            print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(Self.cpuModel())")
        }
        if stored != total { throw ValidationError("only \(stored) of \(total) events reached metrics.jsonl") }
    }

    static func cpuModel() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }) else { return "unknown CPU" }
        return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
    }
}
