import ArgumentParser
import DLLMCompute
import DLLMConfig
import DLLMDistributed
import DLLMProcess
import DLLMTraining
import Dispatch
import Foundation

/// `dllm train CONFIG.yaml [--key value …]`: one flat YAML file with dLLM's and
/// Hugging Face's argument names; any key can be overridden on the command line.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a diffusion (or autoregressive) language model from a YAML config.",
        discussion: """
            Every config key can be overridden: dllm train configs/llada-pt.yaml --max_steps 50 --learning_rate 1e-3.
            SIGTERM, SIGINT or SIGUSR1 finish the current step, write a checkpoint and exit (resume with --resume_from_checkpoint true).
            """)

    @Argument(help: "The training config (YAML).") var config: String
    @Option(name: .customLong("launch-config"), help: "An accelerate launch config (ddp.yaml, zero2.yaml, fsdp.yaml, …) choosing the sharding; also DLLM_LAUNCH_CONFIG.")
    var launchConfig: String?
    @Flag(name: .customLong("check-config"),
          help: "Only read and validate the config and the overrides (every key and value), then exit: what dllm-launch runs before it starts any rank.")
    var checkConfig = false
    @Argument(parsing: .allUnrecognized, help: "--key value overrides.") var overrides: [String] = []

    func run() throws {
        if checkConfig {
            // Before anything MPI: the launcher runs this as a plain child process.
            do { _ = try TrainingConfig.load(path: config, overrides: overrides) } catch { throw ValidationError("\(error)") }
            return
        }
        let env = ProcessInfo.processInfo.environment
        let ranks = RankEnvironment.current()
        let comm: Communicator? = ranks.isDistributed || RankEnvironment.launchedByMPI() ? MPICommunicator() : nil
        let rank = comm?.rank ?? 0
        let log: (String) -> Void = { message in
            if rank == 0 || env["DLLM_TEE"] == "1" {
                FileHandle.standardError.write(Data(("[dllm\(comm == nil ? "" : " rank \(rank)")] " + message + "\n").utf8))
            }
        }
        do {
            var (training, ignored): (TrainingConfig, [String])
            do { (training, ignored) = try TrainingConfig.load(path: config, overrides: overrides) } catch {
                throw ValidationError("\(error)")
            }
            if !ignored.isEmpty { log("ignored: \(ignored.joined(separator: "; "))") }
            // One job per output folder: dllm-launch holds the lock for its ranks; a run
            // started otherwise takes it on rank 0 (released by the kernel at exit).
            var outputLock: OutputLock?
            if env["DLLM_LAUNCHER_PID"] == nil && rank == 0 {
                do { outputLock = try OutputLock(directory: URL(fileURLWithPath: training.outputDir), program: "dllm train") } catch let error as OutputLockError {
                    // Busy: refuse. Not lockable (e.g. output_dir is a file): the first write says what is wrong.
                    if case .busy = error { throw ValidationError("\(error)") }
                    log("running without the output_dir lock: \(error)")
                }
            }
            defer { withExtendedLifetime(outputLock) {} }
            var plan = ParallelPlan(stage: .ddp)
            var mixedPrecision: (MixedPrecision, String)?
            if let text = env[MixedPrecision.environmentName] {
                switch MixedPrecision.parse(text) {
                case .success(let precision): mixedPrecision = (precision, "\(MixedPrecision.environmentName)=\(text)")
                case .failure(let error): throw ValidationError("\(MixedPrecision.environmentName)=\(error)")
                }
            }
            if let path = launchConfig ?? env["DLLM_LAUNCH_CONFIG"] {
                let launch = try LaunchConfig.load(path: path)
                if mixedPrecision == nil, let precision = launch.mixedPrecision { mixedPrecision = (precision, "\(path): mixed_precision: \(precision.rawValue)") }
                plan.stage = ShardingStage(rawValue: launch.shardingName) ?? .ddp
                if let b = launch.reduceBucketSize { plan.bucketElements = b }
                if let r = launch.fsdpReshardAfterForward { plan.reshardAfterForward = r }
                if let wire = launch.communicationDataType.flatMap(WirePrecision.init(rawValue:)) { plan.gradientWire = wire }
            }
            // HF Trainer's rule: the training config's bf16 wins when true, otherwise accelerate's mixed_precision.
            if !training.bf16, let (precision, source) = mixedPrecision, precision == .bf16 {
                training.bf16 = true
                training.bf16FromMixedPrecision = source
            }
            if let s = env["DLLM_SHARDING"] {
                guard let stage = ShardingStage(rawValue: s) else {
                    throw ValidationError("DLLM_SHARDING=\(s) is not one of \(ShardingStage.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                plan.stage = stage
            }
            if let b = env["DLLM_REDUCE_BUCKET_SIZE"].flatMap(Int.init) { plan.bucketElements = b }
            ComputeThreads.configureBLAS()
            log("threads: \(ComputeThreads.count); \(BLASEnvironment.description)")
            let trainer = try TrainingRun.makeTrainer(training, comm: comm, parallel: plan, log: log)
            // Preemption (SIGTERM from Slurm), Ctrl-C, and SIGUSR1 (what dllm-launch sends through
            // mpirun, which forwards SIGUSR1 but turns SIGTERM into a kill): finish the step, checkpoint, exit.
            // The handler runs on a Dispatch thread: besides a log line it only sets the atomic stop request.
            let stopRequest = trainer.stopRequest
            var sources: [DispatchSourceSignal] = []
            for sig in [SIGTERM, SIGINT, SIGUSR1] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler {
                    // Logged once: a repeated stop signal (or another of the three) asks nothing new.
                    if stopRequest.request() { log("signal \(sig): finishing the current step, then checkpointing") }
                }
                source.resume()
                sources.append(source)
            }
            // Telemetry (DLLM_COLLECTOR / report_to: dllm): start, steps, checkpoints, evals, exit.
            let telemetry = TrainTelemetry.attach(to: trainer, config: training, rank: comm?.rank, worldSize: comm?.worldSize, log: log)
            do { try trainer.train() } catch {
                telemetry?.failed(error, step: trainer.state.globalStep)
                throw error
            }
            telemetry?.finished(step: trainer.state.globalStep, stopped: trainer.stopRequested)
            _ = sources
            (comm as? MPICommunicator)?.finalize()
        } catch {
            // One failing rank ends the whole job, naming itself and the cause.
            if let comm, comm.worldSize > 1 { comm.abort("\(error)", code: 1) }
            throw error
        }
    }
}
