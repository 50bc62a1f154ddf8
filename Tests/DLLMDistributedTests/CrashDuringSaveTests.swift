import DLLMProcess
import Foundation
import XCTest

/// A real `dllm train` process killed with SIGKILL in the middle of writing a
/// checkpoint: the previous checkpoint stays the latest, and resuming works.
final class CrashDuringSaveTests: XCTestCase {
    func testKilledSaveLeavesThePreviousCheckpointAsTheLatest() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-crash-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let fixtures = DistributedTrainingTests.fixtures
        let config = """
        model_name_or_path: \(fixtures.appendingPathComponent("model").path)
        dataset_args: \(fixtures.appendingPathComponent("data").path)
        max_length: 32
        max_steps: 6
        per_device_train_batch_size: 2
        save_steps: 2
        logging_steps: 1
        output_dir: \(work.appendingPathComponent("out").path)
        """
        let yaml = work.appendingPathComponent("train.yaml")
        try config.write(to: yaml, atomically: true, encoding: .utf8)

        var env = ProcessInfo.processInfo.environment
        env["DLLM_SAVE_PAUSE_AT_STEP"] = "4"
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(devNull) }
        let process = try ChildProcess(arguments: [DistributedTrainingTests.dllm.path, "train", yaml.path], environment: env,
                                       errors: devNull)
        // Wait until the step-4 save has written its weights and is paused before completing.
        let out = work.appendingPathComponent("out")
        let deadline = Date().addingTimeInterval(60)
        var partial: URL?
        while Date() < deadline, partial == nil {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
            if let name = names.first(where: { $0.hasPrefix(".checkpoint-4.tmp-") }) {
                let candidate = out.appendingPathComponent(name)
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("optimizer.safetensors").path) { partial = candidate }
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertNotNil(partial, "the save of step 4 never started")
        process.signal(SIGKILL)
        XCTAssertEqual(process.wait(), .signaled(SIGKILL))

        let complete = ((try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []).filter { $0.hasPrefix("checkpoint-") }
        XCTAssertEqual(complete, ["checkpoint-2"], "only the step-2 checkpoint is complete")

        // Resuming starts from step 2, cleans the leftover and finishes.
        let resume = try ChildProcess.run([DistributedTrainingTests.dllm.path, "train", yaml.path, "--resume_from_checkpoint", "true"])
        XCTAssertEqual(resume.status, 0, resume.errors)
        let after = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
        XCTAssertFalse(after.contains { $0.contains(".tmp-") }, "the interrupted save's folder was removed: \(after)")
        XCTAssertTrue(after.contains("checkpoint-final"))
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("checkpoint-final/trainer_state.json"))) as! [String: Any]
        XCTAssertEqual(state["global_step"] as? Int, 6)
    }
}
