import Foundation
import XCTest

/// A rank killed with SIGKILL ends the job quickly, named; `--max_restarts` recovers to
/// the uninterrupted weights; SIGTERM to the launcher checkpoints, and the next launch
/// resumes; nothing is ever left running.
final class LaunchFaultTests: LaunchTestCase {
    /// Long enough to be killed mid-run; a checkpoint every 5 steps.
    let long = ["--max_steps", "30", "--save_strategy", "steps", "--save_steps", "5"]

    func testKillingOneRankEndsTheJobNamingRankAndSignal() throws {
        let running = try start(["--num_processes", "4", "--config", Self.repository.appendingPathComponent("configs/zero2.yaml").path,
                                 trainConfig.path, "--max_steps", "100000"])
        var victim: Int32?
        try waitFor("rank 1 to train") {
            victim = trainingProcess(rank: 1)
            return victim != nil && running.output.contains("step 2/")
        }
        kill(victim!, SIGKILL)
        // 100,000 steps to go: the job can only end because of the kill.
        let run = running.finish(timeout: 60)
        XCTAssertFalse(run.interrupted, "the job was still running 60 s after the kill")
        XCTAssertNotEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("the job failed: rank 1 on"), run.output)
        XCTAssertTrue(run.output.contains("signal 9 (SIGKILL)"), run.output)
        XCTAssertTrue(run.output.contains("last lines of rank 1"), run.output)
        usleep(500_000)
        XCTAssertEqual(ourProcesses(), [], "processes left behind")
    }

    func testAFailingRankIsNamedWithItsError() throws {
        let run = try launch(["--num_processes", "4", "--zero_stage", "3", trainConfig.path, "--max_steps", "1000"],
                             environment: ["DLLM_FAIL_AT_STEP": "3", "DLLM_FAIL_RANK": "2"], timeout: 60)
        XCTAssertFalse(run.interrupted, "the other ranks were still running 60 s after rank 2 failed")
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.output.contains("the job failed: rank 2 on"), run.output)
        XCTAssertTrue(run.output.contains("injected failure at step 3"), run.output)
        XCTAssertEqual(ourProcesses(), [])
    }

    func testMaxRestartsFinishesWithTheUninterruptedWeights() throws {
        let straight = try launch(["--num_processes", "2", trainConfig.path, "--output_dir", work.appendingPathComponent("straight").path] + long)
        XCTAssertEqual(straight.status, 0, straight.output)

        let running = try start(["--num_processes", "2", "--max_restarts", "1", trainConfig.path,
                                 "--output_dir", work.appendingPathComponent("restarted").path] + long)
        var victim: Int32?
        try waitFor("a checkpoint") {
            victim = trainingProcess(rank: 1)
            return victim != nil && FileManager.default.fileExists(atPath: work.appendingPathComponent("restarted/checkpoint-5/trainer_state.json").path)
        }
        kill(victim!, SIGKILL)
        let run = running.finish(timeout: 120)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("restarting the whole job (restart 1 of 1)"), run.output)
        XCTAssertTrue(run.output.contains("resuming from"), run.output)
        assertClose(try weights("restarted"), try weights("straight"), "restarted vs uninterrupted", tolerance: 1e-6)
        let resumed = try losses("restarted"), expected = try losses("straight")
        XCTAssertEqual(resumed.count, expected.count)
        XCTAssertEqual(ourProcesses(), [])
    }

    func testSIGTERMCheckpointsAndTheNextLaunchResumes() throws {
        let arguments = ["--num_processes", "2", "--config", Self.repository.appendingPathComponent("configs/fsdp.yaml").path,
                         trainConfig.path, "--max_steps", "100000"]
        let running = try start(arguments)
        try waitFor("step 3") { running.output.contains("step 3/") }
        running.process.signal(SIGTERM)
        let run = running.finish(timeout: 60)
        XCTAssertEqual(run.status, 128 + SIGTERM, run.output)
        XCTAssertTrue(run.output.contains("stopped at step"), run.output)
        XCTAssertFalse(run.output.contains("done: 100000 steps"), "a stopped run must not claim the planned step count: \(run.output)")
        // The stop reaches a rank twice (mpirun signals the agent's process group, and the agent
        // passes it on): rank 0, whose lines reach the console, logs it once.
        XCTAssertEqual(run.output.components(separatedBy: "finishing the current step").count - 1, 1, run.output)
        let saved = try FileManager.default.contentsOfDirectory(atPath: work.appendingPathComponent("out").path)
            .filter { $0.hasPrefix("checkpoint-") && $0 != "checkpoint-final" }
        XCTAssertEqual(saved.count, 1, "one checkpoint: \(saved)")
        XCTAssertEqual(ourProcesses(), [])
        guard let step = saved.first.flatMap({ Int($0.dropFirst("checkpoint-".count)) }) else { return }

        let again = try launch(Array(arguments.dropLast()) + [String(step + 2)])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(again.output.contains("resuming from \(work.appendingPathComponent("out/checkpoint-\(step)").path)"), again.output)
        XCTAssertTrue(again.output.contains("resumed from"), again.output)
        XCTAssertEqual(try losses("out").count, step + 2, "the log history continues")
    }
}
