import XCTest
@testable import DLLMTelemetry

/// The real `dllm train` on a tiny model, reporting to a real collector through
/// `DLLM_COLLECTOR`: start with the resolved config, every step, checkpoints, evals,
/// exit — and, with no collector listening, training exactly as without telemetry.
final class TrainTelemetryTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = try makeTemporaryDirectory("train")
        try makeTinyRun(in: folder)
    }

    override func tearDown() { removeTemporaryDirectory(folder) }

    /// A corpus, a BPE tokenizer trained on it, a tiny LLaDA config and a training config.
    func makeTinyRun(in folder: URL) throws {
        let data = folder.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let words = "the quick brown fox jumps over a lazy dog while the model learns to fill in masked words".split(separator: " ")
        func lines(_ range: Range<Int>) -> String {
            range.map { i in
                let text = (0..<40).map { j in String(words[(i * j + j) % words.count]) }.joined(separator: " ")
                return #"{"text": "\#(text)"}"# + "\n"
            }.joined()
        }
        try lines(0..<120).write(to: data.appendingPathComponent("train.jsonl"), atomically: true, encoding: .utf8)
        try lines(120..<130).write(to: data.appendingPathComponent("test.jsonl"), atomically: true, encoding: .utf8)
        let tokenizer = try TestProgram.run(Binaries.dllm, ["tokenizer", "train", "--vocab-size", "300", "--eos-token", "<|endoftext|>",
                                                             "--mask-token", "<|mdm_mask|>", "--output", "model",
                                                             data.appendingPathComponent("train.jsonl").path],
                                             in: folder, name: "tokenizer")
        XCTAssertEqual(tokenizer.status, 0, tokenizer.stderr)
        try """
            {"model_type": "llada", "d_model": 32, "n_heads": 4, "n_kv_heads": 2, "n_layers": 2, "mlp_hidden_size": 64,
             "vocab_size": 300, "embedding_size": 300, "eos_token_id": 0, "pad_token_id": 0, "mask_token_id": 1,
             "rope_theta": 10000.0, "rms_norm_eps": 1e-05, "max_sequence_length": 64, "weight_tying": false,
             "include_bias": false, "layer_norm_type": "rms", "block_type": "llama", "activation_type": "silu", "init_std": 0.02}
            """.write(to: folder.appendingPathComponent("model/config.json"), atomically: true, encoding: .utf8)
        try """
            model_name_or_path: model
            dataset_args: data
            max_length: 32
            output_dir: out
            learning_rate: 1.0e-3
            max_steps: 12
            per_device_train_batch_size: 2
            logging_steps: 4
            save_steps: 6
            eval_strategy: steps
            eval_steps: 6
            seed: 1
            """.write(to: folder.appendingPathComponent("train.yaml"), atomically: true, encoding: .utf8)
    }

    func testDLLMTrainReportsEveryStepAndLifecycleEvent() throws {
        let collector = try CollectorFixture(in: folder)
        let train = try TestProgram.run(Binaries.dllm, ["train", "train.yaml"], in: folder, name: "train",
                                         environment: ["DLLM_COLLECTOR": collector.pull, "DLLM_RUN_ID": "tiny-e2e"])
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stderr.contains("telemetry: run tiny-e2e, rank 0 of 1"), train.stderr)
        let runDir = folder.appendingPathComponent("out")
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline && !FileManager.default.fileExists(atPath: runDir.appendingPathComponent(RunSummary.fileName).path) {
            usleep(50_000)
        }
        let events = try EventLogReader.readAll(runDir.path)
        XCTAssertEqual(events.map(\.seq), Array(0..<events.count), "every event, in order")
        let kinds = events.map(\.kind)
        XCTAssertEqual(kinds.first, .start)
        XCTAssertEqual(kinds.last, .exit)
        XCTAssertEqual(events.last?.status, "ok")
        let start = events[0]
        XCTAssertEqual(start.outputDir, runDir.path, "output_dir made absolute")
        XCTAssertEqual(start.totalSteps, 12)
        let lines = try jsonLines(runDir.appendingPathComponent(RunLog.fileName))
        let config = try XCTUnwrap(lines[0]["config"] as? [String: Any], "the start event carries the resolved config")
        XCTAssertEqual(config["max_steps"] as? Int, 12)
        XCTAssertEqual(config["lr_scheduler_type"] as? String, "linear", "defaults resolved")

        let steps = events.filter { $0.kind == .step }
        XCTAssertEqual(steps.map(\.step), Array(1...12).map { Optional($0) })
        for step in steps {
            XCTAssertNotNil(step.loss)
            XCTAssertGreaterThan(step.learningRate ?? 0, 0)
            XCTAssertGreaterThan(step.gradNorm ?? 0, 0)
            XCTAssertGreaterThan(step.tokensPerSecond ?? 0, 0)
            XCTAssertGreaterThan(step.stepTime ?? 0, 0)
            XCTAssertGreaterThanOrEqual(step.dataTime ?? -1, 0)
            XCTAssertGreaterThan(step.residentBytes ?? 0, 1_000_000)
            XCTAssertGreaterThan(step.optimizerStateBytes ?? 0, 0)
        }
        XCTAssertEqual(events.filter { $0.kind == .checkpoint }.compactMap { $0.path.map { URL(fileURLWithPath: $0).lastPathComponent } },
                       ["checkpoint-6", "checkpoint-12", "checkpoint-final"])
        XCTAssertEqual(events.filter { $0.kind == .eval }.map(\.step), [6, 12])

        let summary = try RunSummary.load(runDirectory: runDir.path)
        XCTAssertTrue(summary.complete)
        XCTAssertEqual(summary.lastStep, 12)
        XCTAssertEqual(summary.evals.count, 2)
        collector.stop()
    }

    func testDLLMLaunchStartsTheCollectorAndTwoRanksReportToIt() throws {
        let launcher = Binaries.directory.appendingPathComponent("dllm-launch")
        guard FileManager.default.isExecutableFile(atPath: launcher.path) else { throw XCTSkip("dllm-launch is not built") }
        let launch = try TestProgram.run(launcher, ["--num_processes", "2", "train.yaml"], in: folder, name: "launch",
                                          environment: ["DLLM_RUN_ID": "launched"], timeout: 180)
        XCTAssertEqual(launch.status, 0, launch.stdout + launch.stderr)
        let runDir = folder.appendingPathComponent("out")
        // The launcher stops its collector (SIGTERM) after the job: the summary is there.
        let summary = try RunSummary.load(runDirectory: runDir.path)
        XCTAssertTrue(summary.complete, "both ranks exited")
        XCTAssertEqual(summary.worldSize, 2)
        XCTAssertEqual(summary.stepsAggregated, 12)
        XCTAssertEqual(summary.missingEvents, 0)
        let events = try EventLogReader.readAll(runDir.path)
        for rank in 0..<2 {
            let mine = events.filter { $0.rank == rank }
            XCTAssertEqual(mine.map(\.seq), Array(0..<mine.count), "rank \(rank) in order")
            XCTAssertEqual(mine.filter { $0.kind == .step }.count, 12)
            XCTAssertEqual(mine.last?.kind, .exit)
        }
        let communication = events.compactMap(\.communicationTime)
        XCTAssertTrue(communication.contains { $0 > 0 }, "DDP's all-reduce wait is reported as communication time")
        XCTAssertGreaterThan(summary.meanCommunicationShare ?? 0, 0)
    }

    func testTrainingWithNoCollectorListeningIsUnaffected() throws {
        // A send that blocked on the missing collector would hold training past the timeout (status nil).
        let train = try TestProgram.run(Binaries.dllm, ["train", "train.yaml"], in: folder, name: "train",
                                         environment: ["DLLM_COLLECTOR": "tcp://127.0.0.1:9"], timeout: 60)
        XCTAssertEqual(train.status, 0, "training with no collector ended with \(train.status.map(String.init) ?? "no status: still running after 60 s"): \(train.stderr)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("out/checkpoint-final/model.safetensors").path))
        let bad = try TestProgram.run(Binaries.dllm, ["train", "train.yaml", "--output_dir", "out2"], in: folder, name: "train-bad",
                                       environment: ["DLLM_COLLECTOR": "not-an-address"])
        XCTAssertEqual(bad.status, 0, "a wrong address turns telemetry off, never training")
        XCTAssertTrue(bad.stderr.contains("telemetry off"), bad.stderr)
    }
}
