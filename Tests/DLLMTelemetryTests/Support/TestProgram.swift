import DLLMProcess
import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// The built programs, next to the test bundle (`.build/debug/`).
enum Binaries {
    static var directory: URL { Bundle.main.bundleURL }
    static var collector: URL { directory.appendingPathComponent("dllm-collector") }
    static var dllm: URL { directory.appendingPathComponent("dllm") }
}

/// A program started by a test (through DLLMProcess's `ChildProcess`), its output
/// captured in files (so a chatty child can never block on a full pipe). Killed on
/// deinit if still running.
final class TestProgram {
    let child: ChildProcess
    let stdoutURL: URL
    let stderrURL: URL

    init(_ executable: URL, _ arguments: [String], in directory: URL, name: String,
         environment: [String: String] = [:]) throws {
        stdoutURL = directory.appendingPathComponent("\(name).out")
        stderrURL = directory.appendingPathComponent("\(name).err")
        let out = open(stdoutURL.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let err = open(stderrURL.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { close(out); close(err) }
        guard out >= 0, err >= 0 else { throw TestFailure("cannot create \(stdoutURL.path) or \(stderrURL.path)") }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        child = try ChildProcess(arguments: [executable.path] + arguments, environment: env, output: out, errors: err,
                                 directory: directory.path)
    }

    deinit {
        if child.poll() == nil {
            child.signal(SIGKILL)
            _ = child.wait()
        }
    }

    var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Waits for the first complete stdout line.
    func firstLine(timeout: Double) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let text = stdout
            if let newline = text.firstIndex(of: "\n") { return String(text[..<newline]) }
            if child.poll() != nil { return nil }
            usleep(20_000)
        }
        return nil
    }

    func signal(_ sig: Int32) { child.signal(sig) }

    /// Waits for the exit; nil on timeout (the process is then killed). The status is
    /// the exit code, or 128 + the signal for a killed child.
    @discardableResult
    func wait(timeout: Double) -> Int32? {
        let (termination, interrupted) = child.wait(seconds: timeout, thenSignal: SIGKILL)
        return interrupted ? nil : termination.exitCode
    }

    /// Runs a program to completion.
    static func run(_ executable: URL, _ arguments: [String], in directory: URL, name: String,
                    environment: [String: String] = [:], timeout: Double = 120) throws -> (status: Int32?, stdout: String, stderr: String) {
        let program = try TestProgram(executable, arguments, in: directory, name: name, environment: environment)
        let status = program.wait(timeout: timeout)
        return (status, program.stdout, program.stderr)
    }
}

/// A `dllm-collector run` started on free loopback ports.
final class CollectorFixture {
    let child: TestProgram
    let pull: String
    let pub: String
    let http: String?

    init(in directory: URL, name: String = "collector", arguments: [String] = [], environment: [String: String] = [:]) throws {
        var args = ["run", "--state-dir", directory.appendingPathComponent("state").path, "--idle-timeout", "60",
                    "--output-root", directory.path]
        if !arguments.contains("--port") { args += ["--port", "0"] }
        child = try TestProgram(Binaries.collector, args + arguments, in: directory, name: name, environment: environment)
        guard let line = child.firstLine(timeout: 20),
              let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String],
              let pull = object["pull"], let pub = object["pub"] else {
            throw TestFailure("collector did not start: \(child.stderr)")
        }
        self.pull = pull
        self.pub = pub
        http = object["http"]
    }

    /// The port of a `tcp://host:port` endpoint.
    static func port(_ endpoint: String) -> String { String(endpoint.split(separator: ":").last!) }

    /// SIGTERM and wait: the collector writes its summaries first.
    @discardableResult
    func stop() -> Int32? {
        child.signal(SIGTERM)
        return child.wait(timeout: 20)
    }

    func get(_ path: String) throws -> (status: Int, body: Data) {
        try HTTP.get(http! + path)
    }
}

enum HTTP {
    /// A blocking GET.
    static func get(_ url: String, timeout: Double = 10) throws -> (status: Int, body: Data) {
        let semaphore = DispatchSemaphore(value: 0)
        let reply = Reply()
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = timeout
        URLSession.shared.dataTask(with: request) { data, response, error in
            reply.outcome.withLock { $0 = (error, (response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data()) }
            semaphore.signal()
        }.resume()
        _ = semaphore.wait(timeout: .now() + timeout + 1)
        guard let (failure, status, body) = reply.outcome.withLock({ $0 }) else { throw URLError(.timedOut) }
        if let failure { throw failure }
        return (status, body)
    }

    /// What the session's callback thread hands back (a `Mutex`: after a timeout the callback
    /// may still run while the caller reads).
    private final class Reply: Sendable {
        let outcome = Mutex<(failure: (any Error)?, status: Int, body: Data)?>(nil)
    }
}

/// A fresh folder per test, removed afterwards unless DLLM_KEEP_TEST_FILES is set.
func makeTemporaryDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-telemetry-\(name)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func removeTemporaryDirectory(_ url: URL) {
    if ProcessInfo.processInfo.environment["DLLM_KEEP_TEST_FILES"] == nil { try? FileManager.default.removeItem(at: url) }
}

/// One parsed line of a metrics.jsonl.
func jsonLines(_ url: URL) throws -> [[String: Any]] {
    let text = try String(contentsOf: url, encoding: .utf8)
    return try text.split(separator: "\n").map { line in
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw TestFailure("not an object: \(line)")
        }
        return object
    }
}

/// The statistics JSON `publish-synthetic` prints.
struct PublisherStats: Decodable {
    struct Send: Decodable { let p50: Double, p99: Double, p999: Double, max: Double, mean: Double }
    let rank: Int
    let events: Int
    let sent: Int
    let dropped: Int
    let numbered: Int
    let connections: Int
    let elapsed_s: Double
    let send_us: Send

    static func parse(_ text: String) throws -> PublisherStats {
        guard let line = text.split(separator: "\n").last else { throw TestFailure("no statistics printed") }
        return try JSONDecoder().decode(PublisherStats.self, from: Data(line.utf8))
    }
}

/// A test precondition that failed, with what was seen.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
