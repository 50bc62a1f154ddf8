import DLLMCheckpoint
import DLLMProcess
import Foundation
import Synchronization
import XCTest

/// Runs the built `dllm-launch` (and `dllm`) on the tiny fixture model of the
/// distributed tests, each test in its own temporary folder.
class LaunchTestCase: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DLLMDistributedTests/Fixtures")
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The programs built beside this test bundle.
    static func built(_ name: String) -> URL {
        var dir = Bundle(for: LaunchTestCase.self).bundleURL
        while dir.path != "/" {
            let candidate = dir.deletingLastPathComponent().appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/\(name)")
    }

    static let launcher = built("dllm-launch")
    static let dllm = built("dllm")

    var work: URL!
    var trainConfig: URL { work.appendingPathComponent("train.yaml") }

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-launch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let config = """
        model_name_or_path: \(Self.fixtures.appendingPathComponent("model").path)
        dataset_args: \(Self.fixtures.appendingPathComponent("data").path)
        max_length: 32
        learning_rate: 3.0e-3
        max_steps: 10
        per_device_train_batch_size: 2
        gradient_accumulation_steps: 2
        max_grad_norm: 0.5
        weight_decay: 0.1
        logging_steps: 1
        save_strategy: "no"
        lr_scheduler_type: cosine
        warmup_steps: 2
        seed: 7
        output_dir: \(work.appendingPathComponent("out").path)
        """
        try config.write(to: trainConfig, atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        killOurs()
        try? FileManager.default.removeItem(at: work)
    }

    struct Run {
        let status: Int32
        let output: String
        /// The launcher was still running at the timeout and was interrupted (SIGINT): a hang
        /// guard, not a speed check.
        let interrupted: Bool
    }

    /// A started launcher, for tests that act on it while it runs.
    final class Running {
        let process: ChildProcess
        private let collected = Collected()
        private let reader: LineReader
        init(_ process: ChildProcess, output: Int32) {
            self.process = process
            reader = LineReader(fd: output) { [collected] line in collected.append(Data((line + "\n").utf8)) }
        }
        func finish(timeout: Double = 120) -> Run {
            let (termination, interrupted) = process.wait(seconds: timeout, thenSignal: SIGINT)
            reader.finish(within: 2)
            return Run(status: termination.exitCode, output: collected.text, interrupted: interrupted)
        }
        var output: String { collected.text }
    }

    final class Collected: Sendable {
        private let data = Mutex(Data())
        func append(_ more: Data) { data.withLock { $0.append(more) } }
        var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
    }

    func start(_ arguments: [String], environment: [String: String] = [:], launcher: URL = LaunchTestCase.launcher) throws -> Running {
        var env = ProcessInfo.processInfo.environment
        env["DLLM_NUM_THREADS"] = "1"
        for (k, v) in environment { env[k] = v }
        let pipe = try OutputPipe()
        let process = try ChildProcess(arguments: [launcher.path] + arguments, environment: env, output: pipe.write,
                                       directory: work.path)
        close(pipe.write)
        return Running(process, output: pipe.read)
    }

    /// Runs `dllm-launch ARGS` to its end.
    @discardableResult
    func launch(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 120,
                launcher: URL = LaunchTestCase.launcher) throws -> Run {
        try start(arguments, environment: environment, launcher: launcher).finish(timeout: timeout)
    }

    /// `dllm-launch` (and `dllm` with `withDLLM`) linked into a folder of their own, without the
    /// `dllm-collector` that the build puts beside them: the launcher then looks for a collector on
    /// `PATH` only, as on a machine where the collector is not installed.
    func isolatedLauncher(withDLLM: Bool) throws -> URL {
        let folder = work.appendingPathComponent("isolated-bin")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for tool in [Self.launcher] + (withDLLM ? [Self.dllm] : []) {
            let target = folder.appendingPathComponent(tool.lastPathComponent)
            if link(tool.path, target.path) != 0 { try FileManager.default.copyItem(at: tool, to: target) }
        }
        return folder.appendingPathComponent(Self.launcher.lastPathComponent)
    }

    /// Runs plain `dllm train` (one process, no launcher) as the reference.
    func trainAlone(output: String, _ overrides: [String] = []) throws {
        var env = ProcessInfo.processInfo.environment
        env["DLLM_NUM_THREADS"] = "1"
        let result = try ChildProcess.run([Self.dllm.path, "train", trainConfig.path, "--output_dir", work.appendingPathComponent(output).path]
                                          + overrides, environment: env)
        XCTAssertEqual(result.status, 0, "reference run")
    }

    func weights(_ output: String, checkpoint: String = "checkpoint-final") throws -> [String: [Float]] {
        let file = try SafeTensorsFile(contentsOf: work.appendingPathComponent(output).appendingPathComponent(checkpoint)
            .appendingPathComponent("model.safetensors"))
        var out: [String: [Float]] = [:]
        for name in file.tensorNames { out[name] = try file.floats(name) }
        return out
    }

    func losses(_ output: String, checkpoint: String = "checkpoint-final") throws -> [Double] {
        let url = work.appendingPathComponent(output).appendingPathComponent(checkpoint).appendingPathComponent("trainer_state.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        return (json["log_history"] as! [[String: Any]]).compactMap { $0["loss"] as? Double }
    }

    /// Whether every tensor of `a` is within allclose(rtol = atol = tolerance) of `b`'s.
    func isClose(_ a: [String: [Float]], _ b: [String: [Float]], tolerance: Float) -> Bool {
        a.keys == b.keys && a.allSatisfy { name, x in allcloseExcess(x, b[name]!, tolerance: tolerance).allSatisfy { $0 <= tolerance } }
    }

    /// Per element, how far `|x − y| − tolerance·|y|` lies: allclose(rtol = atol = tolerance) holds where it is ≤ tolerance.
    func allcloseExcess(_ x: [Float], _ y: [Float], tolerance: Float) -> [Float] {
        zip(x, y).map { abs($0 - $1) - tolerance * abs($1) }
    }

    /// allclose(rtol = atol = `tolerance`) for every tensor; with `bf16Flips`, a bf16 run's
    /// comparison: at most 1 in 1,000 elements of a tensor may lie outside that (but within 10×
    /// it), for the reason `LaunchRunTests` gives.
    func assertClose(_ a: [String: [Float]], _ b: [String: [Float]], _ what: String, tolerance: Float = 1e-5, bf16Flips: Bool = false,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(a.keys), Set(b.keys), what, file: file, line: line)
        XCTAssertFalse(a.isEmpty, what, file: file, line: line)
        for (name, x) in a {
            guard let y = b[name] else { continue }
            // allclose(rtol = atol = tolerance), as DistributedTrainingTests explains: AdamW turns
            // summation-order noise on a rarely seen embedding row into ~1e-6 absolute differences.
            let excess = allcloseExcess(x, y, tolerance: tolerance)
            let outside = excess.filter { $0 > tolerance }.count
            if bf16Flips {
                XCTAssertLessThanOrEqual(outside * 1000, x.count, "\(what): \(name): \(outside) of \(x.count) elements outside \(tolerance)",
                                         file: file, line: line)
                XCTAssertLessThanOrEqual(excess.max() ?? 0, 10 * tolerance, "\(what): \(name)", file: file, line: line)
            } else {
                XCTAssertLessThanOrEqual(excess.max() ?? 0, tolerance, "\(what): \(name) (\(outside) of \(x.count) elements outside)",
                                         file: file, line: line)
            }
        }
    }

    // MARK: Processes

    /// Live (not zombie) processes whose command line mentions this test's folder, as `pgrep -f` finds them.
    func ourProcesses() -> [Int32] {
        let listed = (try? ChildProcess.run(["/usr/bin/pgrep", "-f", work.lastPathComponent]))?.output ?? ""
        return listed.split(separator: "\n").compactMap { Int32($0) }.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
            return stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") == false
        }
    }

    /// The `dllm train` process (not its agent) of one rank.
    func trainingProcess(rank: Int) -> Int32? {
        ourProcesses().first { pid in
            guard let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  let env = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
            let argv = cmd.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            let vars = env.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return argv.first?.hasSuffix("/dllm") == true && argv.dropFirst().first == "train" && vars.contains("OMPI_COMM_WORLD_RANK=\(rank)")
        }
    }

    func waitFor(_ what: String, timeout: Double = 60, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            if Date() > deadline { throw Timeout(what: what) }
            usleep(50_000)
        }
    }

    func killOurs() {
        for pid in ourProcesses() { kill(pid, SIGKILL) }
    }
}

struct Timeout: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}
