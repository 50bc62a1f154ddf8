import ArgumentParser
import DLLMCompute
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
            SIGTERM or SIGINT finish the current step, write a checkpoint and exit (resume with --resume_from_checkpoint true).
            """)

    @Argument(help: "The training config (YAML).") var config: String
    @Argument(parsing: .allUnrecognized, help: "--key value overrides.") var overrides: [String] = []

    func run() throws {
        let log: (String) -> Void = { FileHandle.standardError.write(Data(("[dllm] " + $0 + "\n").utf8)) }
        let (training, ignored): (TrainingConfig, [String])
        do { (training, ignored) = try TrainingConfig.load(path: config, overrides: overrides) } catch {
            throw ValidationError("\(error)")
        }
        if !ignored.isEmpty { log("ignored on CPU: \(ignored.joined(separator: ", "))") }
        ComputeThreads.configureBLAS()
        log("threads: \(ComputeThreads.count)")
        let trainer = try TrainingRun.makeTrainer(training, log: log)
        // Preemption (SIGTERM from Slurm) and Ctrl-C: finish the step, checkpoint, exit.
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                log("signal \(sig): finishing the current step, then checkpointing")
                trainer.stopRequested = true
            }
            source.resume()
            sources.append(source)
        }
        // Telemetry (DLLM_COLLECTOR / report_to: dllm): start, steps, checkpoints, evals, exit.
        let telemetry = TrainTelemetry.attach(to: trainer, config: training, log: log)
        do { try trainer.train() } catch {
            telemetry?.failed(error, step: trainer.state.globalStep)
            throw error
        }
        telemetry?.finished(step: trainer.state.globalStep, stopped: trainer.stopRequested)
        _ = sources
    }
}
