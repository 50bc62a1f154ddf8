import DLLMConfig
import DLLMProcess
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a launch from start to end: the collector, every attempt of the job (the
/// first, then up to `max_restarts` restarts from the last complete checkpoint),
/// signals, and the failure report.
///
/// Signals: the first SIGTERM, SIGINT or SIGHUP asks every rank to finish its step,
/// checkpoint and exit (through SIGUSR1, which `mpirun` and `srun` forward), within
/// `--stop_timeout` seconds; a second one, or the timeout, stops the ranks at once.
/// A rank that dies or exits non-zero makes `mpirun`/`srun` stop the others; should
/// they linger, the launcher kills them after `failureGrace` seconds.
///
/// One job per output folder: the launcher holds `OutputLock` on `output_dir` for its
/// whole run, and a second launch on it is refused naming the holder. Should the
/// launcher itself die (even by SIGKILL), its collector (`--exit-with-parent`) and
/// every rank's agent (`DLLM_LAUNCHER_PID`/`DLLM_LAUNCHER_START`) notice within a
/// second and end. A collector that dies is reported and restarted once, on the
/// same ports.
public final class LaunchCoordinator {
    public let plan: LaunchPlan
    public private(set) var environment: [String: String]
    /// The collector this launcher started (nil: none, or an external one).
    private var collector: Collector?
    private var collectorRestarted = false
    /// Seconds between noticing a failed rank and killing whatever still runs.
    public var failureGrace = 5.0
    let say: (String) -> Void

    public init(plan: LaunchPlan, environment: [String: String] = ProcessInfo.processInfo.environment,
                say: @escaping (String) -> Void = { RankAgent.write(2, "[dllm-launch] \($0)\n") }) {
        self.plan = plan
        self.environment = environment
        self.say = say
    }

    enum Outcome {
        case succeeded
        case stopped(signal: Int32)
        case failed(FailureReport)
    }

    /// Returns the exit status for the launcher: 0 when training finished; the failing
    /// rank's status when it failed; 128 + the signal when it was stopped on request.
    public func run() throws -> Int32 {
        let logs = plan.logDirectory
        if plan.numMachines > 1 && plan.slurm == nil {
            // MPI starts every rank from machine 0 (over ssh, from a hostfile): the other machines run nothing themselves.
            if plan.machineRank > 0 {
                say("machine_rank \(plan.machineRank): with MPI, machine 0 starts the ranks of every machine (over ssh, from its hostfile); nothing to do here. "
                    + "The whole job is: \(plan.equivalentHostfileCommand())")
                return 0
            }
            guard plan.options.hostfile != nil else {
                throw LaunchError.badOption(name: "--num_machines", value: "\(plan.numMachines)",
                                            expected: "a hostfile naming the machines (--hostfile FILE with 'host slots=N' lines, or mpirun_config.mpirun_hostfile), "
                                                + "or a Slurm allocation; \(plan.equivalentHostfileCommand())")
            }
        }
        let lock: OutputLock
        do { lock = try OutputLock(directory: plan.outputDirectory, program: "dllm-launch") } catch {
            throw LaunchError.outputBusy("\(error)")
        }
        defer { withExtendedLifetime(lock) {} }
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        for note in plan.notes { say(note) }
        let dllm = try findDLLM()
        if plan.options.command == .train { try checkTrainingConfig(dllm: dllm) }
        let tool = try RankStarter.choose(plan.options.starter, slurm: plan.slurm, srunSupportsPMIx: RankStarter.srunSupportsPMIx)
        let starter = try starterPath(tool)
        if plan.slurm != nil && tool == .mpirun && plan.options.starter == .auto {
            say("srun has no PMIx plugin here (srun --mpi=list): starting the ranks with mpirun inside the allocation")
        }
        let inbox = SignalInbox([SIGINT, SIGTERM, SIGHUP])
        let runID = Self.runID(environment: environment, slurm: plan.slurm, config: plan.options.trainingConfig)
        if plan.numMachines > 1, plan.options.collector == nil, environment["DLLM_COLLECTOR_TOKEN"]?.isEmpty != false {
            // The collector listens beyond loopback: only holders of this secret may write to it or read it.
            environment["DLLM_COLLECTOR_TOKEN"] = Self.newToken()
            say("the collector listens on every interface: a fresh DLLM_COLLECTOR_TOKEN is passed to it and to the ranks")
        }
        let external = startCollector(runID: runID)
        defer { collector?.stop() }

        say("\(plan.worldSize) rank(s) on \(plan.numMachines) machine(s) through \(tool.rawValue), \(plan.sharding), "
            + "\(plan.threadsPerRank) thread(s) per rank; run \(runID); logs in \(logs.path)")
        var attempt = 1
        while true {
            var arguments = plan.trainingArguments
            if plan.options.command == .train, let latest = OutputDirectory.latestCheckpoint(in: plan.outputDirectory),
               attempt > 1 || !OutputDirectory.resumeChosen(arguments) {
                arguments = OutputDirectory.resumingLatest(arguments)
                say("resuming from \(latest.url.path) (step \(latest.step))")
            }
            let outcome = try runAttempt(attempt, tool: tool, starter: starter, dllm: dllm, arguments: arguments,
                                         runID: runID, collector: external?.address, inbox: inbox)
            switch outcome {
            case .succeeded:
                say("done: \(plan.options.command == .train ? "training" : "evaluation") finished (\(plan.outputDirectory.path))")
                return 0
            case let .stopped(signal):
                let latest = OutputDirectory.latestCheckpoint(in: plan.outputDirectory)
                say("stopped on \(Signals.name(signal))" + (latest.map { "; checkpoint \($0.url.path) (step \($0.step)): run the same command again to resume" } ?? ""))
                return 128 + signal
            case let .failed(report):
                for line in report.lines() { say(line) }
                guard attempt <= plan.options.maxRestarts else {
                    if plan.options.maxRestarts > 0 { say("no restarts left (--max_restarts \(plan.options.maxRestarts))") }
                    return report.exitCode
                }
                attempt += 1
                say("restarting the whole job (restart \(attempt - 1) of \(plan.options.maxRestarts))")
            }
        }
    }

    /// One start of every rank, supervised to its end.
    func runAttempt(_ attempt: Int, tool: RankStarter.Tool, starter: String, dllm: String, arguments: [String],
                    runID: String, collector: String?, inbox: SignalInbox) throws -> Outcome {
        let logs = plan.logDirectory
        RankRecord.clear(in: logs)
        var env = environment
        env["DLLM_RUN_ID"] = runID
        if let collector { env["DLLM_COLLECTOR"] = collector }
        env["DLLM_NUM_THREADS"] = "\(plan.threadsPerRank)"
        env["OMP_NUM_THREADS"] = "\(plan.threadsPerRank)"
        env["DLLM_TEE"] = "1"  // every rank logs into its own file; the agents choose what reaches the console
        env["DLLM_SHARDING"] = plan.sharding
        env[MixedPrecision.environmentName] = plan.mixedPrecision.rawValue
        if let path = plan.options.launchConfigPath { env["DLLM_LAUNCH_CONFIG"] = OutputDirectory.absolute(path).path }
        env["DLLM_WORLD_SIZE"] = "\(plan.worldSize)"
        env["DLLM_NUM_MACHINES"] = "\(plan.numMachines)"
        env["DLLM_RANKS_PER_MACHINE"] = "\(plan.ranksPerMachine)"
        env["DLLM_LAUNCH_ATTEMPT"] = "\(attempt)"
        env["DLLM_LOG_DIR"] = logs.path
        env["DLLM_LAUNCHER_PID"] = "\(getpid())"
        env["DLLM_LAUNCHER_HOST"] = shortHostName()
        env["DLLM_LAUNCHER_START"] = ProcessIdentity.startTime(of: getpid()).map { "\($0)" } ?? ""

        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        var rank = [me, "agent", "--log-dir", logs.path, "--kill-grace", "\(Int(plan.options.stopTimeout))"]
        if plan.options.tee { rank.append("--tee") }
        rank += ["--", dllm] + plan.rankCommand(arguments)
        let argv: [String]
        switch tool {
        case .mpirun:
            argv = RankStarter.mpirunArguments(mpirun: starter, plan: plan, rank: rank, environment: env,
                                               hostfile: plan.options.hostfile, isRoot: getuid() == 0)
        case .srun:
            argv = RankStarter.srunArguments(srun: starter, plan: plan, rank: rank, environment: env)
        }
        let launcherLog = open(logs.appendingPathComponent("launcher.log").path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        defer { close(launcherLog) }
        RankAgent.write(launcherLog, "----- attempt \(attempt), \(Date()): \(argv.joined(separator: " "))\n")

        let output = try OutputPipe()
        let job = try ChildProcess(arguments: argv, environment: env, newProcessGroup: true, output: output.write)
        close(output.write)
        let reader = LineReader(fd: output.read) { line in
            RankAgent.write(launcherLog, line + "\n")
            RankAgent.write(2, line + "\n")
        }

        // Hang detection from the telemetry of the collector this launcher runs (its metrics.jsonl is local).
        let watch = self.collector != nil && plan.options.hangTimeout > 0
            ? HangWatch(metricsFile: plan.outputDirectory.appendingPathComponent("metrics.jsonl"), runID: runID, timeout: plan.options.hangTimeout)
            : nil
        var lastWatch = Date.distantPast
        var hang: [String] = []
        var stopSignal: Int32?
        var stopDeadline: Date?
        var failureNoticed: Date?
        var killedHard = false
        var ended: Termination?
        while ended == nil {
            for sig in inbox.take() {
                if stopSignal == nil {
                    stopSignal = sig
                    stopDeadline = Date().addingTimeInterval(plan.options.stopTimeout)
                    say("\(Signals.name(sig)): every rank finishes its step, writes a checkpoint and exits (again to stop at once)")
                    job.signal(SIGUSR1)
                } else if !killedHard {
                    say("\(Signals.name(sig)) again: stopping every rank now")
                    hardStop(job, tool: tool)
                    killedHard = true
                }
            }
            if failureNoticed == nil, FailureReport.rootCause(in: logs) != nil { failureNoticed = Date() }
            if !killedHard, let noticed = failureNoticed, Date().timeIntervalSince(noticed) > failureGrace {
                say("ranks still running \(Int(failureGrace)) s after a failure: killing them")
                hardStop(job, tool: tool)
                killedHard = true
            }
            if !killedHard, let deadline = stopDeadline, Date() >= deadline {
                say("the ranks did not stop within --stop_timeout \(Int(plan.options.stopTimeout)) s: killing them")
                hardStop(job, tool: tool)
                killedHard = true
            }
            if let watch, hang.isEmpty, !killedHard, stopSignal == nil, Date().timeIntervalSince(lastWatch) >= 1 {
                lastWatch = Date()
                watch.poll()
                let silent = watch.silentRanks()
                if !silent.isEmpty {
                    hang = HangWatch.describe(silent, worldSize: plan.worldSize)
                        + ["ending the job: no rank can finish a step without the silent one(s) (--hang-timeout \(Int(plan.options.hangTimeout)) s)"]
                    say("hang detected (--hang-timeout \(Int(plan.options.hangTimeout)) s): stopping every rank")
                    hardStop(job, tool: tool)
                    killedHard = true
                }
            }
            superviseCollector()
            ended = job.poll()
            if ended == nil { usleep(50_000) }
        }
        reader.finish(within: 3)
        killLeftovers()
        let status = ended!
        let cause = FailureReport.rootCause(in: logs)
        if status.succeeded && cause == nil {
            if let stopSignal, !finishedThisAttempt(logs) { return .stopped(signal: stopSignal) }
            return .succeeded
        }
        if let stopSignal, cause == nil { return .stopped(signal: stopSignal) }
        var report = FailureReport(cause: cause, starter: status, starterName: tool.rawValue, logDirectory: logs, worldSize: plan.worldSize)
        if !hang.isEmpty {
            report.telemetryLines = hang
        } else if cause == nil, let watch {
            // The starter ended the job by itself (e.g. OpenMPI lost a remote daemon): what each rank last reported.
            watch.poll()
            report.telemetryLines = watch.lastReports(starterOutput: RankRecord.tail(of: logs.appendingPathComponent("launcher.log"), lines: 80))
        }
        return .failed(report)
    }

    /// True when rank 0 wrote the final checkpoint during this attempt (the run reached its end
    /// although a stop was asked for).
    func finishedThisAttempt(_ logs: URL) -> Bool {
        let lines = RankRecord.tail(of: RankRecord.logFile(0, in: logs), lines: 200)
        let current = lines.lastIndex { $0.hasPrefix("----- dllm-launch: rank 0") }.map { lines[$0...] } ?? lines[...]
        return current.contains { $0.contains("saved") && $0.contains("checkpoint-final") }
    }

    /// The whole training config and every override, validated by the training code itself
    /// (`dllm train CONFIG ARGS --check-config`, one plain process) before the collector,
    /// `mpirun` or any rank starts: a typo or a bad value is one message naming the key,
    /// not a failure of every rank.
    func checkTrainingConfig(dllm: String) throws {
        // Without the MPI/Slurm rank variables this launcher may run under: the check is no rank.
        let env = environment.filter { key, _ in !["OMPI_", "PMI_", "PMIX_", "SLURM_PROCID"].contains { key.hasPrefix($0) } }
        let result = try ChildProcess.run([dllm, "train", plan.options.trainingConfig] + plan.trainingArguments + ["--check-config"],
                                          environment: env)
        guard result.status == 0 else {
            // ArgumentParser writes "Error: MESSAGE" and then the usage; keep the message.
            let lines = result.errors.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let message = lines.prefix { !$0.hasPrefix("Usage:") }.joined(separator: "\n")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let text = message.hasPrefix("Error: ") ? String(message.dropFirst("Error: ".count)) : message
            throw LaunchError.configRefused(text.isEmpty ? "dllm train --check-config exited with \(result.status)" : text)
        }
    }

    /// Ends the job now: the starter tears the ranks down; whatever survives is killed.
    func hardStop(_ job: ChildProcess, tool: RankStarter.Tool) {
        switch tool {
        case .mpirun: job.signal(SIGTERM)
        case .srun:
            // Two interrupts within a second make srun cancel the step.
            job.signal(SIGINT)
            usleep(200_000)
            job.signal(SIGINT)
        }
        if job.wait(seconds: 4) == nil {
            job.signalGroup(SIGKILL)
            killLeftovers()
        }
    }

    /// SIGKILL for any rank or agent of this machine still alive after its job ended.
    func killLeftovers() {
        let host = shortHostName()
        for record in RankRecord.all(in: plan.logDirectory, suffix: ".pid") where record.host == host {
            for pid in [record.pid, record.agentPID] where pid > 0 && Self.isOurs(pid) {
                kill(pid, SIGKILL)
            }
        }
    }

    /// A live process running dllm (so a recycled pid is never killed).
    static func isOurs(_ pid: Int32) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        if stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") == true { return false }
        return String(decoding: data, as: UTF8.self).contains("dllm")
    }

    func findDLLM() throws -> String {
        if let path = plan.options.dllmPath {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw LaunchError.missingProgram(name: path, hint: "--dllm must name the dllm executable")
            }
            return OutputDirectory.absolute(path).path
        }
        let beside = ChildProcess.executableDirectory.appendingPathComponent("dllm").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        if let found = ChildProcess.which("dllm") { return found }
        throw LaunchError.missingProgram(name: "dllm", hint: "build it (swift build --product dllm), run Launchers/setup.sh, or pass --dllm PATH")
    }

    func starterPath(_ tool: RankStarter.Tool) throws -> String {
        guard let path = ChildProcess.which(tool.rawValue) else {
            throw LaunchError.missingProgram(name: tool.rawValue, hint: tool == .mpirun
                ? "install OpenMPI (apt-get install openmpi-bin libopenmpi-dev, or Launchers/setup.sh)"
                : "srun comes with Slurm; outside an allocation use --launcher mpirun")
        }
        return path
    }

    /// The collector the ranks report to: an external one, none, or one started here
    /// (then also kept in `collector`, for `superviseCollector`).
    func startCollector(runID: String) -> Collector? {
        if let address = plan.options.collector {
            if address == "none" { return nil }
            say("metrics go to the collector at \(address)")
            return Collector.external(address)
        }
        guard let executable = Collector.findExecutable() else {
            say("no dllm-collector beside dllm-launch or on PATH: running without live metrics")
            return nil
        }
        do {
            collector = try launchCollector(executable, ports: (plan.options.mainProcessPort ?? 0, 0))
            say("collector at \(collector!.address) (log: \(plan.logDirectory.appendingPathComponent("collector.log").path))")
            return collector
        } catch {
            say("\(error): running without live metrics")
            return nil
        }
    }

    private func launchCollector(_ executable: String, ports: (pull: Int, pub: Int)) throws -> Collector {
        try Collector.start(executable: executable, multiMachine: plan.numMachines > 1, advertise: collectorHost(),
                            runDirectory: plan.outputDirectory, logFile: plan.logDirectory.appendingPathComponent("collector.log"),
                            environment: environment, ports: ports)
    }

    /// The address ranks of other machines reach the collector by: `main_process_ip`, else
    /// this machine's address on `--network-interface`/`--network-subnet`, else its host name.
    func collectorHost() throws -> String {
        if let ip = plan.options.mainProcessIP { return ip }
        if let network = plan.options.network { return try network.localAddress() }
        return shortHostName()
    }

    /// Reports a collector that died and starts it again once, on the same ports: the
    /// ranks' PUSH sockets reconnect by themselves and the new collector continues the
    /// run's metrics.jsonl, so summary.json is still written at the end.
    func superviseCollector() {
        guard let current = collector, let ended = current.ended() else { return }
        collector = nil
        let pid = current.pid.map { "pid \($0)" } ?? ""
        guard !collectorRestarted, let executable = Collector.findExecutable() else {
            say("the collector (\(pid)) \(ended) again: training continues without live metrics, and no summary.json will be written")
            return
        }
        collectorRestarted = true
        say("the collector (\(pid)) \(ended): restarting it once, on the same ports (see \(plan.logDirectory.appendingPathComponent("collector.log").path))")
        do {
            collector = try launchCollector(executable, ports: current.ports)
            say("collector restarted at \(collector!.address); the ranks reconnect by themselves")
        } catch {
            say("cannot restart the collector: \(error); training continues without live metrics")
        }
    }

    /// A fresh random shared secret for the collector and the ranks.
    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(generator.next() as UInt64, radix: 16) }.joined()
    }

    /// `DLLM_RUN_ID` if set; in Slurm `slurm-JOBID` (a requeued job keeps it); else the
    /// config's name and the start time.
    public static func runID(environment: [String: String], slurm: SlurmAllocation?, config: String, now: Date = Date()) -> String {
        if let id = environment["DLLM_RUN_ID"], !id.isEmpty { return id }
        if let slurm { return "slurm-\(slurm.jobID)" }
        let stem = URL(fileURLWithPath: config).deletingPathExtension().lastPathComponent
        let safe = String(stem.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "-" }.prefix(64))
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return "\(safe.isEmpty ? "run" : safe)-\(formatter.string(from: now))"
    }
}
