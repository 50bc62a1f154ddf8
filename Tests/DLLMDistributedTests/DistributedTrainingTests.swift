import DLLMCheckpoint
import DLLMProcess
import Foundation
import XCTest

/// `dllm train` as N real OpenMPI ranks (`mpirun --oversubscribe`): every sharding
/// strategy at world sizes 1, 2 and 4 reproduces the single-process run with the same
/// global batch; memory per rank follows the ZeRO/FSDP formulas; a checkpoint saved at
/// 4 ranks resumes at 2 and 1 on the same trajectory; a failing rank ends the job.
final class DistributedTrainingTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    /// The `dllm` built beside this test bundle.
    static let dllm: URL = {
        var dir = Bundle(for: DistributedTrainingTests.self).bundleURL
        while dir.path != "/" {
            let candidate = dir.deletingLastPathComponent().appendingPathComponent("dllm")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/dllm")
    }()

    var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-dist-\(UUID().uuidString)")
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
        output_dir: unused
        """
        try config.write(to: work.appendingPathComponent("train.yaml"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    struct Run {
        let status: Int32
        let output: String
        /// Still running at the timeout and interrupted (SIGINT): a hang guard, not a speed check.
        let interrupted: Bool
    }

    /// Runs `dllm train` (under mpirun when `ranks` is given), its stdout and stderr into
    /// `<output>.log` in the work folder; interrupted if still running after `timeout` seconds.
    @discardableResult
    func train(ranks: Int?, stage: String = "ddp", output: String, _ overrides: [String] = [], environment: [String: String] = [:],
               timeout: Double = 900) throws -> Run {
        var args = [Self.dllm.path, "train", work.appendingPathComponent("train.yaml").path, "--output_dir", work.appendingPathComponent(output).path] + overrides
        var env = ProcessInfo.processInfo.environment
        env["DLLM_SHARDING"] = stage
        env["DLLM_NUM_THREADS"] = "1"
        for (k, v) in environment { env[k] = v }
        if let ranks {
            var mpi = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)"]
            for key in ["DLLM_SHARDING", "DLLM_NUM_THREADS"] + environment.keys.sorted() { mpi += ["-x", key] }
            args = mpi + args
        }
        let log = work.appendingPathComponent("\(output).log")
        let fd = open(log.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: log.path]) }
        let child: ChildProcess
        do {
            defer { close(fd) }
            child = try ChildProcess(arguments: ["/usr/bin/env"] + args, environment: env, output: fd)
        }
        let (termination, interrupted) = child.wait(seconds: timeout, thenSignal: SIGINT)
        return Run(status: termination.exitCode, output: (try? String(contentsOf: log, encoding: .utf8)) ?? "", interrupted: interrupted)
    }

    func losses(_ output: String, checkpoint: String = "checkpoint-final") throws -> [Double] {
        let url = work.appendingPathComponent(output).appendingPathComponent(checkpoint).appendingPathComponent("trainer_state.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        return (json["log_history"] as! [[String: Any]]).compactMap { $0["loss"] as? Double }
    }

    func weights(_ output: String, checkpoint: String = "checkpoint-final") throws -> [String: [Float]] {
        let file = try SafeTensorsFile(contentsOf: work.appendingPathComponent(output).appendingPathComponent(checkpoint)
            .appendingPathComponent("model.safetensors"))
        var out: [String: [Float]] = [:]
        for name in file.tensorNames { out[name] = try file.floats(name) }
        return out
    }

    func assertClose(_ a: [Double], _ b: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, "\(what): step counts differ", file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() {
            XCTAssertEqual(x, y, accuracy: 1e-5 * abs(y), "\(what): loss at step \(i + 1)", file: file, line: line)
        }
    }

    /// `torch.allclose(a, b, rtol=1e-5, atol=1e-5)` per tensor. A purely relative bound
    /// would be at the mercy of AdamW on near-zero gradients: a token seen once in ten
    /// steps has an embedding row whose update turns float32 summation-order noise
    /// (ranks add micro-batch gradients in a different order than one process does)
    /// into ~1e-6 absolute differences.
    func assertClose(_ a: [String: [Float]], _ b: [String: [Float]], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(a.keys), Set(b.keys), what, file: file, line: line)
        for (name, x) in a {
            guard let y = b[name] else { continue }
            let worst = zip(x, y).map { abs($0 - $1) - 1e-5 * abs($1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-5, "\(what): \(name)", file: file, line: line)
        }
    }

    func testEveryStrategyAtOneTwoAndFourRanksMatchesOneProcess() throws {
        for ranks in [1, 2, 4] {
            // One process with the same global batch: per-device 2 × gradient accumulation 2·ranks.
            let reference = "reference-\(ranks)"
            let r = try train(ranks: nil, output: reference, ["--gradient_accumulation_steps", "\(2 * ranks)"])
            XCTAssertEqual(r.status, 0, r.output)
            let expectedLosses = try losses(reference), expectedWeights = try weights(reference)
            XCTAssertEqual(expectedLosses.count, 10)
            for stage in ["ddp", "zero1", "zero2", "fsdp"] {
                let name = "\(stage)-\(ranks)"
                let run = try train(ranks: ranks, stage: stage, output: name)
                XCTAssertEqual(run.status, 0, "\(name): \(run.output)")
                guard run.status == 0 else { continue }
                assertClose(try losses(name), expectedLosses, name)
                assertClose(try weights(name), expectedWeights, name)
                try checkMemoryLine(run.output, stage: stage, ranks: ranks)
            }
        }
    }

    /// A tied output head reaches the strategies only through the parameter layout (its
    /// tie to the embedding): FSDP must keep the embedding gathered from the forward to
    /// the end of backward, and the buckets must wait for the head's gradient. Every
    /// strategy at 2 ranks against one process with the same global batch.
    func testTiedEmbeddingsUnderEveryStrategyAtTwoRanks() throws {
        let model = work.appendingPathComponent("tied-model")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        let source = Self.fixtures.appendingPathComponent("model")
        for file in ["tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: model.appendingPathComponent(file))
        }
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as! [String: Any]
        config["weight_tying"] = true
        try JSONSerialization.data(withJSONObject: config).write(to: model.appendingPathComponent("config.json"))
        let reference = try train(ranks: nil, output: "tied-reference", ["--model_name_or_path", model.path, "--gradient_accumulation_steps", "4"])
        XCTAssertEqual(reference.status, 0, reference.output)
        let expectedLosses = try losses("tied-reference"), expectedWeights = try weights("tied-reference")
        XCTAssertFalse(expectedWeights.keys.contains("model.transformer.ff_out.weight"), "a tied head is not stored")
        for stage in ["ddp", "zero1", "zero2", "fsdp"] {
            let name = "tied-\(stage)"
            let run = try train(ranks: 2, stage: stage, output: name, ["--model_name_or_path", model.path])
            XCTAssertEqual(run.status, 0, "\(name): \(run.output)")
            guard run.status == 0 else { continue }
            assertClose(try losses(name), expectedLosses, name)
            assertClose(try weights(name), expectedWeights, name)
        }
    }

    /// The per-rank bytes the run reports against the formulas: with Ψ parameters in fp32,
    /// DDP 16Ψ, ZeRO-1 8Ψ + 8Ψ/N, ZeRO-2 4Ψ + 12Ψ/N, FSDP 16Ψ/N (+ the largest gathered block),
    /// each within the padding that makes every rank's chunks equal.
    func checkMemoryLine(_ output: String, stage: String, ranks: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        guard let text = output.split(separator: "\n").first(where: { $0.contains("parallel: \(stage)") }) else {
            return XCTFail("no memory report in the \(stage) output", file: file, line: line)
        }
        func number(after label: String) -> Double {
            let rest = text.components(separatedBy: label + " ")[1]
            return Double(rest.prefix { $0.isNumber })!
        }
        let params = number(after: "parameters"), grads = number(after: "gradients"), optimizer = number(after: "optimizer state")
        let model = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("model/config.json"))) as! [String: Any]
        _ = model
        let psi = params / (stage == "fsdp" ? 1 : 4)  // replicated parameter bytes / 4 = Ψ (not for FSDP)
        let N = Double(ranks)
        let padding = 4.0 * N * 64  // at most one element of padding per segment and rank, 64 segments at most
        switch stage {
        case "ddp":
            XCTAssertEqual(grads, 4 * psi, file: file, line: line)
            XCTAssertEqual(optimizer, 8 * psi, file: file, line: line)
        case "zero1":
            XCTAssertEqual(grads, 4 * psi, file: file, line: line)
            XCTAssertEqual(optimizer, 8 * psi / N, accuracy: 2 * padding, file: file, line: line)
        case "zero2":
            XCTAssertEqual(params + grads + optimizer, 4 * psi + 12 * psi / N, accuracy: 3 * padding, file: file, line: line)
        default:
            XCTAssertEqual(grads, params, file: file, line: line)
            XCTAssertEqual(optimizer, 2 * params, file: file, line: line)
        }
    }

    func testCheckpointSavedAtFourRanksResumesAtTwoAndOne() throws {
        // Uninterrupted reference (one process, global batch 16).
        XCTAssertEqual(try train(ranks: nil, output: "straight", ["--gradient_accumulation_steps", "8"]).status, 0)
        let straight = try losses("straight")
        // 4 ranks × 2 micro-batches, checkpoint at step 5.
        let four = try train(ranks: 4, stage: "fsdp", output: "four", ["--save_strategy", "steps", "--save_steps", "5"])
        XCTAssertEqual(four.status, 0, four.output)
        let checkpoint = work.appendingPathComponent("four/checkpoint-5")
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint.appendingPathComponent("sharding.json").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint.appendingPathComponent("shard-00003-of-00004.safetensors").path))
        for (ranks, accumulation, stage) in [(2, 4, "zero2"), (1, 8, "ddp")] {
            let name = "resumed-\(ranks)"
            let run = try train(ranks: ranks, stage: stage, output: name,
                                ["--gradient_accumulation_steps", "\(accumulation)", "--resume_from_checkpoint", checkpoint.path])
            XCTAssertEqual(run.status, 0, run.output)
            let resumed = try losses(name)
            assertClose(Array(resumed.suffix(5)), Array(straight.suffix(5)), "resumed at \(ranks) ranks")
        }
    }

    func testConsolidateWritesAHuggingFaceModelFromFSDPShards() throws {
        let run = try train(ranks: 2, stage: "fsdp", output: "fsdp", ["--save_strategy", "steps", "--save_steps", "10", "--max_steps", "10"])
        XCTAssertEqual(run.status, 0, run.output)
        let checkpoint = work.appendingPathComponent("fsdp/checkpoint-10")
        XCTAssertFalse(FileManager.default.fileExists(atPath: checkpoint.appendingPathComponent("model.safetensors").path),
                       "an FSDP checkpoint holds parameters only in shards")
        // Issue 17, defect 7: sampling the shard folder used to run a random model with one stderr line.
        let sampled = try ChildProcess.run([Self.dllm.path, "generate", "--model", checkpoint.path, "--prompt", "hi", "--gen-length", "4", "--steps", "4"],
                                           mergingErrors: true)
        XCTAssertNotEqual(sampled.status, 0, sampled.output)
        XCTAssertTrue(sampled.output.contains("dllm checkpoint consolidate \(checkpoint.path)"), sampled.output)
        let consolidate = try ChildProcess.run([Self.dllm.path, "checkpoint", "consolidate", checkpoint.path], mergingErrors: true)
        XCTAssertEqual(consolidate.status, 0, consolidate.output)
        // Step 10 is the last step: the consolidated model is the final save's, byte for byte.
        XCTAssertEqual(try Data(contentsOf: checkpoint.appendingPathComponent("model.safetensors")),
                       try Data(contentsOf: work.appendingPathComponent("fsdp/checkpoint-final/model.safetensors")))
        // The streamed full moments: every rank's chunks put back where sharding.json says.
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: checkpoint.appendingPathComponent("sharding.json"))) as! [String: Any]
        let segments = (meta["shardMap"] as! [String: Any])["segments"] as! [[String: Any]]
        let optimizer = try SafeTensorsFile(contentsOf: checkpoint.appendingPathComponent("optimizer.safetensors"))
        for name in ["exp_avg", "exp_avg_sq"] {
            let full = try optimizer.floats(name)
            var expected = [Float](repeating: .nan, count: full.count)
            for rank in 0..<2 {
                let shard = try SafeTensorsFile(contentsOf: checkpoint.appendingPathComponent("shard-0000\(rank)-of-00002.safetensors")).floats(name)
                for segment in segments {
                    let range = segment["range"] as! [Int], chunk = segment["chunk"] as! Int, offset = segment["shardOffset"] as! Int
                    let start = min(range[1], range[0] + rank * chunk), end = min(range[1], start + chunk)
                    expected.replaceSubrange(start..<end, with: shard[offset..<(offset + end - start)])
                }
            }
            XCTAssertEqual(full, expected, name)
            XCTAssertTrue(full.contains { $0 != 0 }, "\(name) holds the trained moments")
        }
    }

    /// The final save streams `model.safetensors` to rank 0 (FSDP: a window of 1,000
    /// values at a time, gathered from the ranks owning them, so tensors are cut across
    /// ranks and windows): resumed from a one-process checkpoint with nothing left to
    /// train, the consolidated files are byte for byte the one process's.
    func testStreamedFinalSaveIsByteIdenticalToTheOneProcessSave() throws {
        for (ranks, stage) in [(2, "fsdp"), (2, "zero2"), (3, "fsdp")] {
            // The same global batch, so the data position resumes: per-device 2 × accumulation 2·ranks.
            let single = try train(ranks: nil, output: "single-\(ranks)", ["--max_steps", "3", "--gradient_accumulation_steps", "\(2 * ranks)"])
            XCTAssertEqual(single.status, 0, single.output)
            let reference = work.appendingPathComponent("single-\(ranks)/checkpoint-final")
            let name = "\(stage)-\(ranks)"
            let run = try train(ranks: ranks, stage: stage, output: name, ["--max_steps", "3", "--resume_from_checkpoint", reference.path],
                                environment: ["DLLM_SAVE_WINDOW_ELEMENTS": "1000"])
            XCTAssertEqual(run.status, 0, "\(name): \(run.output)")
            let saved = work.appendingPathComponent(name).appendingPathComponent("checkpoint-final")
            for file in ["model.safetensors", "config.json", "generation_config.json"] {
                let bytes = try Data(contentsOf: saved.appendingPathComponent(file))
                XCTAssertEqual(bytes, try Data(contentsOf: reference.appendingPathComponent(file)), "\(name): \(file)")
            }
            XCTAssertTrue(FileManager.default.fileExists(atPath: saved.appendingPathComponent(
                "shard-0000\(ranks - 1)-of-0000\(ranks).safetensors").path), "\(name): every rank writes its shard")
        }
    }

    /// DiffuLLaMA's recipe (annealed attention, shifted loss, 1/t over the masked tokens) at 1 and
    /// 2 ranks under ZeRO-2 with the same global batch: the annealing draw is keyed by (seed, step),
    /// the token noise by the global sample index, so the ranks reproduce the single process.
    func testDiffuLLaMARecipeAtOneAndTwoRanksMatchesOneProcess() throws {
        let recipe = ["--objective", "diffullama", "--shift", "true", "--anneal_steps", "6"]
        let reference = try train(ranks: nil, output: "diffullama-reference", recipe + ["--gradient_accumulation_steps", "4"])
        XCTAssertEqual(reference.status, 0, reference.output)
        let expectedLosses = try losses("diffullama-reference"), expectedWeights = try weights("diffullama-reference")
        XCTAssertEqual(expectedLosses.count, 10)
        for ranks in [1, 2] {
            let name = "diffullama-zero2-\(ranks)"
            let run = try train(ranks: ranks, stage: "zero2", output: name, recipe + ["--gradient_accumulation_steps", "\(4 / ranks)"])
            XCTAssertEqual(run.status, 0, "\(name): \(run.output)")
            guard run.status == 0 else { continue }
            assertClose(try losses(name), expectedLosses, name)
            assertClose(try weights(name), expectedWeights, name)
        }
        // The recipe changes the trajectory: the plain MDLM objective gives other losses.
        let plain = try train(ranks: nil, output: "mdlm-reference", ["--gradient_accumulation_steps", "4"])
        XCTAssertEqual(plain.status, 0, plain.output)
        XCTAssertNotEqual(try losses("mdlm-reference"), expectedLosses)
    }

    /// Edit Flows (`objective: editflow`) on the fixture LLaDA with the heads added by `dllm convert editflow`:
    /// every strategy at 2 ranks reproduces one process with the same global batch (the variable-length
    /// x_t, the heads in the final block and their backward go through the same hooks and buckets).
    func testEditFlowAtTwoRanksUnderEveryStrategyMatchesOneProcess() throws {
        let model = work.appendingPathComponent("editflow-model")
        let convert = try ChildProcess.run([Self.dllm.path, "convert", "editflow", Self.fixtures.appendingPathComponent("model").path,
                                            model.path, "--seed", "3"], mergingErrors: true)
        XCTAssertEqual(convert.status, 0, convert.output)
        // The fixture tokenizer has no BOS; its EOS serves (as GPT-2-style tokenizers do).
        let tokenizerConfig = model.appendingPathComponent("tokenizer_config.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: tokenizerConfig)) as! [String: Any]
        json["bos_token"] = "<|endoftext|>"
        try JSONSerialization.data(withJSONObject: json).write(to: tokenizerConfig)
        let recipe = ["--model_name_or_path", model.path, "--objective", "editflow", "--x0_sampler", "masks[length:8]"]
        // x_t may be longer than max_length: a config whose x_t could pass the model's 64 positions is refused up front.
        let tooLong = try train(ranks: nil, output: "editflow-too-long", recipe + ["--max_length", "60"])
        XCTAssertNotEqual(tooLong.status, 0)
        XCTAssertTrue(tooLong.output.contains("x_t can reach 70 tokens"), tooLong.output)
        let reference = try train(ranks: nil, output: "editflow-reference", recipe + ["--gradient_accumulation_steps", "4"])
        XCTAssertEqual(reference.status, 0, reference.output)
        let expectedLosses = try losses("editflow-reference"), expectedWeights = try weights("editflow-reference")
        XCTAssertEqual(expectedLosses.count, 10)
        XCTAssertTrue(expectedWeights.keys.contains("rate_heads.0.weight"))
        try assertEveryStrategyMatchesOneProcess("editflow", recipe: recipe, twoRankArguments: ["--gradient_accumulation_steps", "2"], losses: expectedLosses, weights: expectedWeights)
    }

    /// BD3LM (`objective: bd3lm`, blocks of 8: the fixture model sees x_t ⊕ x_0 at 2·32 = 64 positions,
    /// the head on the x_t half only) at 2 ranks under every strategy reproduces one process with the
    /// same global batch, and FSDP's sharded checkpoint resumes in one process on the same trajectory.
    func testBD3LMAtTwoRanksUnderEveryStrategyMatchesOneProcess() throws {
        let recipe = ["--objective", "bd3lm", "--block_size", "8"]
        let reference = try train(ranks: nil, output: "bd3lm-reference", recipe + ["--gradient_accumulation_steps", "4"])
        XCTAssertEqual(reference.status, 0, reference.output)
        let expectedLosses = try losses("bd3lm-reference"), expectedWeights = try weights("bd3lm-reference")
        XCTAssertEqual(expectedLosses.count, 10)
        // The objective changes the trajectory: plain MDLM on the same data gives other losses.
        let mdlm = try train(ranks: nil, output: "bd3lm-mdlm", ["--gradient_accumulation_steps", "4", "--max_steps", "2"])
        XCTAssertEqual(mdlm.status, 0, mdlm.output)
        XCTAssertNotEqual(try losses("bd3lm-mdlm"), Array(expectedLosses.prefix(2)))
        try assertEveryStrategyMatchesOneProcess("bd3lm", recipe: recipe, twoRankArguments: ["--gradient_accumulation_steps", "2"], losses: expectedLosses, weights: expectedWeights, resumedWeights: true)
    }

    /// `model_type: bert` (docs/bert.md): post-LayerNorm blocks, position and token-type
    /// embeddings, and an output head tied to the word embeddings whose block is empty (the
    /// head reads block 0). A small random BERT with the fixture tokenizer trains at 2 ranks
    /// under every strategy as one process with the same global batch; FSDP's sharded
    /// checkpoint resumes in one process on the same trajectory.
    func testBertAtTwoRanksUnderEveryStrategyMatchesOneProcess() throws {
        let model = work.appendingPathComponent("bert-model")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        let source = Self.fixtures.appendingPathComponent("model")
        for file in ["tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: model.appendingPathComponent(file))
        }
        let config = #"{"model_type": "bert", "vocab_size": 512, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "#
            + #""intermediate_size": 64, "max_position_embeddings": 64, "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12}"#
        try Data(config.utf8).write(to: model.appendingPathComponent("config.json"))
        let recipe = ["--model_name_or_path", model.path]
        let reference = try train(ranks: nil, output: "bert-reference", recipe + ["--gradient_accumulation_steps", "4"])
        XCTAssertEqual(reference.status, 0, reference.output)
        let expectedLosses = try losses("bert-reference"), expectedWeights = try weights("bert-reference")
        XCTAssertEqual(expectedLosses.count, 10)
        XCTAssertTrue(expectedWeights.keys.contains("embeddings.word_embeddings.weight"))
        XCTAssertTrue(expectedWeights.keys.contains("embeddings.token_type_embeddings.weight"))
        XCTAssertFalse(expectedWeights.keys.contains { $0.hasPrefix("cls.") }, "the tied head is not stored")
        try assertEveryStrategyMatchesOneProcess("bert", recipe: recipe, losses: expectedLosses, weights: expectedWeights)
    }

    /// Trains `recipe` at 2 ranks under DDP, ZeRO-1, ZeRO-2 and FSDP (FSDP saving at step 5) and checks
    /// losses and final weights against the one-process reference; then resumes FSDP's sharded step-5
    /// checkpoint in one process and checks it follows the same trajectory.
    func assertEveryStrategyMatchesOneProcess(_ prefix: String, recipe: [String], twoRankArguments: [String] = [],
                                              losses expectedLosses: [Double], weights expectedWeights: [String: [Float]],
                                              resumedWeights: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws {
        for stage in ["ddp", "zero1", "zero2", "fsdp"] {
            let name = "\(prefix)-\(stage)-2"
            let save = stage == "fsdp" ? ["--save_strategy", "steps", "--save_steps", "5"] : []
            let run = try train(ranks: 2, stage: stage, output: name, recipe + twoRankArguments + save)
            XCTAssertEqual(run.status, 0, "\(name): \(run.output)", file: file, line: line)
            guard run.status == 0 else { continue }
            assertClose(try losses(name), expectedLosses, name, file: file, line: line)
            assertClose(try weights(name), expectedWeights, name, file: file, line: line)
        }
        let resumedName = "\(prefix)-resumed"
        let resumed = try train(ranks: nil, output: resumedName, recipe + [
            "--gradient_accumulation_steps", "4", "--resume_from_checkpoint", work.appendingPathComponent("\(prefix)-fsdp-2/checkpoint-5").path])
        XCTAssertEqual(resumed.status, 0, resumed.output, file: file, line: line)
        assertClose(Array(try losses(resumedName).suffix(5)), Array(expectedLosses.suffix(5)), "\(prefix) resumed at one process", file: file, line: line)
        if resumedWeights { assertClose(try weights(resumedName), expectedWeights, "\(prefix) resumed at one process", file: file, line: line) }
    }

    /// DeepSpeed's `communication_data_type: bf16`, asked for through accelerate's
    /// `deepspeed_config_file`: at 2 ranks the gradient reductions carry bfloat16, so DDP (one
    /// all-reduce per step, 2G) sends half the bytes of float32, and ZeRO-2 (a reduce-scatter per
    /// micro-batch, 2 here, plus a float32 parameter gather: 2G + P, with G = P) two thirds; the
    /// run departs from the float32 one only by the rounding of the gradient sums.
    func testGradientsTravelInBFloat16WhenTheDeepSpeedFileAsks() throws {
        func sentBytes(_ output: String) -> Int? {
            guard let range = output.range(of: #"collectives: rank 0 sent \d+ bytes"#, options: .regularExpression) else { return nil }
            return Int(output[range].split(separator: " ")[4])
        }
        for (stage, zero, expectedRatio) in [("ddp", 0, 0.5), ("zero2", 2, 2.0 / 3)] {
            var bytes: [String: Int] = [:], runLosses: [String: [Double]] = [:], runWeights: [String: [String: [Float]]] = [:]
            for wire in ["fp32", "bf16"] {
                let name = "\(stage)-\(wire)"
                let ds = work.appendingPathComponent("\(name).json")
                try #"{"communication_data_type": "\#(wire)", "zero_optimization": {"stage": \#(zero)}}"#
                    .write(to: ds, atomically: true, encoding: .utf8)
                let launch = work.appendingPathComponent("\(name).yaml")
                try "distributed_type: DEEPSPEED\nnum_processes: 2\ndeepspeed_config:\n  deepspeed_config_file: \(ds.path)\n"
                    .write(to: launch, atomically: true, encoding: .utf8)
                let run = try train(ranks: 2, stage: stage, output: name, ["--launch-config", launch.path])
                XCTAssertEqual(run.status, 0, "\(name): \(run.output)")
                guard run.status == 0 else { return }
                bytes[wire] = sentBytes(run.output)
                runLosses[wire] = try losses(name)
                runWeights[wire] = try weights(name)
            }
            let (fp32, bf16) = (try XCTUnwrap(bytes["fp32"], stage), try XCTUnwrap(bytes["bf16"], stage))
            XCTAssertEqual(Double(bf16) / Double(fp32), expectedRatio, accuracy: 1e-3, "\(stage): \(bf16) against \(fp32) bytes")
            let (a, b) = (runLosses["fp32"]!, runLosses["bf16"]!)
            XCTAssertEqual(a.count, 10)
            XCTAssertEqual(a.first, b.first, "\(stage): the first loss comes before any reduction")
            // Measured: relative loss differences up to 2e-6, mean weight difference 4.5e-6 (DDP) and
            // 5.0e-6 (ZeRO-2), largest 1.6e-3 and 3.3e-3; the bounds are ten times or more above.
            for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-4 * abs(x), "\(stage): losses") }
            var largest: Float = 0, total = 0.0, count = 0
            for (name, x) in runWeights["fp32"]! {
                for (u, v) in zip(x, runWeights["bf16"]![name]!) {
                    largest = max(largest, abs(u - v))
                    total += Double(abs(u - v))
                    count += 1
                }
            }
            XCTAssertGreaterThan(largest, 0, "\(stage): bf16 sums must change the weights (else the wire was float32)")
            // AdamW moves each weight by up to about the learning rate (3e-3) per step; bf16 sums
            // (relative rounding 2^-9) leave the average weight far closer than one step.
            XCTAssertLessThan(total / Double(count), 5e-5, "\(stage): mean weight difference (largest \(largest))")
        }
    }

    func testAFailingRankEndsEveryRank() throws {
        let run = try train(ranks: 4, stage: "zero2", output: "fail", ["--max_steps", "1000"],
                            environment: ["DLLM_FAIL_AT_STEP": "3", "DLLM_FAIL_RANK": "2"], timeout: 60)
        XCTAssertFalse(run.interrupted, "the other ranks were still running 60 s after rank 2 failed at step 3")
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.output.contains("rank 2"), run.output)
        XCTAssertTrue(run.output.contains("injected failure at step 3"), run.output)
    }
}
