import Foundation
import Yams

/// A DeepSpeed JSON config: the file an accelerate config names in
/// `deepspeed_config.deepspeed_config_file` (and HF Trainer's `--deepspeed` takes). The keys
/// that mean something for CPU ranks are read; GPU-only ones (precision switches, offload,
/// communication overlap, batch sizes that the training config already sets) are reported
/// once as ignored; `optimizer` and `scheduler` sections are refused, because DeepSpeed
/// would let them replace the training config's AdamW and schedule, which dllm does not.
///
/// Read: `zero_optimization.stage`, `zero_optimization.reduce_bucket_size`,
/// `gradient_accumulation_steps`, `gradient_clipping` (each may be `"auto"`: the training
/// config decides, as with HF Trainer) and `communication_data_type` (`fp32` or `bf16`: the
/// element type of gradient reductions; DeepSpeed's `fp16` has no CPU meaning here) and
/// `bf16.enabled` (`true` trains in bf16 as accelerate's `mixed_precision: bf16` does;
/// `"auto"` leaves it to the launch config); `fp16.enabled: true` is refused.
public struct DeepSpeedConfigFile: Sendable, Equatable {
    public var zeroStage: Int?
    public var reduceBucketSize: Int?
    public var gradientAccumulationSteps: Int?
    public var gradientClipping: Double?
    /// `fp32` or `bf16` when the file sets it.
    public var communicationDataType: String?
    /// `bf16.enabled` when the file sets it to true or false (not `"auto"`).
    public var bf16Enabled: Bool?
    /// Keys accepted without effect on CPU, dotted (`zero_optimization.overlap_comm`).
    public var ignored: [String] = []

    public static let communicationDataTypes = ["fp32", "bf16"]

    public init() {}

    public static func load(path: String) throws -> DeepSpeedConfigFile {
        let file = try FlatYAMLConfig(contentsOf: path)
        var config = DeepSpeedConfigFile()
        func fail(_ key: String, _ node: Node, _ message: String) -> ConfigError {
            ConfigError(file: path, line: node.mark?.line, key: key, message)
        }
        func isAuto(_ node: Node) -> Bool { node.string == "auto" }
        func positiveInt(_ key: String, _ node: Node) throws -> Int {
            guard let value = node.int ?? node.float.flatMap({ $0 == $0.rounded() ? Int(exactly: $0) : nil }), value > 0 else {
                throw fail(key, node, "expected a positive integer or \"auto\", found \(node.string ?? "\(node)")")
            }
            return value
        }
        for (k, v) in file.node.mapping ?? [:] {
            guard let key = k.string else { continue }
            switch key {
            case "communication_data_type":
                if v.scalar?.tag == Tag(.null) || v.string == "null" { continue }
                guard let type = v.string, communicationDataTypes.contains(type) else {
                    let found = v.string ?? "\(v)"
                    let why = ["fp16", "float16", "half"].contains(found) ? " (fp16 is a GPU format; bf16 halves the bytes on CPU)" : ""
                    throw fail(key, v, "must be fp32 or bf16, found \(found)\(why)")
                }
                config.communicationDataType = type
            case "gradient_accumulation_steps":
                if !isAuto(v) { config.gradientAccumulationSteps = try positiveInt(key, v) }
            case "gradient_clipping":
                if !isAuto(v) {
                    guard let clip = v.float, clip >= 0 else { throw fail(key, v, "expected a non-negative number or \"auto\"") }
                    config.gradientClipping = clip
                }
            case "zero_optimization":
                guard let section = v.mapping else { throw fail(key, v, "expected a mapping") }
                for (sk, sv) in section {
                    guard let sub = sk.string else { continue }
                    let name = "zero_optimization.\(sub)"
                    switch sub {
                    case "stage":
                        guard let stage = sv.int, (0...3).contains(stage) else { throw fail(name, sv, "must be 0, 1, 2 or 3") }
                        config.zeroStage = stage
                    case "reduce_bucket_size":
                        if !isAuto(sv) { config.reduceBucketSize = try positiveInt(name, sv) }
                    default: config.ignored.append(name)
                    }
                }
            case "bf16", "fp16":
                guard let section = v.mapping else { throw fail(key, v, "expected a mapping such as {\"enabled\": \"auto\"}") }
                for (sk, sv) in section {
                    guard let sub = sk.string else { continue }
                    let name = "\(key).\(sub)"
                    guard sub == "enabled" else { config.ignored.append(name); continue }
                    if isAuto(sv) { continue }
                    guard let on = sv.bool else { throw fail(name, sv, "expected true, false or \"auto\"") }
                    if key == "bf16" {
                        config.bf16Enabled = on
                    } else if on {
                        throw fail(name, sv, "fp16 is a GPU format; on CPU enable bf16 instead")
                    }
                }
            case "optimizer", "scheduler":
                throw fail(key, v, "DeepSpeed's \(key) section would replace the training config's; dllm trains with the training "
                           + "config's AdamW and lr_scheduler_type, so remove it and set those keys there")
            default: config.ignored.append(key)
            }
        }
        return config
    }
}
