import DLLMConfig
import DLLMModels
import DLLMTraining
import Foundation
import XCTest

/// Every way a training config can be wrong is an error naming the file, line and key,
/// raised before any work starts; overrides and HF conventions apply.
final class TrainingConfigTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    func write(_ text: String) throws -> String {
        let path = directory.appendingPathComponent("config.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    let valid = """
    model_name_or_path: models/tiny-llada
    dataset_args: data/shakespeare.jsonl[train:1_000,test:100]
    output_dir: runs/tiny
    learning_rate: 3.0e-4
    max_steps: 200
    per_device_train_batch_size: 4
    gradient_accumulation_steps: 2
    tf32: true
    report_to: none
    """

    func assertFails(_ text: String, overrides: [String] = [], contains expected: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let path = try write(text)
        XCTAssertThrowsError(try TrainingConfig.load(path: path, overrides: overrides), file: file, line: line) { error in
            let message = "\(error)"
            for e in expected { XCTAssertTrue(message.contains(e), "\"\(message)\" lacks \"\(e)\"", file: file, line: line) }
        }
    }

    func testValidConfigLoadsWithDefaultsAndReportsIgnoredKeys() throws {
        let (config, ignored) = try TrainingConfig.load(path: try write(valid))
        XCTAssertEqual(config.learningRate, 3e-4)
        XCTAssertEqual(config.maxSteps, 200)
        XCTAssertEqual(config.objective, "mdlm")
        XCTAssertEqual(config.lossNormType, "token")
        XCTAssertEqual(config.timeEpsilon, 1e-3)
        XCTAssertEqual(config.adamBeta2, 0.999)
        XCTAssertEqual(ignored, ["tf32 (TensorFloat-32 is an NVIDIA GPU matmul mode)"])
    }

    /// Keys dLLM and HF configs carry for features dllm lacks are refused when they ask
    /// for the feature (naming the key, its line and what to do), accepted when false.
    func testUnavailableFeaturesAreRefusedNotIgnored() throws {
        for (key, value, hint) in [("load_in_4bit", "true", "4-bit"), ("load_in_8bit", "true", "8-bit"),
                                   ("fp16", "true", "GPU"), ("streaming", "true", "dllm prepare"),
                                   ("gradient_checkpointing_kwargs", "true", "checkpointing"), ("optim", "adafactor", "AdamW"),
                                   ("torch_dtype", "bfloat16", "float32")] {
            try assertFails(valid + "\n\(key): \(value)\n", contains: ["\(key)", ":10", hint, "not supported"])
            try assertFails(valid, overrides: ["--\(key)", value], contains: [key, hint])
            let nothing = key == "optim" ? "adamw_torch" : key == "torch_dtype" ? "float32" : key.hasSuffix("_kwargs") ? "{}" : "false"
            let (_, ignored) = try TrainingConfig.load(path: try write(valid + "\n\(key): \(nothing)\n"))
            XCTAssertFalse(ignored.contains { $0.hasPrefix(key) }, "\(key) asking for nothing is honoured, not reported as ignored")
        }
    }

    /// `lora: true` with PEFT's option names and dLLM's defaults; every bad value names its key and line.
    func testLoRAOptionsDecodeWithPEFTNamesAndDefaults() throws {
        XCTAssertNil(try TrainingConfig.load(path: try write(valid + "\nlora: false\n")).config.lora)
        let defaults = try XCTUnwrap(try TrainingConfig.load(path: try write(valid + "\nlora: true\n")).config.lora)
        XCTAssertEqual(defaults, LoRAConfiguration(r: 32, loraAlpha: 64, loraDropout: 0.05, targetModules: .allLinear, useRSLoRA: false))
        XCTAssertEqual(defaults.scale, 2)
        let list = try XCTUnwrap(try TrainingConfig.load(path: try write(valid + """

            lora: true
            r: 8
            lora_alpha: 16
            lora_dropout: 0
            target_modules: [q_proj, v_proj]
            use_rslora: true
            """)).config.lora)
        XCTAssertEqual(list.targetModules, .names(["q_proj", "v_proj"]))
        XCTAssertEqual(list.scale, 16 / 8.0.squareRoot(), accuracy: 1e-12)
        let regex = try XCTUnwrap(try TrainingConfig.load(path: try write(valid + "\nlora: true\ntarget_modules: '.*\\.self_attn\\.q_proj'\n")).config.lora)
        XCTAssertEqual(regex.targetModules, .pattern(".*\\.self_attn\\.q_proj"))
        XCTAssertEqual(try TrainingConfig.load(path: try write(valid + "\nlora: true\n"), overrides: ["--r", "4"]).config.lora?.r, 4)
        let saved = try XCTUnwrap(try TrainingConfig.load(path: try write(valid + "\nlora: true\nmodules_to_save: [embed_tokens, lm_head]\n")).config.lora)
        XCTAssertEqual(saved.modulesToSave, ["embed_tokens", "lm_head"])
    }

    func testBadLoRAValuesAreRefusedNamingTheKey() throws {
        for (extra, key, hint) in [("r: 0", "r", "at least 1"), ("lora_alpha: -1", "lora_alpha", "positive"),
                                   ("lora_dropout: 1", "lora_dropout", "[0, 1)"), ("target_modules: []", "target_modules", "names no module"),
                                   ("target_modules: '(unclosed'", "target_modules", "regular expression")] {
            try assertFails(valid + "\nlora: true\n\(extra)\n", contains: [key, ":11", hint])
        }
        // An option without lora: true would do nothing: refused.
        for extra in ["r: 8", "lora_alpha: 16", "target_modules: all-linear", "use_rslora: true"] {
            try assertFails(valid + "\n\(extra)\n", contains: [String(extra.prefix { $0 != ":" }), "lora: true"])
        }
    }

    func testGradientCheckpointingAndBF16AreHonoured() throws {
        for (key, flag) in [("gradient_checkpointing", \TrainingConfig.gradientCheckpointing), ("bf16", \TrainingConfig.bf16)] {
            let (config, ignored) = try TrainingConfig.load(path: try write(valid + "\n\(key): true\n"))
            XCTAssertTrue(config[keyPath: flag], key)
            XCTAssertFalse(ignored.contains { $0.hasPrefix(key) }, key)
            XCTAssertFalse(try TrainingConfig.load(path: try write(valid)).0[keyPath: flag], key)
        }
    }

    func testReportToRefusesIntegrationsItDoesNotHave() throws {
        for tool in ["wandb", "tensorboard"] {
            try assertFails(valid.replacingOccurrences(of: "report_to: none", with: "report_to: [\(tool)]"), contains: ["report_to", tool, "collector"])
        }
        let (config, _) = try TrainingConfig.load(path: try write(valid.replacingOccurrences(of: "report_to: none", with: "report_to: dllm")))
        XCTAssertEqual(config.reportTo, ["dllm"])
    }

    func testSpeedOnlyKeysAreListedWithTheirReason() throws {
        let (_, ignored) = try TrainingConfig.load(path: try write(valid + "\nnum_proc: 8\ndataloader_num_workers: 4\n"))
        XCTAssertTrue(ignored.contains { $0.hasPrefix("num_proc (") && $0.contains("never changes the data") }, "\(ignored)")
        XCTAssertTrue(ignored.contains { $0.hasPrefix("dataloader_num_workers (") }, "\(ignored)")
        let (_, viaOverride) = try TrainingConfig.load(path: try write(valid), overrides: ["--num_proc", "4"])
        XCTAssertTrue(viaOverride.contains { $0.hasPrefix("num_proc (") }, "\(viaOverride)")
    }

    /// Issue 17, defect 9: `learning_rate: .nan` was accepted and failed at step 2; a bad
    /// override was blamed on the YAML line of the key it replaced.
    func testNaNValuesAndBadOverridesAreLocatedWhereTheyCameFrom() throws {
        for key in ["learning_rate", "weight_decay", "adam_epsilon", "max_grad_norm", "logging_steps", "save_steps"] {
            let text = valid.split(separator: "\n").filter { !$0.hasPrefix("\(key):") }.joined(separator: "\n") + "\n\(key): .nan\n"
            try assertFails(text, contains: ["\(key)", "not a finite number"])
            try assertFails(valid, overrides: ["--\(key)", ".nan"], contains: ["command line (--\(key))", "not a finite number"])
        }
        try assertFails(valid, overrides: ["--max_steps", "abc"], contains: ["command line (--max_steps)", "expected an integer"])
        let path = try write(valid)
        XCTAssertThrowsError(try TrainingConfig.load(path: path, overrides: ["--max_steps", "abc"])) { error in
            XCTAssertNil((error as? ConfigError)?.line, "the value came from the command line, not line 5 of the file: \(error)")
        }
    }

    func testOverridesReplaceAndAddKeys() throws {
        let (config, _) = try TrainingConfig.load(path: try write(valid), overrides: ["--learning_rate", "1e-3", "--max-steps=7", "--objective", "ar"])
        XCTAssertEqual(config.learningRate, 1e-3)
        XCTAssertEqual(config.maxSteps, 7)
        XCTAssertEqual(config.objective, "ar")
    }

    func testUnknownKeyNamesFileLineAndSuggestion() throws {
        try assertFails(valid + "\nlearning_rat: 1.0e-3\n", contains: ["config.yaml:10", "\"learning_rat\"", "unknown key", "did you mean \"learning_rate\""])
    }

    func testUnknownOverrideIsNamed() throws {
        try assertFails(valid, overrides: ["--max_stepz", "3"], contains: ["command line", "max_stepz", "did you mean \"max_steps\""])
    }

    func testWrongTypeNamesKeyAndLine() throws {
        try assertFails(valid.replacingOccurrences(of: "max_steps: 200", with: "max_steps: lots"), contains: ["config.yaml:5", "\"max_steps\"", "integer"])
    }

    func testImpossibleValuesNameKeyAndLine() throws {
        try assertFails(valid.replacingOccurrences(of: "learning_rate: 3.0e-4", with: "learning_rate: -1"), contains: ["config.yaml:4", "learning_rate", "positive"])
        try assertFails(valid + "\nlr_scheduler_type: exponential\n", contains: ["lr_scheduler_type", "linear, cosine"])
        try assertFails(valid + "\nloss_norm_type: tokens\n", contains: ["loss_norm_type", "token, sequence, batch"])
        try assertFails(valid + "\ntime_epsilon: 1.5\n", contains: ["time_epsilon", "(0, 1)"])
        try assertFails(valid.replacingOccurrences(of: "gradient_accumulation_steps: 2", with: "gradient_accumulation_steps: 0"), contains: ["gradient_accumulation_steps"])
    }

    /// The adaptation recipes' keys: DiffuLLaMA's (`objective: diffullama`, `shift`, `anneal_steps`)
    /// and dLLM's (`right_shift_logits`), each refused under the other objective.
    func testAdaptationRecipeKeysLoadAndAreRefusedUnderTheOtherObjective() throws {
        let (diffullama, _) = try TrainingConfig.load(path: try write(valid + "\nobjective: diffullama\nshift: true\n"))
        XCTAssertEqual(diffullama.objective, "diffullama")
        XCTAssertTrue(diffullama.shift)
        XCTAssertEqual(diffullama.annealSteps, 10_000, "DiffuLLaMA's default")
        let (mdlm, _) = try TrainingConfig.load(path: try write(valid + "\nright_shift_logits: true\n"))
        XCTAssertTrue(mdlm.rightShiftLogits)
        XCTAssertFalse(mdlm.shift)
        try assertFails(valid + "\nshift: true\n", contains: ["config.yaml:10", "\"shift\"", "objective mdlm", "right_shift_logits"])
        try assertFails(valid + "\nanneal_steps: 100\n", contains: ["anneal_steps", "only diffullama"])
        try assertFails(valid + "\nobjective: diffullama\nright_shift_logits: true\n", contains: ["right_shift_logits", "spells it shift"])
        try assertFails(valid + "\nobjective: diffullama\nloss_norm_type: token\n", contains: ["loss_norm_type", "masked tokens"])
        try assertFails(valid + "\nobjective: diffullama\nanneal_steps: 0\n", contains: ["anneal_steps", "at least 1"])
        try assertFails(valid, overrides: ["--objective", "diffullama", "--anneal_step", "5"], contains: ["anneal_step", "did you mean \"anneal_steps\""])
        try assertFails(valid + "\nobjective: diffulama\n", contains: ["objective", "mdlm, ar, diffullama"])
    }

    /// `objective: editflow` and its keys (dLLM's `scheduler_cls`, `x0_sampler`, `normalize_per_position`,
    /// `max_w`): defaults, dLLM's spellings, bad values named, refused under another objective.
    func testEditFlowKeysLoadAndAreRefusedUnderOtherObjectives() throws {
        let (defaults, _) = try TrainingConfig.load(path: try write(valid + "\nobjective: editflow\n"))
        XCTAssertEqual(KappaSchedule(dLLMName: defaults.schedulerCls), .cubic)
        XCTAssertEqual(EditFlowObjective.Source(spec: defaults.x0Sampler), .masks(length: 64))
        XCTAssertTrue(defaults.normalizePerPosition)
        XCTAssertEqual(defaults.maxW, 20)
        let (set, _) = try TrainingConfig.load(path: try write(valid + "\nobjective: editflow\nscheduler_cls: LinearKappaScheduler\nx0_sampler: empty\nmax_w: 0\n"))
        XCTAssertEqual(KappaSchedule(dLLMName: set.schedulerCls), .linear)
        XCTAssertEqual(EditFlowObjective.Source(spec: set.x0Sampler), .empty)
        try assertFails(valid + "\nobjective: editflow\nscheduler_cls: SquareKappaScheduler\n", contains: ["scheduler_cls", "CubicKappaScheduler"])
        try assertFails(valid + "\nobjective: editflow\nx0_sampler: noise\n", contains: ["x0_sampler", "masks[length:N]"])
        try assertFails(valid + "\nobjective: editflow\nmax_w: -1\n", contains: ["max_w", "negative"])
        try assertFails(valid + "\nx0_sampler: empty\n", contains: ["x0_sampler", "only editflow"])
        try assertFails(valid + "\nobjective: diffullama\nscheduler_cls: cubic\n", contains: ["scheduler_cls", "only editflow"])
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let (shipped, _) = try TrainingConfig.load(path: repository.appendingPathComponent("configs/editflow/smollm2-sft.yaml").path)
        XCTAssertEqual(shipped.objective, "editflow")
        XCTAssertEqual(shipped.task, "sft")
    }

    /// The shipped adaptation recipes load and validate, and both use DiffuLLaMA's shifted objective.
    func testShippedA2DConfigsLoad() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for (name, task, anneal) in [("smollm2-pt", "pt", 20), ("smollm2-sft", "sft", 1)] {
            let (config, ignored) = try TrainingConfig.load(path: repository.appendingPathComponent("configs/a2d/\(name).yaml").path)
            XCTAssertEqual(config.objective, "diffullama", name)
            XCTAssertTrue(config.shift, name)
            XCTAssertEqual(config.annealSteps, anneal, name)
            XCTAssertEqual(config.task, task, name)
            XCTAssertEqual(config.modelNameOrPath, "runs/smollm2-a2d", name)
            XCTAssertEqual(ignored, [], name)
        }
    }

    func testMissingRequiredKeyAndMissingFile() throws {
        try assertFails("dataset_args: x\noutput_dir: y\n", contains: ["model_name_or_path", "required"])
        XCTAssertThrowsError(try TrainingConfig.load(path: directory.appendingPathComponent("nope.yaml").path)) { error in
            XCTAssertTrue("\(error)".contains("nope.yaml: no such file"))
        }
        try assertFails("model_name_or_path: [unclosed\n", contains: ["config.yaml", "not valid YAML"])
    }

    func testResumeTrueMeansLatestAndIntervalsBelowOneAreFractions() throws {
        let (config, _) = try TrainingConfig.load(path: try write(valid + "\nresume_from_checkpoint: true\n"))
        XCTAssertEqual(config.resumeFromCheckpoint, "latest")
        XCTAssertEqual(TrainingConfig.resolveInterval(0.05, totalSteps: 2000), 100)
        XCTAssertEqual(TrainingConfig.resolveInterval(50, totalSteps: 2000), 50)
    }

    func testLearningRateSchedulesMatchTransformers() {
        // Values of transformers.get_scheduler(...) for peak 1.0, 10 warm-up steps of 100.
        let linear = LearningRateSchedule(kind: .linear, peak: 1, warmup: 10, total: 100)
        XCTAssertEqual(linear.rate(at: 0), 0)
        XCTAssertEqual(linear.rate(at: 5), 0.5)
        XCTAssertEqual(linear.rate(at: 10), 1)
        XCTAssertEqual(linear.rate(at: 55), 0.5, accuracy: 1e-12)
        XCTAssertEqual(linear.rate(at: 100), 0)
        let cosine = LearningRateSchedule(kind: .cosine, peak: 1, warmup: 10, total: 100)
        XCTAssertEqual(cosine.rate(at: 55), 0.5, accuracy: 1e-12)
        XCTAssertEqual(cosine.rate(at: 100), 0, accuracy: 1e-12)
        XCTAssertEqual(LearningRateSchedule(kind: .constant, peak: 2, warmup: 10, total: 100).rate(at: 0), 2)
        XCTAssertEqual(LearningRateSchedule(kind: .constantWithWarmup, peak: 2, warmup: 10, total: 100).rate(at: 5), 1)
        XCTAssertEqual(LearningRateSchedule.warmupSteps(steps: 0, ratio: 0.03, total: 1000), 30)
    }
}

/// `loss_weight_type: cart` and its geometric parameter (Dream's recipe, docs/dream.md).
final class CARTConfigTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-cart-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    func load(_ extra: String) throws -> TrainingConfig {
        let path = directory.appendingPathComponent("config.yaml").path
        try ("model_name_or_path: m\ndataset_args: d\noutput_dir: o\n" + extra).write(toFile: path, atomically: true, encoding: .utf8)
        return try TrainingConfig.load(path: path).0
    }

    func testCARTSpellings() throws {
        XCTAssertEqual(try load("loss_weight_type: cart\n").cartGeometricP, 0.3)
        XCTAssertEqual(try load("loss_weight_type: cart\ncart_geo_p: 0.5\n").cartGeometricP, 0.5)
        XCTAssertEqual(try load("loss_weight_type: cart[geo_p:0.25]\nright_shift_logits: true\n").cartGeometricP, 0.25)
        XCTAssertNil(try load("loss_weight_type: scheduler\n").cartGeometricP)
    }

    func testBadCARTSettingsAreRefusedByName() throws {
        for (extra, expected) in [("loss_weight_type: cart\ncart_geo_p: 1.5\n", "cart_geo_p"),
                                  ("loss_weight_type: cart[geo_p:0]\n", "loss_weight_type"),
                                  ("loss_weight_type: cartx\n", "loss_weight_type"),
                                  ("cart_geo_p: 0.3\n", "cart_geo_p"),
                                  ("loss_weight_type: cart[geo_p:0.3]\ncart_geo_p: 0.3\n", "cart_geo_p"),
                                  ("objective: ar\nloss_weight_type: cart\n", "loss_weight_type")] {
            XCTAssertThrowsError(try load(extra), extra) { XCTAssertTrue("\($0)".contains(expected), "\($0) should name \(expected)") }
        }
    }
}
