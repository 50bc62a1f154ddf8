import ArgumentParser
import DLLMJSON
import DLLMTelemetry
import Foundation

/// `dllm-collector publish-synthetic`: one made-up rank publishing through the real
/// `TelemetryPublisher`, timing every send. For tests, demos and benchmarks.
struct PublishSyntheticCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish-synthetic",
        abstract: "Publish a synthetic run as one rank (for tests and demos); prints send-time statistics as JSON.")

    @Option(help: "The collector's PULL endpoint.")
    var address = ProcessInfo.processInfo.environment["DLLM_COLLECTOR"] ?? "tcp://127.0.0.1:5555"
    @Option(name: .customLong("run"), help: "Run id.")
    var runID = "synthetic"
    @Option var rank = 0
    @Option var worldSize = 1
    @Option var steps = 1_000
    @Option(help: "Seconds between steps (0: as fast as possible).")
    var interval = 0.0
    @Option(help: "output_dir announced in the start event (absolute).")
    var outputDir: String?
    @Option(help: "Shared secret (else $DLLM_COLLECTOR_TOKEN).")
    var token: String?
    @Option(help: "Publisher queue limit (ZMQ_SNDHWM).")
    var queueLimit: Int32 = 10_000
    @Option(help: "How long to let queued events drain at the end, in milliseconds.")
    var lingerMs: Int32 = 2_000
    @Option(help: "Write the statistics JSON here instead of stdout.")
    var stats: String?
    @Option(help: "An eval event every this many steps (0: none).")
    var evalEvery = 1_000
    @Option(help: "A checkpoint event every this many steps (0: none).")
    var checkpointEvery = 2_500
    @Flag(help: "Send no exit event at the end.")
    var noExit = false

    func run() throws {
        var source = EventSource(runID: runID, rank: rank, host: EventSource.localHostName,
                                 token: token ?? ProcessInfo.processInfo.environment["DLLM_COLLECTOR_TOKEN"])
        if source.token?.isEmpty == true { source.token = nil }
        var configuration = TelemetryPublisher.Configuration(address: address, source: source)
        configuration.queueLimit = queueLimit
        configuration.lingerMilliseconds = lingerMs
        let publisher: TelemetryPublisher
        do { publisher = try TelemetryPublisher(configuration) } catch { throw ValidationError("\(error)") }
        let synthetic = SyntheticRun(totalSteps: steps, worldSize: worldSize)
        var durations: [UInt64] = []
        durations.reserveCapacity(steps + 64)
        func timed(_ event: TelemetryEvent) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            publisher.publish(event)
            durations.append(DispatchTime.now().uptimeNanoseconds - t0)
        }
        let config = Data(#"{"synthetic":true,"max_steps":\#(steps),"world_size":\#(worldSize)}"#.utf8)
        let output = outputDir ?? FileManager.default.currentDirectoryPath + "/runs/\(runID)"
        let started = DispatchTime.now().uptimeNanoseconds
        timed(.start(RunStart(outputDir: output, worldSize: worldSize, totalSteps: steps, config: config)))
        for step in 1...max(1, steps) {
            if interval > 0 {
                let due = started + UInt64(Double(step) * interval * 1e9)
                let now = DispatchTime.now().uptimeNanoseconds
                if due > now { usleep(UInt32((due - now) / 1_000)) }
            }
            timed(.step(synthetic.metrics(step: step, rank: rank)))
            if evalEvery > 0 && step % evalEvery == 0 { timed(.eval(step: step, loss: synthetic.metrics(step: step, rank: 0).loss + 0.1)) }
            if checkpointEvery > 0 && step % checkpointEvery == 0 && rank == 0 {
                timed(.checkpoint(step: step, path: "\(output)/checkpoint-\(step)"))
            }
            if step == steps / 2 && rank == 0 { timed(.warning("synthetic warning halfway through")) }
        }
        if !noExit { timed(.exit(.ok, step: steps)) }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let statistics = publisher.statistics
        publisher.close()

        let sorted = durations.sorted()
        func quantile(_ q: Double) -> Double { Double(sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))]) / 1_000 }
        func int(_ n: some BinaryInteger) -> JSONValue { .integer(Int64(n)) }
        let report: JSONValue = .object([
            ("rank", int(rank)), ("events", int(durations.count)), ("sent", int(statistics.sent)),
            ("dropped", int(statistics.dropped)), ("numbered", int(statistics.numbered)),
            ("connections", int(statistics.connections)), ("elapsed_s", .double(elapsed)),
            ("send_us", .object([("p50", .double(quantile(0.5))), ("p99", .double(quantile(0.99))), ("p999", .double(quantile(0.999))),
                                 ("max", .double(Double(sorted.last ?? 0) / 1_000)),
                                 ("mean", .double(Double(durations.reduce(0, +)) / Double(max(1, durations.count)) / 1_000))])),
        ])
        let data = Data(JSONWriter.bytes(report, sortedKeys: true))
        if let stats {
            try data.write(to: URL(fileURLWithPath: stats))
        } else {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }
}
