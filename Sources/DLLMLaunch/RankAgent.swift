import DLLMProcess
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The small supervisor `mpirun`/`srun` start as each rank (`dllm-launch agent -- dllm
/// train …`). It runs the real rank as its child and:
///
/// - copies the rank's output to `logs/rank-R.log`, and to the console for rank 0 (every
///   rank, prefixed `[rank R]`, with `--tee`);
/// - relays a graceful stop: SIGUSR1 (what the launcher sends, since `mpirun` forwards
///   SIGUSR1 but turns SIGTERM into a kill) becomes SIGUSR1 for the rank, which finishes
///   its step, checkpoints and exits;
/// - on SIGTERM/SIGINT/SIGHUP (the job is being torn down, or Slurm's time limit) passes
///   SIGTERM on and kills the rank if it has not ended within `killGrace` seconds;
/// - records how the rank ended in `logs/rank-R.exit.json` (exit code or signal, host,
///   last lines), which the launcher reads to name the root cause of a failed job.
///
/// The rank runs under `setpriv --pdeathsig KILL` when available, so it cannot outlive
/// its agent even when the agent itself is killed with SIGKILL. (That is safe there:
/// `setpriv` execs the rank from the thread that forked it, so the "parent thread"
/// whose exit fires the signal is the agent's main thread, which lives as long as the
/// agent. The agent itself uses no parent-death signal: its parent is mpirun's daemon,
/// not the launcher.) The agent watches the launcher instead: on the launcher's machine,
/// when `DLLM_LAUNCHER_PID` no longer names the process that started at
/// `DLLM_LAUNCHER_START` (so a recycled pid is not mistaken for it), the launcher is
/// gone and the rank is killed at once.
public struct RankAgent {
    public var logDirectory: URL
    public var tee: Bool
    public var command: [String]
    public var killGrace: Double
    public var environment: [String: String]

    public init(logDirectory: URL, tee: Bool, command: [String], killGrace: Double = 30,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.logDirectory = logDirectory
        self.tee = tee
        self.command = command
        self.killGrace = killGrace
        self.environment = environment
    }

    /// This process's rank, from whichever launcher started it.
    public static func rank(_ env: [String: String]) -> Int {
        for key in ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"] {
            if let value = env[key].flatMap(Int.init) { return value }
        }
        return 0
    }

    /// Runs the rank to its end; returns the exit status the agent should exit with.
    public func run() -> Int32 {
        let rank = Self.rank(environment)
        let host = shortHostName()
        try? FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        let logPath = RankRecord.logFile(rank, in: logDirectory).path
        let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        let attempt = environment["DLLM_LAUNCH_ATTEMPT"] ?? "1"
        Self.write(log, "----- dllm-launch: rank \(rank) on \(host), attempt \(attempt), \(Date()) -----\n")

        let inbox = SignalInbox([SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2])
        var arguments = command
        if let setpriv = ChildProcess.which("setpriv") { arguments = [setpriv, "--pdeathsig", "KILL"] + arguments }
        let child: ChildProcess
        let output: OutputPipe
        do {
            output = try OutputPipe()
            child = try ChildProcess(arguments: arguments, environment: environment, output: output.write)
        } catch {
            Self.write(2, "[dllm-launch] rank \(rank) on \(host): \(error)\n")
            Self.write(log, "\(error)\n")
            RankRecord(rank: rank, host: host, pid: 0, agentPID: getpid(), exitCode: 127, endedAt: Date().timeIntervalSince1970,
                       seconds: 0, lastLines: ["\(error)"]).write(to: RankRecord.exitFile(rank, in: logDirectory))
            return 127
        }
        close(output.write)
        let started = Date()
        RankRecord(rank: rank, host: host, pid: child.pid, agentPID: getpid()).write(to: RankRecord.pidFile(rank, in: logDirectory))

        let recent = RecentLines(capacity: 20)
        let toConsole = rank == 0 || tee
        let prefix = tee ? "[rank \(rank)] " : ""
        let reader = LineReader(fd: output.read) { line in
            Self.write(log, line + "\n")
            if toConsole { Self.write(2, prefix + line + "\n") }
            recent.append(line)
        }

        var stoppedFromOutside = false
        var killAt: Date?
        var termination: Termination?
        let launcher = watchedLauncher(host: host)
        var nextLauncherCheck = Date()
        while termination == nil {
            if let launcher, Date() >= nextLauncherCheck {
                nextLauncherCheck = Date().addingTimeInterval(0.5)
                if !ProcessIdentity.isAlive(pid: launcher.pid, startTime: launcher.start) {
                    Self.write(log, "[dllm-launch] rank \(rank): the launcher (pid \(launcher.pid)) is gone: stopping this rank now\n")
                    stoppedFromOutside = true
                    child.signal(SIGKILL)
                }
            }
            for sig in inbox.take() {
                switch sig {
                case SIGUSR1, SIGUSR2:
                    child.signal(SIGUSR1)
                default:
                    stoppedFromOutside = true
                    child.signal(SIGTERM)
                    if killAt == nil { killAt = Date().addingTimeInterval(killGrace) }
                }
            }
            if let killAt, Date() >= killAt { child.signal(SIGKILL) }
            termination = child.poll()
            if termination == nil { usleep(20_000) }
        }
        reader.finish(within: 2)
        let ended = termination!
        var record = RankRecord(rank: rank, host: host, pid: child.pid, agentPID: getpid(), stoppedFromOutside: stoppedFromOutside,
                                endedAt: Date().timeIntervalSince1970, seconds: Date().timeIntervalSince(started), lastLines: recent.lines)
        switch ended {
        case let .exited(code): record.exitCode = code
        case let .signaled(sig): record.signal = sig
        }
        record.write(to: RankRecord.exitFile(rank, in: logDirectory))
        if !ended.succeeded {
            let line = "[dllm-launch] rank \(rank) on \(host) \(ended)\(stoppedFromOutside ? " after being told to stop" : "")\n"
            Self.write(log, line)
            if !stoppedFromOutside { Self.write(2, line) }
        }
        close(log)
        return ended.exitCode
    }

    /// The launcher to watch: only on its own machine (pids are per machine).
    func watchedLauncher(host: String) -> (pid: pid_t, start: UInt64)? {
        guard let pid = environment["DLLM_LAUNCHER_PID"].flatMap({ pid_t($0) }),
              let start = environment["DLLM_LAUNCHER_START"].flatMap({ UInt64($0) }),
              environment["DLLM_LAUNCHER_HOST"] == host else { return nil }
        return (pid, start)
    }

    public static func write(_ fd: Int32, _ text: String) {
        guard fd >= 0 else { return }
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}

/// The last N lines seen, shared between a reader thread and the supervisor.
final class RecentLines: Sendable {
    private let buffer = Mutex<[String]>([])
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func append(_ line: String) {
        buffer.withLock { buffer in
            buffer.append(line)
            if buffer.count > capacity { buffer.removeFirst(buffer.count - capacity) }
        }
    }

    var lines: [String] { buffer.withLock { $0 } }
}
