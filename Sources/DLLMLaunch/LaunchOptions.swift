import DLLMConfig
/// How the ranks are started.
public enum RankStarterKind: String, Sendable, CaseIterable {
    /// `srun` inside a Slurm allocation when its PMIx plugin is there, else `mpirun`.
    case auto
    /// OpenMPI's `mpirun` (one machine, a hostfile, or inside a Slurm allocation).
    case mpirun
    /// Slurm's `srun --mpi=pmix` (inside an allocation only).
    case srun
}

/// What the user asked for, with accelerate's names; `nil` means "not given", so the
/// accelerate launch config (and then the Slurm allocation) decides.
public struct LaunchOptions: Sendable, Equatable {
    /// The accelerate launch config (`--config`, `--config_file`).
    public var launchConfigPath: String?
    /// The training config handed to `dllm train`.
    public var trainingConfig: String
    /// `--key value` pairs for `dllm train`.
    public var trainingOverrides: [String] = []
    public var numProcesses: Int?
    public var numMachines: Int?
    public var machineRank: Int?
    public var mainProcessIP: String?
    public var mainProcessPort: Int?
    /// Whole-job restarts from the last complete checkpoint after a failure.
    public var maxRestarts = 0
    /// DeepSpeed's ZeRO stage: 0 DDP, 1 ZeRO-1, 2 ZeRO-2, 3 FSDP (full sharding).
    public var zeroStage: Int?
    public var gradientAccumulationSteps: Int?
    /// accelerate's `--mixed_precision` (over the launch config's `mixed_precision`).
    public var mixedPrecision: MixedPrecision?
    /// accelerate's `--num_cpu_threads_per_process`.
    public var threadsPerProcess: Int?
    /// Stream every rank's output (prefixed by rank), not only rank 0's.
    public var tee = false
    /// A running collector's address, `none`, or nil to start one when `dllm-collector` is installed.
    public var collector: String?
    /// An MPI hostfile (`host slots=N` lines) for several machines without Slurm.
    public var hostfile: String?
    /// The interface or subnet of rank traffic and telemetry between machines
    /// (`--network-interface` / `--network-subnet`).
    public var network: NetworkSelection?
    /// Seconds without a telemetry heartbeat from a rank before the job is ended as hung
    /// (`--hang-timeout`; 0 turns the watch off).
    public var hangTimeout: Double = 60
    public var starter: RankStarterKind = .auto
    /// Seconds the ranks get to checkpoint after SIGTERM/Ctrl-C before they are killed.
    public var stopTimeout: Double = 110
    /// The `dllm` executable (default: beside `dllm-launch`, else on PATH).
    public var dllmPath: String?

    /// What every rank runs: `dllm train CONFIG OVERRIDES`, or `dllm eval ARGUMENTS`
    /// (`dllm-launch … eval --model …`, `trainingOverrides` holding eval's flags).
    public var command = RankCommand.train

    public init(trainingConfig: String) { self.trainingConfig = trainingConfig }
}

/// The `dllm` subcommand a launch runs on every rank.
public enum RankCommand: String, Sendable {
    case train
    /// Data-parallel `dllm eval`: rank 0 prints and writes the results; the logs go to
    /// `--output_path`/logs (or a fresh temporary folder); nothing is resumed or restarted from a checkpoint.
    case eval

    /// The `dllm-launch` positional argument that selects eval instead of a training config.
    public static let evalWord = "eval"
}
