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
    @Option(help: "A file holding the shared secret every message must carry (else $DLLM_COLLECTOR_TOKEN, if set).")
    var tokenFile: String?
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
        if syncInterval < 0 || idleTimeout <= 0 || unroutedTimeout < 0 {
            throw ValidationError("--sync-interval and --unrouted-timeout must not be negative, --idle-timeout must be positive")
        }
    }

    func run() async throws {
        var configuration = CollectorCore.Configuration(stateDirectory: stateDir ?? CollectorCore.Configuration.defaultStateDirectory)
        configuration.bind = bind
        configuration.pullPort = port
        configuration.pubPort = pubPort ?? (port == 0 ? 0 : port + 1)
        configuration.runDirectory = runDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        configuration.token = try Self.token(file: tokenFile)
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
            let service = try await HTTPService.start(core: core, host: bind, port: UInt16(port))
            http = service
            httpURL = await service.url
        }
        var ready: JSONValue = .object([("pull", .string(core.pullEndpoint)), ("pub", .string(core.pubEndpoint))])
        if let httpURL { ready["http"] = .string(httpURL) }
        if configuration.token != nil { ready["token"] = "required" }
        FileHandle.standardOutput.write(Data(JSONWriter.bytes(ready, sortedKeys: true) + [0x0A]))
        if bind != "127.0.0.1" && bind != "::1" && configuration.token == nil {
            core.diagnostics("bound to \(bind) without a token: anyone who can reach it can write to your runs (use --token-file)")
        }

        await Self.waitForSignal()
        core.diagnostics("stopping: writing summaries")
        core.stop()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                finished.wait()
                continuation.resume()
            }
        }
        await http?.stop()
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

    /// Returns on SIGINT or SIGTERM (both stay ignored afterwards: the caller shuts down).
    static func waitForSignal() async {
        let once = Once()
        let sources = [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            return DispatchSource.makeSignalSource(signal: sig, queue: .global())
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            for source in sources {
                source.setEventHandler { if once.claim() { continuation.resume() } }
                source.resume()
            }
        }
        for source in sources { source.cancel() }
    }
}

/// True exactly once, whichever thread asks first.
final class Once: Sendable {
    private let done = Atomic<Bool>(false)
    func claim() -> Bool {
        done.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }
}
