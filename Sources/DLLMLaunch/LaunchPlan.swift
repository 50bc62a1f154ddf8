import DLLMConfig
import Foundation

/// A launch with every choice made: command-line flags over the accelerate launch
/// config over the Slurm allocation's counts over defaults; what each rank runs and
/// with how many threads; where the logs and checkpoints go.
public struct LaunchPlan: Sendable {
    public var options: LaunchOptions
    public var launchConfig: LaunchConfig
    public var slurm: SlurmAllocation?
    public var worldSize: Int
    public var numMachines: Int
    public var machineRank: Int
    public var ranksPerMachine: Int
    public var coresPerMachine: Int
    public var threadsPerRank: Int
    /// `ddp`, `zero1`, `zero2` or `fsdp` (what `DLLM_SHARDING` tells the ranks).
    public var sharding: String
    /// What `ACCELERATE_MIXED_PRECISION` tells the ranks: `--mixed_precision`, else the launch
    /// config's, else `no` (accelerate sets the variable for every launch the same way).
    public var mixedPrecision: MixedPrecision = .no
    /// The arguments after `dllm train CONFIG`: the user's overrides plus what the launch
    /// config's DeepSpeed section and the launcher's flags translate to (for eval: eval's flags as given).
    public var trainingArguments: [String]
    /// The training run's `output_dir`, made absolute.
    public var outputDirectory: URL
    /// One-time notices for the user (ignored keys, translated keys, oversubscription).
    public var notes: [String] = []

    public var logDirectory: URL { outputDirectory.appendingPathComponent("logs") }

    /// What each rank's `dllm` runs, given the (possibly resume-adjusted) arguments.
    public func rankCommand(_ arguments: [String]) -> [String] {
        switch options.command {
        case .train: return ["train", options.trainingConfig] + arguments
        case .eval: return ["eval"] + arguments
        }
    }

    /// The host names of an MPI hostfile (`host [slots=N]` lines, `#` comments).
    public static func machines(inHostfile path: String) throws -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw LaunchError.badOption(name: "--hostfile", value: path, expected: "a readable MPI hostfile ('host slots=N' lines)")
        }
        let hosts = text.split(separator: "\n").compactMap { line -> String? in
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            return content.split(separator: " ").first.map(String.init)
        }
        var seen = Set<String>()
        return hosts.filter { seen.insert($0).inserted }
    }

    /// What accelerate's `main_process_ip`/`main_process_port` do here: with one machine
    /// nothing crosses the network; with several, machine 0's address and port are where the
    /// collector is advertised and listens (OpenMPI itself starts every rank from machine 0
    /// and picks its own ports).
    static func mainProcessNotes(_ options: LaunchOptions, numMachines: Int) -> [String] {
        guard options.mainProcessIP != nil || options.mainProcessPort != nil else { return [] }
        let given = [options.mainProcessIP.map { "main_process_ip \($0)" }, options.mainProcessPort.map { "main_process_port \($0)" }]
            .compactMap { $0 }.joined(separator: ", ")
        if numMachines == 1 { return ["\(given): one machine, nothing crosses the network: not used"] }
        return ["\(given): the collector listens there for the ranks of every machine; "
                + "OpenMPI starts every rank from this machine and chooses its own ports (see docs/launch.md, firewall)"]
    }

    /// The `--hostfile` launch an accelerate-style multi-machine command corresponds to.
    public func equivalentHostfileCommand() -> String {
        let ip = options.mainProcessIP ?? "MACHINE0"
        return "on machine 0 only: printf '\(ip) slots=\(ranksPerMachine)\\nMACHINE1 slots=\(ranksPerMachine)\\n…' > hosts.txt; "
            + "dllm-launch --hostfile hosts.txt --num_processes \(worldSize)"
            + (options.launchConfigPath.map { " --config \($0)" } ?? "") + " \(options.trainingConfig)"
            + " (or inside Slurm: sbatch --nodes=\(numMachines) --ntasks-per-node=\(ranksPerMachine) …)"
    }

    public static func resolve(_ options: LaunchOptions, environment env: [String: String] = ProcessInfo.processInfo.environment,
                               coresPerMachine detectedCores: Int? = nil) throws -> LaunchPlan {
        let config = try options.launchConfigPath.map { try LaunchConfig.load(path: $0) } ?? LaunchConfig()
        let slurm = SlurmAllocation.current(env)
        var notes: [String] = []
        if !config.ignored.isEmpty, let path = options.launchConfigPath {
            notes.append("\(path): ignored on CPU: \(config.ignored.joined(separator: ", "))")
        }
        for (name, value) in [("--num_processes", options.numProcesses), ("--num_machines", options.numMachines),
                              ("--gradient_accumulation_steps", options.gradientAccumulationSteps),
                              ("--num_cpu_threads_per_process", options.threadsPerProcess)] {
            if let value, value < 1 { throw LaunchError.badOption(name: name, value: "\(value)", expected: "a positive integer") }
        }
        if options.maxRestarts < 0 { throw LaunchError.badOption(name: "--max_restarts", value: "\(options.maxRestarts)", expected: "0 or more") }
        if let stage = options.zeroStage, !(0...3).contains(stage) {
            throw LaunchError.badOption(name: "--zero_stage", value: "\(stage)", expected: "0, 1, 2 or 3")
        }
        var options = options
        if options.hostfile == nil, let file = config.mpirunHostfile { options.hostfile = file }
        options.mainProcessIP = options.mainProcessIP ?? config.mainProcessIP
        options.mainProcessPort = options.mainProcessPort ?? config.mainProcessPort
        if let port = options.mainProcessPort, !(1...65535).contains(port) {
            throw LaunchError.badOption(name: "--main_process_port", value: "\(port)", expected: "a TCP port (1–65535)")
        }
        if !(options.hangTimeout >= 0) {
            throw LaunchError.badOption(name: "--hang-timeout", value: "\(options.hangTimeout)", expected: "seconds, 0 or more (0: no hang detection)")
        }
        let hostfileMachines = try options.hostfile.map { try Self.machines(inHostfile: $0).count }
        let numMachines = options.numMachines ?? slurm?.nodes ?? hostfileMachines ?? config.numMachines
        let worldSize = options.numProcesses ?? slurm?.tasks ?? config.numProcesses
        let machineRank = options.machineRank ?? (slurm != nil ? 0 : config.machineRank)
        guard machineRank >= 0 && machineRank < numMachines else {
            throw LaunchError.badOption(name: "--machine_rank", value: "\(machineRank)", expected: "0 … \(numMachines - 1) (num_machines is \(numMachines))")
        }
        guard worldSize % numMachines == 0 else {
            throw LaunchError.badOption(name: "--num_processes", value: "\(worldSize)",
                                        expected: "a multiple of num_machines (\(numMachines)): every machine runs the same number of ranks")
        }
        let ranksPerMachine = worldSize / numMachines
        notes += mainProcessNotes(options, numMachines: numMachines)
        let cores = detectedCores ?? ThreadBudget.coresPerMachine(slurm: slurm)
        let threads = ThreadBudget.threadsPerRank(explicit: options.threadsPerProcess, environment: env, slurm: slurm,
                                                  ranksPerMachine: ranksPerMachine, coresPerMachine: cores)
        if ranksPerMachine * threads > cores {
            notes.append("\(ranksPerMachine) ranks × \(threads) threads on \(cores) cores: the machine is oversubscribed and steps will be slow")
        }

        var sharding = config.shardingName
        if let stage = options.zeroStage {
            sharding = ["ddp", "zero1", "zero2", "fsdp"][stage]
        }

        let mixedPrecision = options.mixedPrecision ?? config.mixedPrecision ?? .no
        if mixedPrecision == .bf16 && options.command == .train {
            notes.append("mixed_precision bf16: the ranks train with bf16 matrix products unless the model has none "
                         + "(HF Trainer reads ACCELERATE_MIXED_PRECISION the same way; --mixed_precision no for float32)")
        }
        if options.command == .eval {
            return LaunchPlan(options: options, launchConfig: config, slurm: slurm, worldSize: worldSize, numMachines: numMachines,
                              machineRank: machineRank, ranksPerMachine: ranksPerMachine, coresPerMachine: cores, threadsPerRank: threads,
                              sharding: sharding, mixedPrecision: mixedPrecision, trainingArguments: options.trainingOverrides,
                              outputDirectory: try OutputDirectory.forEval(options.trainingOverrides), notes: notes)
        }
        // What accelerate's DeepSpeed section means for the training run, unless the user says otherwise.
        var arguments = options.trainingOverrides
        let given = Set(((try? FlatYAMLConfig.parseOverrides(options.trainingOverrides)) ?? []).map(\.key))
        if let steps = options.gradientAccumulationSteps ?? config.gradientAccumulationSteps, !given.contains("gradient_accumulation_steps") {
            arguments += ["--gradient_accumulation_steps", "\(steps)"]
            if options.gradientAccumulationSteps == nil { notes.append("deepspeed_config.gradient_accumulation_steps \(steps) → --gradient_accumulation_steps \(steps)") }
        }
        if let clip = config.gradientClipping, !given.contains("max_grad_norm") {
            arguments += ["--max_grad_norm", "\(clip)"]
            notes.append("deepspeed_config.gradient_clipping \(clip) → --max_grad_norm \(clip)")
        }
        let output = try OutputDirectory.find(trainingConfig: options.trainingConfig, overrides: arguments)
        return LaunchPlan(options: options, launchConfig: config, slurm: slurm, worldSize: worldSize, numMachines: numMachines,
                          machineRank: machineRank, ranksPerMachine: ranksPerMachine, coresPerMachine: cores, threadsPerRank: threads,
                          sharding: sharding, mixedPrecision: mixedPrecision, trainingArguments: arguments, outputDirectory: output, notes: notes)
    }
}
