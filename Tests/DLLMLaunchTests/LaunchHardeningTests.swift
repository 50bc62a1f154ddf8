import DLLMProcess
import Foundation
import XCTest

/// Issue 17, defects 5 and 11, with real launchers, mpirun, ranks and collectors: one
/// job per output folder, nothing outlives a launcher killed with SIGKILL, and a
/// collector that dies is reported and restarted.
final class LaunchHardeningTests: LaunchTestCase {
    var long: [String] { ["--num_processes", "2", trainConfig.path, "--max_steps", "100000"] }

    func collectorProcess() -> Int32? {
        ourProcesses().first { pid in
            guard let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return cmd.split(separator: 0).first.map { String(decoding: $0, as: UTF8.self).hasSuffix("/dllm-collector") } ?? false
        }
    }

    /// Issue 17, defect 9: a typo or a bad value among the training overrides is refused by
    /// the launcher, naming the key, before mpirun, the collector or any rank starts.
    func testBadTrainingOverridesAreRefusedBeforeAnyRankStarts() throws {
        for (override, value, expected) in [("--learnig_rate", "1e-3", "learnig_rate"), ("--max_steps", "ten", "max_steps")] {
            let run = try launch(["--num_processes", "2", trainConfig.path, override, value], timeout: 60)
            XCTAssertNotEqual(run.status, 0, run.output)
            XCTAssertTrue(run.output.contains("refused before any rank started"), run.output)
            XCTAssertTrue(run.output.contains(expected), run.output)
            XCTAssertFalse(run.output.contains("rank(s) on"), "mpirun was started: \(run.output)")
            let logs = work.appendingPathComponent("out/logs")
            XCTAssertFalse(FileManager.default.fileExists(atPath: logs.appendingPathComponent("rank-0.log").path), "a rank ran")
            XCTAssertFalse(FileManager.default.fileExists(atPath: logs.appendingPathComponent("launcher.log").path), "mpirun ran")
        }
        XCTAssertEqual(ourProcesses(), [])
    }

    func stepLines(_ log: URL) -> Int {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { $0.contains(#""kind":"step""#) }.count
    }

    func testASecondLaunchOnABusyOutputDirIsRefusedAndKillingTheLauncherEndsItsJob() throws {
        let first = try start(long)
        try waitFor("step 3") { first.output.contains("step 3/") }

        let second = try launch(long, timeout: 60)
        XCTAssertNotEqual(second.status, 0, second.output)
        XCTAssertTrue(second.output.contains("is in use by dllm-launch"), second.output)
        XCTAssertTrue(second.output.contains("pid \(first.process.pid)"), second.output)
        XCTAssertTrue(second.output.contains("host \(shortHost())"), second.output)
        XCTAssertFalse(second.output.contains("resuming"), "the second job touched nothing: \(second.output)")

        // A plain `dllm train` on the same folder is refused too.
        var env = ProcessInfo.processInfo.environment
        env["DLLM_NUM_THREADS"] = "1"
        let alone = try ChildProcess.run([Self.dllm.path, "train", trainConfig.path], environment: env, mergingErrors: true)
        XCTAssertNotEqual(alone.status, 0)
        XCTAssertTrue(alone.output.contains("is in use by dllm-launch"), alone.output)

        // kill -9 of the launcher: mpirun, agents, ranks and collector follow it.
        XCTAssertNotNil(collectorProcess(), "a collector runs beside the job")
        kill(first.process.pid, SIGKILL)
        _ = first.finish(timeout: 10)
        try waitFor("every process of the job to end", timeout: 15) { ourProcesses().isEmpty }

        // The lock went with its holder: the folder can be used again.
        let third = try launch(["--num_processes", "1", trainConfig.path, "--max_steps", "2"], timeout: 120)
        XCTAssertEqual(third.status, 0, third.output)
    }

    func testACollectorThatDiesIsReportedRestartedAndTheSummaryIsStillWritten() throws {
        let running = try start(long)
        let log = work.appendingPathComponent("out/metrics.jsonl")
        try waitFor("steps stored by the collector") { stepLines(log) >= 6 }
        let pid = try XCTUnwrap(collectorProcess())
        kill(pid, SIGKILL)
        try waitFor("the launcher to restart the collector") { running.output.contains("collector restarted at") }
        XCTAssertTrue(running.output.contains("(pid \(pid)) was killed by signal 9 (SIGKILL): restarting it once"), running.output)
        let before = stepLines(log)
        try waitFor("steps from the reconnected ranks", timeout: 90) { stepLines(log) >= before + 6 }
        XCTAssertNotEqual(collectorProcess(), pid)

        running.process.signal(SIGTERM)
        let run = running.finish(timeout: 120)
        XCTAssertEqual(run.status, 128 + SIGTERM, run.output)
        let summaryURL = work.appendingPathComponent("out/summary.json")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: summaryURL)) as! [String: Any]
        XCTAssertGreaterThanOrEqual(summary["last_step"] as? Int ?? 0, before / 2, "\(summary)")
        XCTAssertEqual(ourProcesses(), [])
    }

    func shortHost() -> String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        return String(cString: name)
    }
}
