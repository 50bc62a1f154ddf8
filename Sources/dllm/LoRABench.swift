import ArgumentParser
import DLLMJSON
import DLLMCompute
import DLLMDistributed
import DLLMGGUF
import DLLMImport
import DLLMModels
import DLLMOptim
import DLLMProcess
import DLLMRandom
import Foundation

/// `dllm bench lora-step`: one training step (forward, loss, backward, AdamW through the
/// single-process strategy) of a full fine-tune, of LoRA on the float32 base and of LoRA on a
/// quantised frozen base (`lora-q4`: quantised to q4_k as it loads; `lora-gguf`: a GGUF's own
/// Q4_1/Q8_0 blocks, loaded as `dllm train` loads a `.gguf` model), each with or without gradient checkpointing, each in its own child process so that each peak
/// resident set size is its own; printed side by side.
struct LoRABench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lora-step",
        abstract: "Step time and peak RSS: full fine-tune against LoRA on a float and on a quantised base (e.g. SmolLM2-135M, r 32, all-linear, 4×512 tokens).")

    /// What one child process trains.
    enum Variant: String, CaseIterable {
        case full, fullGC = "full-gc", loraF32 = "lora-f32", loraF32GC = "lora-f32-gc", loraQ4 = "lora-q4", loraQ4GC = "lora-q4-gc"
        case loraGGUF = "lora-gguf", loraGGUFGC = "lora-gguf-gc"
        var lora: Bool { self != .full && self != .fullGC }
        var quantizedBase: Bool { self == .loraQ4 || self == .loraQ4GC }
        var ggufBase: Bool { self == .loraGGUF || self == .loraGGUFGC }
        var checkpointing: Bool { rawValue.hasSuffix("-gc") }
    }

    @Option(help: "A model folder or a llama-family .gguf (dequantised to float32 for full and lora-f32, then quantised to q4_k for lora-q4).") var model: String
    @Option(help: "The .gguf file lora-gguf trains over (default: --model when it is one), e.g. the file --model was converted from.")
    var gguf: String?
    @Option(help: "LoRA rank.") var r = 32
    @Option(name: .customLong("lora-alpha"), help: "LoRA alpha.") var loraAlpha = 64.0
    @Option(help: "Sequences per step.") var batch = 4
    @Option(help: "Tokens per sequence.") var seq = 512
    @Option(help: "Threads for OpenBLAS and the kernels.") var threads = 2
    @Option(help: "Untimed warm-up steps.") var warmup = 1
    @Option(help: "Timed steps.") var steps = 2
    @Option(help: "Comma-separated variants: full, full-gc, lora-f32, lora-f32-gc, lora-q4, lora-q4-gc, lora-gguf, lora-gguf-gc (-gc: gradient checkpointing).")
    var variants = Variant.allCases.filter { !$0.ggufBase }.map(\.rawValue).joined(separator: ",")
    @Option(help: "Internal: run one variant in this process.") var only: String?

    func run() throws {
        if let only {
            guard let variant = Variant(rawValue: only) else { throw ValidationError("--only: unknown variant \(only)") }
            return try measure(variant)
        }
        let chosen = try variants.split(separator: ",").map { name in
            guard let variant = Variant(rawValue: String(name)) else { throw ValidationError("--variants: unknown variant \(name)") }
            return variant
        }
        if let variant = chosen.first(where: \.ggufBase) { _ = try ggufPath(for: variant) }
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var rows: [(Variant, [String: Double])] = []
        for variant in chosen {
            let arguments = [executable, "bench", "lora-step", "--model", model, "--r", "\(r)", "--lora-alpha", "\(loraAlpha)",
                             "--batch", "\(batch)", "--seq", "\(seq)", "--threads", "\(threads)", "--warmup", "\(warmup)",
                             "--steps", "\(steps)", "--only", variant.rawValue] + (gguf.map { ["--gguf", $0] } ?? [])
            let result = try ChildProcess.run(arguments)
            guard result.termination.succeeded, let line = result.output.split(separator: "\n").last,
                  let figures = try? JSONValueDecoder().decode([String: Double].self, fromJSON: Array(line.utf8)) else {
                throw ValidationError("the \(variant.rawValue) run failed: \(result.output)")
            }
            rows.append((variant, figures))
        }
        print("model: \(model)\(chosen.contains(where: \.ggufBase) ? " (lora-gguf: \(gguf ?? model))" : ""); batch \(batch)x\(seq) tokens, bidirectional; \(threads) threads; LoRA r \(r), alpha \(loraAlpha), all-linear, dropout 0.05")
        let full = rows.first { $0.0 == .full }?.1
        for (variant, f) in rows {
            var line = String(format: "%-12@ step %6.2f s, peak RSS %5.0f MiB, trained parameters %9.0f, loss %.4f",
                              variant.rawValue, f["seconds"]!, f["peak_rss_mib"]!, f["trained"]!, f["loss"]!)
            if let full, variant != .full {
                line += String(format: "; / full: step %.2fx, peak RSS %.2fx", f["seconds"]! / full["seconds"]!, f["peak_rss_mib"]! / full["peak_rss_mib"]!)
            }
            print(line)
        }
    }

    /// The base `variant` trains over: float, or with its matrices quantised and frozen (their fp32 slots never filled).
    func loadBase(_ variant: Variant) throws -> LlamaModel<Float> {
        if variant.ggufBase {
            // The trainer's loader: the file's Q4_0/Q4_1/Q8_0 blocks as the frozen base.
            return try GGUFTrainingBase.load(try GGUFFile(path: try ggufPath(for: variant))).model
        }
        if GGUFTrainingBase.isGGUF(model) {
            let base = try GGUFModelImport.load(path: model).model
            guard variant.quantizedBase else { return base }
            // Quantised after a float load (a folder is quantised tensor by tensor instead); the
            // float pages are given back, but the peak RSS counts them once.
            let frozen = try base.frozenBaseCopy(.q4_k)
            for range in base.floatSlots(heldBy: frozen) { MemoryRelease.discard(base.parameters.pointer + range.lowerBound, count: range.count) }
            base.frozenBase = frozen
            return base
        }
        let loaded = try ModelFolder.load(URL(fileURLWithPath: model), as: Float.self, quantizedBase: variant.quantizedBase ? .q4_k : nil)
        guard let llama = loaded.model as? LlamaModel<Float> else { throw ValidationError("\(model): a LLaMA-family model is needed") }
        return llama
    }

    /// The file a lora-gguf variant trains over: `--gguf`, else a `.gguf` `--model`.
    func ggufPath(for variant: Variant) throws -> String {
        guard let path = gguf ?? (GGUFTrainingBase.isGGUF(model) ? model : nil) else {
            throw ValidationError("\(variant.rawValue) trains over a .gguf file: give --gguf FILE, or a .gguf --model")
        }
        return path
    }

    /// One variant's mean step time and this process's peak RSS, as one JSON line.
    func measure(_ variant: Variant) throws {
        try setComputeThreads(threads)
        let base = try loadBase(variant)
        base.gradientCheckpointing = variant.checkpointing
        let trained: any LanguageModel<Float> = variant.lora
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
            FileHandle.standardError.write(Data("\(variant.rawValue) step \(step): \(String(format: "%.2f", seconds)) s\n".utf8))
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let figures: [String: Double] = ["seconds": times.reduce(0, +) / Double(times.count), "peak_rss_mib": Double(usage.ru_maxrss) / 1024,
                                         "trained": Double(trained.parameterCount), "loss": loss]
        print(String(decoding: try JSONValueEncoder().bytes(figures, sortedKeys: true), as: UTF8.self))
    }
}
