import ArgumentParser
import DLLMJSON
import DLLMTelemetry
import Dispatch
import Foundation
import Synchronization

/// `dllm-collector run` (the default): the collector itself.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a collector (PULL from ranks, metrics.jsonl per run, PUB for tailers, HTTP dashboard and /metrics).",
        discussion: """
            On start it prints one JSON line with its endpoints, e.g.
              {"pull":"tcp://127.0.0.1:5555","pub":"tcp://127.0.0.1:5556","http":"http://127.0.0.1:5557"}
            SIGINT or SIGTERM: write the open runs' summaries, sync, exit.
            """)

    @Option(help: "Interface to bind: 127.0.0.1 (this machine only), an address of this node for multi-node runs, or '*'.")
    var bind = "127.0.0.1"
    @Option(help: "PULL port ranks push to (0: any free port).")
    var port = 5555
    @Option(help: "PUB port tailers subscribe to (default: --port + 1; 0: any free port).")
    var pubPort: Int?
    @Option(help: "HTTP port of the dashboard and /metrics (default: --port + 2; 0: any free port).")
    var httpPort: Int?
    @Flag(help: "Serve no HTTP.")
    var noHTTP = false
    @Option(help: "Write every run's metrics.jsonl and summary here instead of its output_dir.")
    var runDir: String?
    @Option(help: "Where the run index and folders of runs without an output_dir live.")
    var stateDir: String?
    @Option(help: "A folder under which a start event's output_dir is honoured (repeatable; the state directory always is). Other output_dirs go to STATE/runs/RUN_ID.")
    var outputRoot: [String] = []
    @Option(help: "A file holding the shared secret every message, subscriber and HTTP request must carry (else $DLLM_COLLECTOR_TOKEN, if set). Bound beyond loopback without one, the collector makes one and writes it to STATE/token.")
    var tokenFile: String?
    @Flag(help: "Stop (writing the summaries) when the process that started this one exits, as on SIGTERM (dllm-launch passes it).")
    var exitWithParent = false
    @Option(help: "Seconds a finished run stays in memory (then it is re-read from its metrics.jsonl when asked for).")
    var keepFinished = 60.0
    @Option(help: "Largest message stored, in bytes.")
    var maxMessageBytes = WireFormat.defaultMaxMessageBytes
    @Option(help: "Seconds between syncs of a run's metrics.jsonl to disk (0: after every receive batch).")
    var syncInterval = 1.0
    @Option(help: "Seconds without events after which a run is summarised as ended.")
    var idleTimeout = 300.0
    @Option(help: "Seconds events may wait for a start event naming their run's folder.")
    var unroutedTimeout = 10.0

    func validate() throws {
        for (name, value) in [("--port", port), ("--pub-port", pubPort ?? 0), ("--http-port", httpPort ?? 0)] where !(0...65535).contains(value) {
            throw ValidationError("\(name) \(value) is not a port (0–65535)")
        }
        if maxMessageBytes < 1024 { throw ValidationError("--max-message-bytes must be at least 1024") }
        if syncInterval < 0 || idleTimeout <= 0 || unroutedTimeout < 0 || keepFinished < 0 || !keepFinished.isFinite {
            throw ValidationError("--sync-interval, --unrouted-timeout and --keep-finished must not be negative, --idle-timeout must be positive")
        }
    }

    func run() async throws {
        var configuration = CollectorCore.Configuration(stateDirectory: stateDir ?? CollectorCore.Configuration.defaultStateDirectory)
        configuration.bind = bind
        configuration.pullPort = port
        configuration.pubPort = pubPort ?? (port == 0 ? 0 : port + 1)
        configuration.runDirectory = runDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        configuration.outputRoots = outputRoot.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        configuration.finishedRetention = keepFinished
        configuration.token = try Self.token(file: tokenFile)
        if configuration.token == nil && !Self.isLoopback(bind) {
            configuration.token = try Self.generatedToken(stateDirectory: configuration.stateDirectory)
        }
        configuration.maxMessageBytes = maxMessageBytes
        configuration.syncInterval = syncInterval
        configuration.idleTimeout = idleTimeout
        configuration.unroutedTimeout = unroutedTimeout
        let core: CollectorCore
        do { core = try CollectorCore(configuration) } catch { throw ValidationError("\(error)") }

        let finished = DispatchSemaphore(value: 0)
        let loop = Thread {
            core.run()
            finished.signal()
        }
        loop.name = "collector"
        loop.start()

        var http: HTTPService?
        var httpURL: String?
        if !noHTTP {
            let port = httpPort ?? (self.port == 0 ? 0 : self.port + 2)
            let service = try HTTPService.start(core: core, host: bind, port: UInt16(port), token: configuration.token)
            http = service
            httpURL = service.url
        }
        var ready: JSONValue = .object([("pull", .string(core.pullEndpoint)), ("pub", .string(core.pubEndpoint))])
        if let httpURL { ready["http"] = .string(httpURL) }
        if configuration.token != nil { ready["token"] = "required" }
        FileHandle.standardOutput.write(Data(JSONWriter.bytes(ready, sortedKeys: true) + [0x0A]))

        let reason = await Self.waitForSignal(parent: exitWithParent ? getppid() : nil)
        core.diagnostics("stopping (\(reason)): writing summaries")
        core.stop()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                finished.wait()
                continuation.resume()
            }
        }
        http?.stop()
    }

    /// The shared secret from `--token-file` or `$DLLM_COLLECTOR_TOKEN`.
    static func token(file: String?) throws -> String? {
        if let file {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ValidationError("--token-file \(file): cannot read it")
            }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw ValidationError("--token-file \(file) is empty") }
            return token
        }
        let env = ProcessInfo.processInfo.environment["DLLM_COLLECTOR_TOKEN"]
        return env?.isEmpty == false ? env : nil
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "::1" || host == "localhost" || host.hasPrefix("127.")
    }

    /// A fresh random secret, written to `STATE/token` (mode 0600) for the ranks and
    /// tailers to read, for a collector bound beyond loopback without one.
    static func generatedToken(stateDirectory: String) throws -> String {
        var generator = SystemRandomNumberGenerator()
        let token = (0..<4).map { _ in String(generator.next() as UInt64, radix: 16) }.joined()
        let url = URL(fileURLWithPath: stateDirectory).appendingPathComponent("token")
        do {
            try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600])
            try Data((token + "\n").utf8).write(to: url)
        } catch {
            throw ValidationError("bound beyond loopback without --token-file, and the generated token cannot be saved to \(url.path): \(error.localizedDescription)")
        }
        FileHandle.standardError.write(Data("[collector] bound beyond loopback without --token-file: generated a token in \(url.path); ranks need DLLM_COLLECTOR_TOKEN set to it\n".utf8))
        return token
    }

    /// Returns on SIGINT or SIGTERM, or once `parent` is no longer this process's
    /// parent (it died: checked every half second), saying which. Both signals stay
    /// ignored afterwards: the caller shuts down.
    static func waitForSignal(parent: pid_t?) async -> String {
        let once = Once()
        let signals = [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            return (sig, DispatchSource.makeSignalSource(signal: sig, queue: .global()))
        }
        let timer = parent.map { _ in DispatchSource.makeTimerSource(queue: .global()) }
        let reason = await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            for (sig, source) in signals {
                source.setEventHandler {
                    if once.claim() { continuation.resume(returning: sig == SIGINT ? "SIGINT" : "SIGTERM") }
                }
                source.resume()
            }
            if let parent, let timer {
                timer.schedule(deadline: .now() + 0.5, repeating: 0.5)
                timer.setEventHandler {
                    if getppid() != parent, once.claim() { continuation.resume(returning: "the launcher, pid \(parent), is gone") }
                }
                timer.resume()
            }
        }
        for (_, source) in signals { source.cancel() }
        timer?.cancel()
        return reason
    }
}

/// True exactly once, whichever thread asks first.
final class Once: Sendable {
    private let done = Atomic<Bool>(false)
    func claim() -> Bool {
        done.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }
}
