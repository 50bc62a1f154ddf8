import ArgumentParser
import DLLMConfig
import DLLMLaunch
import Foundation

/// `dllm-launch [--num_processes N] [--config LAUNCH.yaml] CONFIG.yaml [--key value …]`:
/// accelerate's `launch` for dllm. Flags take accelerate's names (underscores or dashes);
/// every other `--key value` goes to `dllm train` as a config override.
/// `dllm-launch [--num_processes N] eval --model … --tasks …` runs data-parallel `dllm eval` instead.
struct LaunchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dllm-launch",
        abstract: "Start `dllm train` as N ranks (mpirun, or srun inside Slurm), supervise them, restart or stop them cleanly.",
        discussion: """
            Examples:
              dllm-launch --num_processes 4 --config configs/zero2.yaml configs/llada-pt.yaml --max_steps 100
              dllm-launch --num_processes 2 eval --model hf --model_args pretrained=DIR --tasks hellaswag --output_path results
              sbatch slurm/llada-pt.sbatch

            Precedence: these flags, then the accelerate launch config, then the Slurm allocation, then defaults.

            Each rank's output is in OUTPUT_DIR/logs/rank-R.log; rank 0's is also shown here (every rank's with --tee).

            When a rank fails the others are stopped and the cause (rank, host, exit code or signal, last lines) is printed; \
            --max_restarts K restarts the whole job from the last complete checkpoint up to K times.

            SIGTERM or Ctrl-C: every rank finishes its step, checkpoints and exits (a second one stops at once); \
            the next launch resumes from that checkpoint by itself. See docs/launch.md.
            """)

    @Option(name: [.customLong("config"), .customLong("config_file"), .customLong("config-file")],
            help: "An accelerate launch config (ddp.yaml, zero1/2/3.yaml, fsdp.yaml, fsdp2.yaml, cpu.yaml), accepted unchanged.")
    var launchConfig: String?
    @Option(name: [.customLong("num_processes"), .customLong("num-processes")], help: "Ranks in total, over every machine.")
    var numProcesses: Int?
    @Option(name: [.customLong("num_machines"), .customLong("num-machines")], help: "Machines.")
    var numMachines: Int?
    @Option(name: [.customLong("machine_rank"), .customLong("machine-rank")], help: "This machine's index (0 runs rank 0).")
    var machineRank: Int?
    @Option(name: [.customLong("main_process_ip"), .customLong("main-process-ip")], help: "The address of machine 0.")
    var mainProcessIP: String?
    @Option(name: [.customLong("main_process_port"), .customLong("main-process-port")], help: "The port machine 0 listens on for the others.")
    var mainProcessPort: Int?
    @Option(name: [.customLong("max_restarts"), .customLong("max-restarts")], help: "Restart the whole job from its last checkpoint up to this many times after a failure.")
    var maxRestarts: Int = 0
    @Option(name: [.customLong("zero_stage"), .customLong("zero-stage")], help: "ZeRO stage: 0 DDP, 1, 2, or 3 (fully sharded).")
    var zeroStage: Int?
    @Option(name: [.customLong("gradient_accumulation_steps"), .customLong("gradient-accumulation-steps")], help: "Micro-batches per optimizer step.")
    var gradientAccumulationSteps: Int?
    @Option(name: [.customLong("mixed_precision"), .customLong("mixed-precision")],
            help: "no or bf16 (over the launch config's mixed_precision): bf16 trains with bfloat16 matrix products, as HF Trainer does under accelerate.")
    var mixedPrecision: String?
    @Option(name: [.customLong("num_cpu_threads_per_process"), .customLong("num-cpu-threads-per-process")],
            help: "Compute threads per rank (default: cores per machine / ranks per machine).")
    var threads: Int?
    @Flag(name: [.customLong("tee")], help: "Show every rank's output, prefixed by its rank (always in logs/rank-R.log).")
    var tee = false
    @Option(help: "Send metrics to this running collector (tcp://HOST:PORT), or 'none'; default: start dllm-collector if installed.")
    var collector: String?
    @Option(name: [.customLong("hostfile"), .customLong("mpirun_hostfile"), .customLong("mpirun-hostfile")],
            help: "An MPI hostfile ('host slots=N' lines) for several machines without Slurm.")
    var hostfile: String?
    @Option(name: [.customLong("network-interface"), .customLong("network_interface")],
            help: "The interface rank traffic and telemetry use between machines (OpenMPI btl/oob_tcp_if_include).")
    var networkInterface: String?
    @Option(name: [.customLong("network-subnet"), .customLong("network_subnet")],
            help: "The IPv4 subnet (A.B.C.D/N) rank traffic and telemetry use between machines.")
    var networkSubnet: String?
    @Option(name: [.customLong("hang-timeout"), .customLong("hang_timeout")],
            help: "Seconds without a telemetry heartbeat from a rank before the job is ended as hung (0: off).")
    var hangTimeout: Double = 60
    @Option(help: "How to start the ranks: auto (srun inside Slurm when it has PMIx, else mpirun), mpirun or srun. Also DLLM_LAUNCHER.")
    var launcher: String?
    @Option(name: [.customLong("stop_timeout"), .customLong("stop-timeout")], help: "Seconds the ranks get to checkpoint after SIGTERM/Ctrl-C.")
    var stopTimeout: Double = 110
    @Option(help: "The dllm executable (default: beside dllm-launch, else on PATH).")
    var dllm: String?
    @Argument(help: "The training config (YAML), as for dllm train; or `eval` for data-parallel dllm eval.") var trainingConfig: String
    @Argument(parsing: .allUnrecognized, help: "--key value overrides for dllm train; after `eval`, dllm eval's flags.") var overrides: [String] = []

    func run() throws {
        var options = LaunchOptions(trainingConfig: trainingConfig)
        if trainingConfig == RankCommand.evalWord { options.command = .eval }
        options.launchConfigPath = launchConfig
        options.trainingOverrides = overrides
        options.numProcesses = numProcesses
        options.numMachines = numMachines
        options.machineRank = machineRank
        options.mainProcessIP = mainProcessIP
        options.mainProcessPort = mainProcessPort
        options.maxRestarts = maxRestarts
        options.zeroStage = zeroStage
        options.gradientAccumulationSteps = gradientAccumulationSteps
        options.threadsPerProcess = threads
        if let mixedPrecision {
            switch MixedPrecision.parse(mixedPrecision) {
            case .success(let precision): options.mixedPrecision = precision
            case .failure(let error): throw ValidationError("--mixed_precision \(error)")
            }
        }
        options.tee = tee
        options.collector = collector
        options.hostfile = hostfile
        options.stopTimeout = stopTimeout
        options.dllmPath = dllm
        options.hangTimeout = hangTimeout
        do {
            if networkInterface != nil && networkSubnet != nil {
                throw ValidationError("--network-interface and --network-subnet: give one of them")
            }
            options.network = try networkInterface.map(NetworkSelection.interface(named:)) ?? networkSubnet.map(NetworkSelection.subnet)
        } catch let error as LaunchError { throw ValidationError("\(error)") }
        let starter = launcher ?? ProcessInfo.processInfo.environment["DLLM_LAUNCHER"] ?? "auto"
        guard let kind = RankStarterKind(rawValue: starter) else {
            throw ValidationError("--launcher \(starter): expected one of \(RankStarterKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        options.starter = kind
        let plan: LaunchPlan
        do { plan = try LaunchPlan.resolve(options) } catch { throw ValidationError("\(error)") }
        let status: Int32
        do { status = try LaunchCoordinator(plan: plan).run() } catch {
            FileHandle.standardError.write(Data("[dllm-launch] \(error)\n".utf8))
            throw ExitCode(1)
        }
        throw ExitCode(status)
    }
}
