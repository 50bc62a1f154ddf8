import DLLMConfig
import DLLMLaunch
import Foundation
import XCTest

/// accelerate's `deepspeed_config_file`: the DeepSpeed JSON it names decides the stage, the
/// bucket, accumulation, clipping and `communication_data_type`; GPU-only keys are reported,
/// and what dllm cannot honour is an error naming the file, line and key.
final class DeepSpeedConfigFileTests: LaunchTestCase {
    func write(_ text: String, _ name: String) throws -> URL {
        let url = work.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func launchConfig(file: String, inline: String = "", mixedPrecision: String = "bf16") throws -> URL {
        try write("""
        compute_environment: LOCAL_MACHINE
        deepspeed_config:
          deepspeed_config_file: \(file)
          deepspeed_multinode_launcher: standard\(inline)
        distributed_type: DEEPSPEED
        mixed_precision: \(mixedPrecision)
        num_processes: 2
        """, "launch.yaml")
    }

    func testTheFileDecidesStageBucketAccumulationClippingAndWireType() throws {
        _ = try write("""
        {
          "train_micro_batch_size_per_gpu": "auto",
          "gradient_accumulation_steps": 3,
          "gradient_clipping": 0.5,
          "communication_data_type": "bf16",
          "bf16": {"enabled": "auto"},
          "zero_optimization": {"stage": 2, "reduce_bucket_size": 500000, "overlap_comm": true}
        }
        """, "ds.json")
        // A relative path is found beside the launch config (the tests' working directory is elsewhere).
        let config = try LaunchConfig.load(path: try launchConfig(file: "ds.json").path)
        XCTAssertEqual(config.shardingName, "zero2")
        XCTAssertEqual(config.reduceBucketSize, 500_000)
        XCTAssertEqual(config.gradientAccumulationSteps, 3)
        XCTAssertEqual(config.gradientClipping, 0.5)
        XCTAssertEqual(config.communicationDataType, "bf16")
        XCTAssertEqual(config.deepspeedConfigFile, work.appendingPathComponent("ds.json").path)
        XCTAssertEqual(config.mixedPrecision, .bf16, "bf16.enabled \"auto\": the launch config's mixed_precision decides")
        for key in ["ds.json: train_micro_batch_size_per_gpu", "ds.json: zero_optimization.overlap_comm"] {
            XCTAssertTrue(config.ignored.contains(key), "\(key) is reported as ignored: \(config.ignored)")
        }
        // "auto" leaves the choice to the training config; no stage is DeepSpeed's stage 0 (DDP).
        _ = try write(#"{"gradient_accumulation_steps": "auto", "gradient_clipping": "auto", "communication_data_type": "fp32"}"#, "auto.json")
        let auto = try LaunchConfig.load(path: try launchConfig(file: work.appendingPathComponent("auto.json").path).path)
        XCTAssertEqual(auto.shardingName, "ddp")
        XCTAssertNil(auto.gradientAccumulationSteps)
        XCTAssertNil(auto.gradientClipping)
        XCTAssertEqual(auto.communicationDataType, "fp32")
        // bf16.enabled decides when the launch config says nothing, and must agree when it does.
        _ = try write(#"{"bf16": {"enabled": true}, "fp16": {"enabled": false, "loss_scale": 0}}"#, "on.json")
        let on = try LaunchConfig.load(path: try launchConfig(file: "on.json", mixedPrecision: "null").path)
        XCTAssertEqual(on.mixedPrecision, .bf16)
        XCTAssertTrue(on.ignored.contains("on.json: fp16.loss_scale"), "\(on.ignored)")
        _ = try write(#"{"bf16": {"enabled": false}}"#, "off.json")
        XCTAssertEqual(try LaunchConfig.load(path: try launchConfig(file: "off.json", mixedPrecision: "'no'").path).mixedPrecision, .no)
    }

    func testWhatCannotBeHonouredIsAnErrorNamingIt() throws {
        let cases: [(String, [String])] = [
            ("{\n  \"communication_data_type\": \"fp16\"\n}", ["ds.json:2", "communication_data_type", "fp32 or bf16"]),
            ("{\n  \"zero_optimization\": {\"stage\": 4}\n}", ["ds.json:2", "zero_optimization.stage", "0, 1, 2 or 3"]),
            ("{\n  \"optimizer\": {\"type\": \"AdamW\"}\n}", ["ds.json:2", "optimizer", "lr_scheduler_type"]),
            ("{\n  \"gradient_accumulation_steps\": 0\n}", ["ds.json:2", "gradient_accumulation_steps", "positive integer"]),
            ("{\n  \"fp16\": {\"enabled\": true}\n}", ["ds.json:2", "fp16.enabled", "GPU format"]),
            ("{\n  \"bf16\": {\"enabled\": \"yes please\"}\n}", ["ds.json:2", "bf16.enabled", "true, false or \"auto\""]),
            ("{\n  \"bf16\": {\"enabled\": false}\n}", ["launch.yaml", "bf16.enabled: false", "contradicts mixed_precision: bf16"]),
        ]
        let launch = try launchConfig(file: "ds.json")
        for (text, words) in cases {
            _ = try write(text, "ds.json")
            XCTAssertThrowsError(try LaunchConfig.load(path: launch.path), text) { error in
                for word in words { XCTAssertTrue("\(error)".contains(word), "\(error) names \(word)") }
            }
        }
        // As accelerate: the file replaces the inline DeepSpeed keys, so both is an error.
        _ = try write("{}", "ds.json")
        let both = try launchConfig(file: "ds.json", inline: "\n  zero_stage: 2")
        XCTAssertThrowsError(try LaunchConfig.load(path: both.path)) { error in
            XCTAssertTrue("\(error)".contains("deepspeed_config.zero_stage"), "\(error)")
        }
        let missing = try launchConfig(file: "nowhere.json")
        XCTAssertThrowsError(try LaunchConfig.load(path: missing.path)) { error in
            XCTAssertTrue("\(error)".contains("nowhere.json") && "\(error)".contains("no such file"), "\(error)")
        }
    }
}
