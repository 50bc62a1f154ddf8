import ArgumentParser
import DLLMJSON
import DLLMCompute
import DLLMDistributed
import DLLMImport
import DLLMModels
import DLLMOptim
import DLLMProcess
import DLLMRandom
import Foundation

/// `dllm bench lora-step`: one training step (forward, loss, backward, AdamW through the
/// single-process strategy) of a full fine-tune and of LoRA on the same float32 base, each in its
/// own child process so that each peak resident set size is its own; printed side by side.
struct LoRABench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lora-step",
        abstract: "Step time and peak RSS: full fine-tune against LoRA on the same base (e.g. SmolLM2-135M, r 32, all-linear, 4×512 tokens).")

    @Option(help: "A model folder or a llama-family .gguf (dequantised to float32).") var model: String
    @Option(help: "LoRA rank.") var r = 32
    @Option(name: .customLong("lora-alpha"), help: "LoRA alpha.") var loraAlpha = 64.0
    @Option(help: "Sequences per step.") var batch = 4
    @Option(help: "Tokens per sequence.") var seq = 512
    @Option(help: "Threads for OpenBLAS and the kernels.") var threads = 2
    @Option(help: "Untimed warm-up steps.") var warmup = 1
    @Option(help: "Timed steps.") var steps = 2
    @Option(help: "Internal: run one configuration (full or lora) in this process.") var only: String?

    func run() throws {
        if let only { return try measure(lora: only == "lora") }
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var rows: [(String, [String: Double])] = []
        for kind in ["full", "lora"] {
            let arguments = [executable, "bench", "lora-step", "--model", model, "--r", "\(r)", "--lora-alpha", "\(loraAlpha)",
                             "--batch", "\(batch)", "--seq", "\(seq)", "--threads", "\(threads)", "--warmup", "\(warmup)",
                             "--steps", "\(steps)", "--only", kind]
            let result = try ChildProcess.run(arguments)
            guard result.termination.succeeded, let line = result.output.split(separator: "\n").last,
                  let figures = try? JSONValueDecoder().decode([String: Double].self, fromJSON: Array(line.utf8)) else {
                throw ValidationError("the \(kind) run failed: \(result.output)")
            }
            rows.append((kind, figures))
        }
        print("model: \(model); batch \(batch)x\(seq) tokens, bidirectional; \(threads) threads; LoRA r \(r), alpha \(loraAlpha), all-linear, dropout 0.05")
        for (kind, f) in rows {
            print(String(format: "%@: step %.2f s, peak RSS %.0f MiB, trained parameters %.0f, loss %.4f", kind == "full" ? "full fine-tune" : "LoRA         ",
                         f["seconds"]!, f["peak_rss_mib"]!, f["trained"]!, f["loss"]!))
        }
        let full = rows[0].1, lora = rows[1].1
        print(String(format: "LoRA / full: step time %.2fx, peak RSS %.2fx", lora["seconds"]! / full["seconds"]!, lora["peak_rss_mib"]! / full["peak_rss_mib"]!))
    }

    /// One configuration's mean step time and this process's peak RSS, as one JSON line.
    func measure(lora: Bool) throws {
        try setComputeThreads(threads)
        let base: LlamaModel<Float>
        if model.lowercased().hasSuffix(".gguf") {
            base = try GGUFModelImport.load(path: model).model
        } else {
            guard let llama = try ModelFolder.load(URL(fileURLWithPath: model), as: Float.self).model as? LlamaModel<Float> else {
                throw ValidationError("\(model): a LLaMA-family model is needed")
            }
            base = llama
        }
        let trained: any LanguageModel<Float> = lora
            ? try LoRAModel(base: base, configuration: LoRAConfiguration(r: r, loraAlpha: loraAlpha), seed: 0) : base
        let strategy = SingleProcessStrategy(model: trained)
        let V = base.vocabularySize, N = batch * seq
        var rng = SeededGenerator(seed: 1)
        let ids = (0..<N).map { _ in Int32(rng.next() % UInt64(V)) }
        let targets = (0..<N).map { _ in Int32(rng.next() % UInt64(V)) }
        let weights = [Float](repeating: 1 / Float(N), count: N)
        let input = TokenBatch(ids: ids, B: batch, T: seq)
        let mask = AttentionMask(.bidirectional, B: batch, T: seq)
        var times: [Double] = [], loss = 0.0
        for step in 1...(warmup + steps) {
            let start = DispatchTime.now().uptimeNanoseconds
            strategy.beginStep()
            loss = trained.forwardBackward(input, mask: mask, targets: targets, weights: weights)
            strategy.optimizerStep(step: step, learningRate: 1e-4, config: AdamWConfig(learningRate: 1e-4, weightDecay: 0.1), clip: 1)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if step > warmup { times.append(seconds) }
            FileHandle.standardError.write(Data("\(lora ? "lora" : "full") step \(step): \(String(format: "%.2f", seconds)) s\n".utf8))
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let figures: [String: Double] = ["seconds": times.reduce(0, +) / Double(times.count), "peak_rss_mib": Double(usage.ru_maxrss) / 1024,
                                         "trained": Double(trained.parameterCount), "loss": loss]
        print(String(decoding: try JSONValueEncoder().bytes(figures, sortedKeys: true), as: UTF8.self))
    }
}
