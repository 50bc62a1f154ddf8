import DLLMJSON
import DLLMProcess
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The metrics collector of a launch (`dllm-collector`): started by the launcher when the
/// executable sits beside `dllm-launch` or on PATH, or an address given with
/// `--collector`. Ranks find it through `DLLM_COLLECTOR` (and `DLLM_RUN_ID`).
public final class Collector: Sendable {
    /// The address ranks push to, e.g. `tcp://node1:40123`.
    public let address: String
    private let process: ChildProcess?
    /// The PULL and PUB ports it bound (a restart binds the same ones, so the ranks'
    /// PUSH sockets and tailers reconnect by themselves).
    public let ports: (pull: Int, pub: Int)

    /// The exact command line that starts the collector. Kept here, alone, so it can
    /// follow `dllm-collector`'s options. `--port 0` picks free ports; the collector
    /// prints one JSON line with its endpoints (`{"pull":"tcp://…",…}`) when ready.
    /// `--exit-with-parent`: it writes its summaries and exits when the launcher dies.
    public static func commandLine(executable: String, bind: String, runDirectory: String, pullPort: Int = 0, pubPort: Int = 0) -> [String] {
        [executable, "run", "--bind", bind, "--port", "\(pullPort)", "--pub-port", "\(pubPort)", "--http-port", "0",
         "--run-dir", runDirectory, "--exit-with-parent"]
    }

    /// The collector executable: beside this program, else on PATH.
    public static func findExecutable() -> String? {
        let beside = ChildProcess.executableDirectory.appendingPathComponent("dllm-collector").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return ChildProcess.which("dllm-collector")
    }

    init(address: String, process: ChildProcess?, ports: (pull: Int, pub: Int) = (0, 0)) {
        self.address = address
        self.process = process
        self.ports = ports
    }

    /// An already running collector.
    public static func external(_ address: String) -> Collector { Collector(address: address, process: nil) }

    /// Starts one and waits (at most `timeout` seconds) for its endpoints. `advertise` is
    /// the host name the ranks reach this machine by; multi-machine runs bind every interface.
    public static func start(executable: String, multiMachine: Bool, advertise: String, runDirectory: URL, logFile: URL,
                             environment: [String: String], ports: (pull: Int, pub: Int) = (0, 0), timeout: Double = 15) throws -> Collector {
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        let bind = multiMachine ? "*" : "127.0.0.1"
        let output = try OutputPipe()
        let arguments = commandLine(executable: executable, bind: bind, runDirectory: runDirectory.path, pullPort: ports.pull, pubPort: ports.pub)
        let process = try ChildProcess(arguments: arguments, environment: environment, newProcessGroup: true, output: output.write)
        close(output.write)
        let log = open(logFile.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        let ready = DispatchSemaphore(value: 0)
        let found = RecentLines(capacity: 2)
        _ = LineReader(fd: output.read) { line in
            RankAgent.write(log, line + "\n")
            if found.lines.isEmpty, let (pull, pub) = Self.endpoints(line) {
                found.append(pull)
                found.append(pub)
                ready.signal()
            }
        }
        guard ready.wait(timeout: .now() + timeout) == .success, found.lines.count == 2 else {
            process.signal(SIGKILL)
            _ = process.wait(seconds: 2)
            throw LaunchError.cannotStart(program: executable, reason: "it printed no endpoints within \(Int(timeout)) s (see \(logFile.path))")
        }
        let (pull, pub) = (found.lines[0], found.lines[1])
        return Collector(address: Self.advertised(pull, host: multiMachine ? advertise : nil), process: process,
                         ports: (Self.port(pull), Self.port(pub)))
    }

    /// The `pull` and `pub` endpoints of the collector's ready line, if this is it.
    static func endpoints(_ line: String) -> (String, String)? {
        guard line.hasPrefix("{"), let object = try? JSONParser.parse(line),
              let pull = object["pull"]?.stringValue, let pub = object["pub"]?.stringValue else { return nil }
        return (pull, pub)
    }

    static func port(_ endpoint: String) -> Int { endpoint.split(separator: ":").last.flatMap { Int($0) } ?? 0 }

    /// The process id of a collector this launcher started.
    public var pid: pid_t? { process?.pid }

    /// How a collector this launcher started ended, once it did (nil while it runs).
    public func ended() -> Termination? { process?.poll() }

    /// `tcp://0.0.0.0:PORT` (or `*`) rewritten with the host ranks should use.
    static func advertised(_ endpoint: String, host: String?) -> String {
        guard let host, let colon = endpoint.lastIndex(of: ":"), endpoint.hasPrefix("tcp://") else { return endpoint }
        return "tcp://\(host)\(endpoint[colon...])"
    }

    /// Stops a collector this launcher started (it writes its summaries on SIGTERM).
    public func stop() {
        guard let process else { return }
        process.signalGroup(SIGTERM)
        if process.wait(seconds: 10) == nil {
            process.signalGroup(SIGKILL)
            _ = process.wait(seconds: 2)
        }
    }
}
