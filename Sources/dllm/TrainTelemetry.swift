import DLLMDistributed
import DLLMJSON
import DLLMTelemetry
import DLLMTraining
import Foundation

/// Connects `dllm train` to a telemetry collector through the trainer's hooks.
///
/// On when `DLLM_COLLECTOR` names the collector (`tcp://HOST:PORT`, set by the
/// launcher) or the config says `report_to: dllm` (then the local default,
/// tcp://127.0.0.1:5555). The run id is `DLLM_RUN_ID`, else `run_name`, else the
/// output folder's name; the rank comes from the MPI or Slurm environment. A heartbeat
/// goes out every `DLLM_HEARTBEAT_SECONDS` (default 2) between steps. Telemetry
/// can never stop training: a failure to set it up is logged and training goes on.
final class TrainTelemetry {
    let publisher: TelemetryPublisher
    let log: (String) -> Void

    private init(publisher: TelemetryPublisher, log: @escaping (String) -> Void) {
        self.publisher = publisher
        self.log = log
    }

    /// Publishes the start event and hooks the trainer; nil when telemetry is off.
    /// `rank` and `worldSize` are the communicator's when there is one, else read from
    /// the MPI or Slurm environment.
    static func attach(to trainer: Trainer, config: TrainingConfig, rank: Int? = nil, worldSize: Int? = nil,
                       log: @escaping (String) -> Void,
                       environment: [String: String] = ProcessInfo.processInfo.environment) -> TrainTelemetry? {
        let wanted = config.reportTo.contains("dllm") || config.reportTo.contains("all")
        guard let address = environment["DLLM_COLLECTOR"].flatMap({ $0.isEmpty ? nil : $0 })
                ?? (wanted ? "tcp://127.0.0.1:5555" : nil) else { return nil }
        let outputDir = URL(fileURLWithPath: config.outputDir).standardizedFileURL.path
        let runID = WireFormat.sanitizedRunID(environment["DLLM_RUN_ID"] ?? config.runName
                                              ?? URL(fileURLWithPath: outputDir).lastPathComponent)
        let rank = rank ?? Self.integer(environment, ["OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID"]) ?? 0
        let worldSize = worldSize ?? Self.integer(environment, ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"]) ?? 1
        let token = environment["DLLM_COLLECTOR_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        let source = EventSource(runID: runID, rank: rank, host: EventSource.localHostName, token: token)
        let publisher: TelemetryPublisher
        do {
            publisher = try TelemetryPublisher(.init(address: address, source: source))
        } catch {
            log("telemetry off: \(error)")
            return nil
        }
        let telemetry = TrainTelemetry(publisher: publisher, log: log)
        let configJSON = try? JSONValueEncoder().bytes(config, sortedKeys: true)
        publisher.publish(.start(RunStart(outputDir: outputDir, worldSize: worldSize, totalSteps: trainer.totalSteps,
                                          config: configJSON.map { Data($0) })))
        // This rank's AdamW state: its shard under ZeRO/FSDP, all of it otherwise.
        let optimizerBytes = trainer.strategy.memoryReport().optimizerState
        let previous = trainer.onStep
        trainer.onStep = { report in
            previous?(report)
            let compute = max(0, report.seconds - report.dataSeconds - report.communicationSeconds)
            publisher.publish(.step(StepMetrics(
                step: report.step, epoch: report.epoch, loss: report.loss, learningRate: report.learningRate,
                gradNorm: report.gradNorm, tokens: report.tokens, tokensPerSecond: Double(report.tokens) / max(report.seconds, 1e-9),
                stepTime: report.seconds, computeTime: compute, communicationTime: report.communicationSeconds,
                dataTime: report.dataSeconds, residentBytes: Self.residentBytes(), optimizerStateBytes: optimizerBytes)))
        }
        trainer.onCheckpoint = { step, url in publisher.publish(.checkpoint(step: step, path: url.path)) }
        trainer.onEval = { step, loss in publisher.publish(.eval(step: step, loss: loss)) }
        trainer.onWarning = { message in publisher.publish(.warning(message)) }
        // Liveness independent of steps, for the launcher's hang watch (docs/launch.md).
        let heartbeat = environment["DLLM_HEARTBEAT_SECONDS"].flatMap(Double.init) ?? Self.defaultHeartbeatSeconds
        publisher.startHeartbeat(every: heartbeat)
        log("telemetry: run \(runID), rank \(rank) of \(worldSize) → \(address)")
        return telemetry
    }

    /// The run ended normally (`stopped` when a signal cut it short).
    func finished(step: Int, stopped: Bool) {
        publisher.publish(.exit(stopped ? .stopped : .ok, step: step))
        publisher.close()
    }

    /// The run failed with `error`.
    func failed(_ error: Error, step: Int) {
        publisher.publish(.error("\(error)"))
        publisher.publish(.exit(.error, step: step))
        publisher.close()
    }

    /// Seconds between heartbeats when `DLLM_HEARTBEAT_SECONDS` does not say (0 turns them off):
    /// well under the launcher's default hang timeout (60 s) and its tests' (10 s).
    static let defaultHeartbeatSeconds = 2.0

    static func integer(_ environment: [String: String], _ names: [String]) -> Int? {
        for name in names { if let value = environment[name].flatMap(Int.init) { return value } }
        return nil
    }

    /// Resident set size from /proc/self/statm (pages × page size); 0 where unavailable.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
