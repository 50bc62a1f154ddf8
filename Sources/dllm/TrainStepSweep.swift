import ArgumentParser
import DLLMJSON
import DLLMModels
import DLLMProcess
import Foundation

extension AttentionKernel: ExpressibleByArgument {}

extension TrainStepBench {
    /// The model shape the options (or `--smollm2`) describe.
    var shape: (hidden: Int, layers: Int, heads: Int, kvHeads: Int, intermediate: Int, vocab: Int, tied: Bool) {
        if smollm2 { return (576, 30, 9, 3, 1536, 49152, true) }
        return (hidden, layers, heads, kvHeads, intermediate, vocab, tiedEmbeddings)
    }

    /// `--sweep`: each sequence length in fresh child processes, so each peak RSS (VmHWM, PyTorch's
    /// `ru_maxrss`) belongs to one configuration: dllm plain, dllm checkpointed, PyTorch plain and
    /// PyTorch checkpointed (HF `gradient_checkpointing_enable`); with `--bf16` also dllm `bf16: true`
    /// and PyTorch under `torch.autocast("cpu", dtype=torch.bfloat16)`, both without checkpointing.
    func runSweep(_ list: String) throws {
        let lengths = list.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !lengths.isEmpty, lengths.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--sweep \(list): expected comma-separated positive sequence lengths, e.g. 512,2048,4096")
        }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let s = shape
        print("config: hidden \(s.hidden), layers \(s.layers), heads \(s.heads)/\(s.kvHeads), intermediate \(s.intermediate), vocab \(s.vocab)\(s.tied ? " (tied)" : ""), batch \(batch), bidirectional, \(threads) threads, attention \(attention.rawValue), \(warmup) warm-up + \(steps) timed steps")
        print("load average before: \(loadAverage())")
        print("T      run                               step s   tokens/s   peak RSS MiB")
        let runs: [(checkpointing: Bool, bf16: Bool)] = [(false, false), (true, false)] + (bf16 ? [(false, true)] : [])
        for T in lengths {
            for (checkpointing, bf16) in runs {
                let arguments = [executable, "bench", "train-step", "--json", "--python", "none", "--seq", "\(T)", "--batch", "\(batch)",
                                 "--threads", "\(threads)", "--warmup", "\(warmup)", "--steps", "\(steps)", "--attention", attention.rawValue,
                                 "--hidden", "\(s.hidden)", "--layers", "\(s.layers)", "--heads", "\(s.heads)", "--kv-heads", "\(s.kvHeads)",
                                 "--intermediate", "\(s.intermediate)", "--vocab", "\(s.vocab)"]
                    + (s.tied ? ["--tied-embeddings"] : []) + (checkpointing ? ["--gradient-checkpointing"] : []) + (bf16 ? ["--bf16"] : [])
                    + (maskedDiffusion ? ["--masked-diffusion"] : [])
                let name = "dllm" + (checkpointing ? " checkpointed" : "") + (bf16 ? " bf16" : "")
                let result = try ChildProcess.run(arguments)
                if result.termination.succeeded, let line = result.output.split(separator: "\n").last,
                   let json = try? JSONParser.parse(String(line)),
                   let seconds = json["step_seconds"]?.doubleValue, let peak = json["peak_rss_mib"]?.doubleValue {
                    printRow(T, name, seconds, Double(batch * T) / seconds, peak)
                } else {
                    print("\(T)  \(name): failed (\(result.termination)): \(result.errors.suffix(300))")
                }
                if python != "none" {
                    let torchName = "PyTorch" + (checkpointing ? " checkpointed" : "") + (bf16 ? " autocast" : "")
                    if let torch = runPyTorch(seq: T, checkpointing: checkpointing, bf16: bf16) {
                        printRow(T, torchName + " " + torch.version, Double(batch * T) / torch.tokensPerSecond, torch.tokensPerSecond, torch.peakMiB)
                    } else {
                        print("\(T)  \(torchName): not measured (no importable torch for '\(python)', or it failed)")
                    }
                }
            }
        }
        print("load average after: \(loadAverage())")
    }

    func printRow(_ T: Int, _ name: String, _ seconds: Double, _ tokens: Double, _ peak: Double) {
        // Padded in Swift: Foundation's `%-25@` does not pad on Linux.
        print(String(format: "%-6d ", T) + name.padding(toLength: 32, withPad: " ", startingAt: 0)
              + String(format: " %7.2f %10.0f %14.0f", seconds, tokens, peak))
    }

    func loadAverage() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
    }
}
