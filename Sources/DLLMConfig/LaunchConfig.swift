import Foundation
import Yams

/// An accelerate launch config (`accelerate config` writes them; dLLM ships
/// `zero1.yaml`, `zero2.yaml`, `zero3.yaml`, `fsdp.yaml`, `ddp.yaml`, `cpu.yaml`),
/// accepted unchanged. `mixed_precision: bf16` turns bf16 training on (see `MixedPrecision`);
/// keys that mean nothing on CPU (TPU, GPU ids, offload devices, dynamo) are accepted and
/// reported once as ignored; an unknown key or a bad value is an error naming it.
public struct LaunchConfig: Sendable, Equatable {
    public enum DistributedType: String, Sendable, CaseIterable {
        case no = "NO", multiGPU = "MULTI_GPU", multiCPU = "MULTI_CPU", deepspeed = "DEEPSPEED", fsdp = "FSDP"
    }

    public var distributedType: DistributedType = .no
    public var numProcesses: Int = 1
    public var numMachines: Int = 1
    public var machineRank: Int = 0
    public var mainProcessIP: String?
    public var mainProcessPort: Int?
    public var zeroStage: Int?
    public var reduceBucketSize: Int?
    public var gradientAccumulationSteps: Int?
    public var gradientClipping: Double?
    public var fsdpShardingStrategy: String?
    public var fsdpReshardAfterForward: Bool?
    public var fsdpVersion: Int?
    public var fsdpBackwardPrefetch: String?
    /// `deepspeed_config.deepspeed_config_file`, as resolved (see `DeepSpeedConfigFile`).
    public var deepspeedConfigFile: String?
    /// The element type of gradient reductions, `fp32` or `bf16` (the DeepSpeed file's
    /// `communication_data_type`); nil when no file sets it.
    public var communicationDataType: String?
    /// `mpirun_config.mpirun_hostfile`: the machines of a multi-machine run without Slurm.
    public var mpirunHostfile: String?
    /// `mixed_precision` (or the DeepSpeed file's `bf16.enabled`); nil when neither sets it.
    public var mixedPrecision: MixedPrecision?
    /// Keys accepted without effect on CPU, for a single notice.
    public var ignored: [String] = []

    public static let topLevelKeys: Set<String> = [
        "compute_environment", "distributed_type", "num_processes", "num_machines", "machine_rank",
        "main_process_ip", "main_process_port", "main_training_function", "rdzv_backend", "same_network", "mixed_precision",
        "deepspeed_config", "fsdp_config", "debug", "enable_cpu_affinity", "mpirun_config",
    ]
    /// `mpirun_config` (accelerate's MULTI_CPU launches through mpirun).
    public static let mpirunKeys: Set<String> = ["mpirun_hostfile", "mpirun_ccl"]
    /// Meaningless on CPU: accepted and reported.
    public static let ignoredTopLevelKeys: Set<String> = [
        "downcast_bf16", "use_cpu", "gpu_ids", "tpu_env", "tpu_use_cluster", "tpu_use_sudo",
        "tpu_name", "tpu_zone", "tpu_vm", "dynamo_config", "dynamo_backend", "ipex_config", "megatron_lm_config", "commands",
        "command_file", "fp8_config", "tp_config", "parallelism_config",
    ]
    public static let deepspeedKeys: Set<String> = [
        "zero_stage", "gradient_accumulation_steps", "gradient_clipping", "reduce_bucket_size",
        "offload_optimizer_device", "offload_param_device", "zero3_init_flag", "zero3_save_16bit_model",
        "deepspeed_multinode_launcher", "deepspeed_config_file", "deepspeed_hostfile", "offload_optimizer_nvme_path",
        "offload_param_nvme_path", "deepspeed_moe_layer_cls_names", "transformer_moe_cls_names", "deepspeed_exclusion_filter",
        "deepspeed_inclusion_filter",
    ]
    public static let fsdpKeys: Set<String> = [
        "fsdp_sharding_strategy", "fsdp_reshard_after_forward", "fsdp_version", "fsdp_backward_prefetch",
        "fsdp_forward_prefetch", "fsdp_auto_wrap_policy", "fsdp_transformer_layer_cls_to_wrap", "fsdp_offload_params",
        "fsdp_state_dict_type", "fsdp_sync_module_states", "fsdp_use_orig_params", "fsdp_cpu_ram_efficient_loading",
        "fsdp_activation_checkpointing", "fsdp_min_num_params",
    ]

    public init() {}

    public static func load(path: String) throws -> LaunchConfig {
        var file = try FlatYAMLConfig(contentsOf: path)
        try file.validateKeys(known: topLevelKeys, ignored: ignoredTopLevelKeys,
                              sections: ["deepspeed_config": deepspeedKeys, "fsdp_config": fsdpKeys, "mpirun_config": mpirunKeys])
        var config = LaunchConfig()
        config.ignored = file.ignored.map(\.key)
        guard let mapping = file.node.mapping else { return config }
        func fail(_ key: String, _ node: Node, _ message: String) -> ConfigError {
            ConfigError(file: path, line: node.mark?.line, key: key, message)
        }
        func int(_ key: String, _ node: Node) throws -> Int {
            guard let v = node.int else { throw fail(key, node, "expected an integer, found \(node.string ?? "a \(node)")") }
            return v
        }
        func isNull(_ node: Node) -> Bool {
            guard let scalar = node.scalar else { return false }
            return scalar.tag == Tag(.null) || ["null", "~", "Null", "NULL", ""].contains(scalar.string)
        }
        func bool(_ key: String, _ node: Node) throws -> Bool {
            guard let v = node.bool else { throw fail(key, node, "expected true or false") }
            return v
        }
        var fileLine: Int?
        for (k, v) in mapping {
            guard let key = k.string else { continue }
            switch key {
            case "distributed_type":
                guard let raw = v.string, let t = DistributedType(rawValue: raw) else {
                    throw fail(key, v, "\"\(v.string ?? "")\" is not one of \(DistributedType.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                config.distributedType = t
            case "mixed_precision":
                if isNull(v) { continue }
                switch MixedPrecision.parse(v) {
                case .success(let precision): config.mixedPrecision = precision
                case .failure(let error): throw fail(key, v, error.description)
                }
            case "num_processes": config.numProcesses = try int(key, v)
            case "num_machines": config.numMachines = try int(key, v)
            case "machine_rank": config.machineRank = try int(key, v)
            case "main_process_ip": config.mainProcessIP = isNull(v) ? nil : v.string
            case "main_process_port": config.mainProcessPort = isNull(v) ? nil : try int(key, v)
            case "mpirun_config":
                for (sk, sv) in v.mapping ?? [:] {
                    if sk.string == "mpirun_hostfile" {
                        if !isNull(sv) { config.mpirunHostfile = sv.string }
                    } else if let sub = sk.string {
                        config.ignored.append("mpirun_config.\(sub)")
                    }
                }
            case "deepspeed_config":
                for (sk, sv) in v.mapping ?? [:] {
                    guard let sub = sk.string else { continue }
                    let name = "deepspeed_config.\(sub)"
                    switch sub {
                    case "zero_stage":
                        let stage = try int(name, sv)
                        guard (0...3).contains(stage) else { throw fail(name, sv, "must be 0, 1, 2 or 3") }
                        config.zeroStage = stage
                    case "reduce_bucket_size":
                        let n = sv.int ?? sv.float.map { Int($0) }
                        guard let n, n > 0 else { throw fail(name, sv, "must be a positive number of elements") }
                        config.reduceBucketSize = n
                    case "gradient_accumulation_steps":
                        if sv.string != "auto" { config.gradientAccumulationSteps = try int(name, sv) }
                    case "gradient_clipping":
                        if sv.string != "auto" {
                            guard let x = sv.float else { throw fail(name, sv, "expected a number") }
                            config.gradientClipping = x
                        }
                    case "deepspeed_config_file":
                        if !isNull(sv) {
                            guard let file = sv.string, !file.isEmpty else { throw fail(name, sv, "expected the path of a DeepSpeed JSON config") }
                            config.deepspeedConfigFile = file
                            fileLine = sv.mark?.line
                        }
                    case "offload_optimizer_device", "offload_param_device":
                        if let d = sv.string, d != "none", d != "cpu" { throw fail(name, sv, "must be none or cpu") }
                        config.ignored.append(name)
                    default: config.ignored.append(name)
                    }
                }
            case "fsdp_config":
                for (sk, sv) in v.mapping ?? [:] {
                    guard let sub = sk.string else { continue }
                    let name = "fsdp_config.\(sub)"
                    switch sub {
                    case "fsdp_sharding_strategy":
                        let allowed = ["FULL_SHARD", "SHARD_GRAD_OP", "NO_SHARD", "HYBRID_SHARD", "1", "2", "3"]
                        guard let raw = sv.string, allowed.contains(raw) else {
                            throw fail(name, sv, "must be FULL_SHARD, SHARD_GRAD_OP or NO_SHARD")
                        }
                        config.fsdpShardingStrategy = ["1": "FULL_SHARD", "2": "SHARD_GRAD_OP", "3": "NO_SHARD"][raw] ?? raw
                    case "fsdp_reshard_after_forward":
                        // accelerate ≥ 1.6 names the FSDP1 sharding strategy here; FSDP2 takes a boolean.
                        if let raw = sv.string, ["FULL_SHARD", "SHARD_GRAD_OP", "NO_SHARD", "HYBRID_SHARD"].contains(raw) {
                            config.fsdpShardingStrategy = raw
                        } else {
                            guard let flag = sv.bool else {
                                throw fail(name, sv, "expected true or false (FSDP2) or FULL_SHARD, SHARD_GRAD_OP, NO_SHARD (FSDP1)")
                            }
                            config.fsdpReshardAfterForward = flag
                        }
                    case "fsdp_version":
                        let version = try int(name, sv)
                        guard version == 1 || version == 2 else { throw fail(name, sv, "must be 1 or 2") }
                        config.fsdpVersion = version
                    case "fsdp_backward_prefetch": config.fsdpBackwardPrefetch = sv.string
                    default: config.ignored.append(name)
                    }
                }
            default: break
            }
        }
        if let named = config.deepspeedConfigFile {
            try config.mergeDeepSpeedFile(named, launchConfigPath: path, line: fileLine)
        }
        if config.numProcesses < 1 { throw ConfigError(file: path, line: file.line(of: "num_processes"), key: "num_processes", "must be at least 1") }
        if config.numMachines < 1 { throw ConfigError(file: path, line: file.line(of: "num_machines"), key: "num_machines", "must be at least 1") }
        if config.machineRank < 0 || config.machineRank >= config.numMachines {
            throw ConfigError(file: path, line: file.line(of: "machine_rank"), key: "machine_rank", "must be in 0..<num_machines")
        }
        return config
    }

    /// Reads the DeepSpeed JSON config named by `deepspeed_config_file`: a relative path is
    /// taken from the working directory (as accelerate opens it), else from the launch config's
    /// folder. As in accelerate, the file replaces the inline DeepSpeed keys, so giving both is
    /// an error naming them.
    mutating func mergeDeepSpeedFile(_ named: String, launchConfigPath: String, line: Int?) throws {
        let key = "deepspeed_config.deepspeed_config_file"
        var resolved = named
        if !named.hasPrefix("/") && !FileManager.default.fileExists(atPath: named) {
            let beside = URL(fileURLWithPath: launchConfigPath).deletingLastPathComponent().appendingPathComponent(named).path
            if FileManager.default.fileExists(atPath: beside) { resolved = beside }
        }
        guard FileManager.default.fileExists(atPath: resolved) else {
            throw ConfigError(file: launchConfigPath, line: line, key: key,
                              "no such file: \(named) (looked in the working directory and beside the launch config)")
        }
        var inline: [String] = []
        if zeroStage != nil { inline.append("zero_stage") }
        if reduceBucketSize != nil { inline.append("reduce_bucket_size") }
        if gradientAccumulationSteps != nil { inline.append("gradient_accumulation_steps") }
        if gradientClipping != nil { inline.append("gradient_clipping") }
        guard inline.isEmpty else {
            throw ConfigError(file: launchConfigPath, line: line, key: key,
                              "the DeepSpeed file replaces deepspeed_config.\(inline.joined(separator: ", deepspeed_config.")); "
                              + "set them in \(named) instead (accelerate refuses both as well)")
        }
        let file = try DeepSpeedConfigFile.load(path: resolved)
        deepspeedConfigFile = resolved
        zeroStage = file.zeroStage
        reduceBucketSize = file.reduceBucketSize
        gradientAccumulationSteps = file.gradientAccumulationSteps
        gradientClipping = file.gradientClipping
        communicationDataType = file.communicationDataType
        if let fromFile = file.bf16Enabled.map({ $0 ? MixedPrecision.bf16 : .no }) {
            // accelerate refuses a DeepSpeed file whose bf16 switch contradicts mixed_precision.
            if let inline = mixedPrecision, inline != fromFile {
                throw ConfigError(file: launchConfigPath, line: line, key: key,
                                  "\(named) sets bf16.enabled: \(fromFile == .bf16), which contradicts mixed_precision: \(inline.rawValue); "
                                  + "make them agree or set bf16.enabled to \"auto\"")
            }
            mixedPrecision = fromFile
        }
        ignored += file.ignored.map { "\(named): \($0)" }
    }

    /// The sharding this config asks for, by accelerate's and DeepSpeed's meaning.
    public var shardingName: String {
        switch distributedType {
        case .no, .multiGPU, .multiCPU: return "ddp"
        case .deepspeed:
            switch zeroStage ?? 0 {
            case 0: return "ddp"
            case 1: return "zero1"
            case 2: return "zero2"
            default: return "fsdp"
            }
        case .fsdp:
            switch fsdpShardingStrategy ?? "FULL_SHARD" {
            case "NO_SHARD": return "ddp"
            case "SHARD_GRAD_OP": return "zero2"
            default: return "fsdp"
            }
        }
    }
}
