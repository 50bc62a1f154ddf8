import ArgumentParser
import DLLMCompute
import DLLMJSON
import DLLMModels
import DLLMOptim
import DLLMProcess
import DLLMRandom
import Foundation

/// `dllm bench`: benchmarks that print the comparison they claim, measured in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput (prints figures; never a pass/fail test).",
        subcommands: [TrainStepBench.self, KernelBench.self, ParallelBench.self, GenerateBench.self, ARBench.self, LoRABench.self, QuantizedBaseBench.self, BD3LMStepBench.self])
}

/// One training step (forward, loss, backward, AdamW) of a LLaMA-style model with
/// bidirectional attention, reported as tokens/s and achieved GFLOP/s beside the
/// sgemm throughput of this machine and, when PyTorch is importable, PyTorch's
/// tokens/s on the same config (Launchers/bench_pytorch_step.py).
struct TrainStepBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-step",
        abstract: "Training-step throughput on the reference config (hidden 512, 8 layers, vocab 32000, batch 8×512).")

    @Option(help: "Hidden size.") var hidden = 512
    @Option(help: "Transformer blocks.") var layers = 8
    @Option(help: "Attention heads.") var heads = 8
    @Option(name: .customLong("kv-heads"), help: "Key/value heads.") var kvHeads = 8
    @Option(help: "SwiGLU width.") var intermediate = 1408
    @Option(help: "Vocabulary size.") var vocab = 32000
    @Option(help: "Sequences per step.") var batch = 8
    @Option(help: "Tokens per sequence.") var seq = 512
    @Option(help: "Threads for OpenBLAS and the kernels.") var threads = 2
    @Option(help: "Untimed warm-up steps.") var warmup = 1
    @Option(help: "Timed steps.") var steps = 3
    @Option(help: "Python interpreter for the PyTorch comparison; 'none' to skip.") var python = "python3"
    @Flag(help: "SmolLM2-135M's shape: hidden 576, 30 layers, 9/3 heads, intermediate 1536, vocab 49152, tied embeddings (overrides those options).")
    var smollm2 = false
    @Flag(name: .customLong("tied-embeddings"), help: "Tie the output head to the embedding.") var tiedEmbeddings = false
    @Flag(name: .customLong("gradient-checkpointing"), help: "Recompute each block in backward (HF gradient_checkpointing).")
    var gradientCheckpointing = false
    @Option(help: "Attention kernel: full (keeps T×T probabilities), tiled (O(T) per head) or automatic.")
    var attention: AttentionKernel = .automatic
    @Option(help: "Comma-separated sequence lengths: run every length in child processes (dllm plain, dllm checkpointed, PyTorch, PyTorch checkpointed; with --bf16 also dllm bf16 and PyTorch autocast bf16) and print step time and peak RSS of each.")
    var sweep: String?
    @Flag(help: "Time the step with bf16: true (linears, LM head and attention products in bfloat16, float32 accumulation) beside dllm float32, PyTorch float32 and PyTorch under torch.autocast(\"cpu\", dtype=torch.bfloat16), in the same run; with --json, the bf16 step alone; with --sweep, bf16 rows too.")
    var bf16 = false
    @Flag(name: .customLong("bf16-fallback"), help: "With --bf16 --json: time the bf16 step on the path of CPUs without AVX512_BF16 (float32 sgemm over the bf16-rounded inputs; the packers on AVX-512 where this CPU has it) on any CPU.")
    var bf16Fallback = false
    @Flag(name: .customLong("portable-packers"), help: "With --bf16 --json: pack and round in portable loops, as a CPU without AVX-512 does (with --bf16-fallback: that CPU's whole bf16 path).")
    var portablePackers = false
    @Flag(name: .customLong("masked-diffusion"), help: "Time dLLM's masked-diffusion (MDLM) step instead of a loss on every token: sequence b of B masks round(t·T) positions, t = (b + 0.5)/B, each weighted 1/(t·B·T). PyTorch runs the head on every position and takes the loss on the masked ones (dLLM's MDLMTrainer); dllm runs the head on the masked rows alone.")
    var maskedDiffusion = false
    @Flag(help: "Print one JSON line (step seconds, tokens/s, peak RSS) instead of the report.") var json = false

    func run() throws {
        if let sweep { return try runSweep(sweep) }
        try setComputeThreads(threads)
        if bf16Fallback {
            guard bf16 && json else { throw ValidationError("--bf16-fallback times the bf16 step alone: use it with --bf16 --json") }
            BFloat16Matmul.usesVectorKernel = false
        }
        if portablePackers {
            guard bf16 && json else { throw ValidationError("--portable-packers times the bf16 step alone: use it with --bf16 --json") }
            BFloat16Matmul.usesVectorPackers = false
        }
        if bf16 && !json { return try runBF16Comparison() }
        let sgemm = json ? 0 : measureSgemm()
        let (hidden, layers, heads, vocab) = (shape.hidden, shape.layers, shape.heads, shape.vocab)
        let step = timeStep(bf16Matmuls: bf16)
        let (mean, loss, N) = (step.seconds, step.loss, batch * seq)
        let flops = matmulFlopsPerStep.linears + matmulFlopsPerStep.attention
        let swift = (tokensPerSecond: Double(N) / mean, gflops: flops / mean / 1e9)
        if json {
            print(#"{"step_seconds": \#(mean), "tokens_per_s": \#(swift.tokensPerSecond), "peak_rss_mib": \#(residentMiB().peak), "loss": \#(loss)}"#)
            return
        }
        print("config: hidden \(hidden), layers \(layers), heads \(heads)/\(shape.kvHeads), intermediate \(shape.intermediate), vocab \(vocab)\(shape.tied ? " (tied)" : ""), batch \(batch)x\(seq), bidirectional, \(threads) threads")
        print("loss: \(lossDescription)")
        print("attention: \(attention.usesTiles(B: batch, heads: shape.heads, T: seq, layersKept: gradientCheckpointing ? 1 : shape.layers, scalarBytes: 4) ? "tiled" : "full"); gradient checkpointing: \(gradientCheckpointing ? "on" : "off"); peak RSS \(String(format: "%.0f", residentMiB().peak)) MiB")
        print("parameters: \(step.parameters); \(BLASEnvironment.description)")
        print(String(format: "OpenBLAS sgemm (2048^3): %.1f GFLOP/s", sgemm))
        print(String(format: "dllm (Swift) step: %.2f s  %.0f tokens/s  %.1f matmul GFLOP/s (%.0f%% of sgemm)",
                     mean, swift.tokensPerSecond, swift.gflops, 100 * swift.gflops / sgemm))
        if let torch = runPyTorch(seq: seq, checkpointing: gradientCheckpointing) {
            let torchSeconds = Double(N) / torch.tokensPerSecond
            print(String(format: "PyTorch %@ step: %.2f s  %.0f tokens/s  %.1f matmul GFLOP/s", torch.version, torchSeconds,
                         torch.tokensPerSecond, flops / torchSeconds / 1e9))
            print(String(format: "dllm / PyTorch tokens/s: %.2fx", swift.tokensPerSecond / torch.tokensPerSecond))
            printFloat32Ceiling(torchSeconds: torchSeconds, sgemm: sgemm, matmulFlops: flops)
            printProductFloor(dllmSeconds: mean, torchSeconds: torchSeconds)
        } else {
            print("PyTorch: not measured (no importable torch for '\(python)'; pip install torch to compare)")
            printProductFloor(dllmSeconds: mean, torchSeconds: nil)
        }
    }

    /// The benchmark model's shape as a spec.
    var spec: LlamaSpec {
        let shape = self.shape
        return LlamaSpec(
            modelType: "llama", naming: .huggingFace, hidden: shape.hidden, layers: shape.layers, heads: shape.heads, kvHeads: shape.kvHeads,
            headDim: shape.hidden / shape.heads, intermediate: shape.intermediate, vocab: shape.vocab, rmsNormEps: 1e-5, ropeTheta: 10_000,
            maxPositions: max(seq, 2048), tiedEmbeddings: shape.tied, qkvBias: false, maskTokenID: nil, initializerRange: 0.02)
    }

    /// Mean seconds of the timed steps (forward, loss, backward, AdamW) of a freshly initialised model,
    /// its last loss and its parameter count; the model is freed on return.
    func timeStep(bf16Matmuls: Bool) -> (seconds: Double, loss: Double, parameters: Int) {
        let vocab = shape.vocab
        let model = LlamaModel<Float>(spec: spec)
        model.attentionKernel = attention
        model.gradientCheckpointing = gradientCheckpointing
        model.bf16Matmuls = bf16Matmuls
        Initialization.initialize(model, seed: 0)
        let m = Buffer<Float>(count: model.parameterCount), v = Buffer<Float>(count: model.parameterCount)
        var rng = SeededGenerator(seed: 1)
        let N = batch * seq
        let ids = (0..<N).map { _ in Int32(rng.next() % UInt64(vocab)) }
        let targets = (0..<N).map { _ in Int32(rng.next() % UInt64(vocab)) }
        let weights = maskedDiffusion ? maskedDiffusionWeights(rng: &rng) : [Float](repeating: 1 / Float(N), count: N)
        let input = TokenBatch(ids: ids, B: batch, T: seq)
        let mask = AttentionMask(.bidirectional, B: batch, T: seq)
        let adam = AdamWConfig(learningRate: 1e-4, weightDecay: 0.1)
        var times: [Double] = []
        var loss = 0.0
        for step in 1...(warmup + steps) {
            let start = DispatchTime.now().uptimeNanoseconds
            model.gradients.zero()
            loss = maskedDiffusion ? model.forwardBackwardOnWeightedRows(input, mask: mask, targets: targets, weights: weights)
                : model.forwardBackward(input, mask: mask, targets: targets, weights: weights)
            AdamW.step(params: model.parameters.pointer, grads: UnsafePointer(model.gradients.pointer), m: m.pointer, v: v.pointer,
                       range: 0..<model.parameterCount, step: step, config: adam)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if step > warmup { times.append(seconds) }
            FileHandle.standardError.write("step \(step): \(String(format: "%.2f", seconds)) s, loss \(String(format: "%.4f", loss))\n".data(using: .utf8)!)
        }
        return (times.reduce(0, +) / Double(times.count), loss, model.parameterCount)
    }

    /// `--masked-diffusion`'s weights: sequence b masks round(t·T) of its positions (a seeded
    /// shuffle), t = (b + 0.5)/B, each weighted 1/(t·B·T) as dLLM's MDLM loss does; the rest 0.
    func maskedDiffusionWeights(rng: inout SeededGenerator) -> [Float] {
        var weights = [Float](repeating: 0, count: batch * seq)
        for b in 0..<batch {
            let t = (Double(b) + 0.5) / Double(batch)
            for position in Array(0..<seq).shuffled(using: &rng).prefix(Int((t * Double(seq)).rounded())) {
                weights[b * seq + position] = Float(1 / (t * Double(batch * seq)))
            }
        }
        return weights
    }

    var lossDescription: String {
        maskedDiffusion ? "masked diffusion (half the tokens masked on average; matmul FLOPs count the head on every position, as PyTorch runs it)"
            : "cross-entropy on every token"
    }

    /// Achieved GFLOP/s of OpenBLAS sgemm (or, with `bf16`, of ``bf16Gemm``) on a square 2048 product, best of 3.
    func measureSgemm(bf16: Bool = false) -> Double {
        let n = 2048
        let a = Buffer<Float>(count: n * n), b = Buffer<Float>(count: n * n), c = Buffer<Float>(count: n * n)
        for i in 0..<(n * n) { a[i] = Float(i % 13) * 0.01; b[i] = Float(i % 7) * 0.01 }
        var best = 0.0
        for _ in 0..<3 {
            let start = DispatchTime.now().uptimeNanoseconds
            if bf16 {
                bf16Gemm(.none, .none, m: n, n: n, k: n, a.pointer, lda: n, b.pointer, ldb: n, c.pointer, ldc: n)
            } else {
                gemm(.none, .none, m: n, n: n, k: n, a.pointer, lda: n, b.pointer, ldb: n, c.pointer, ldc: n)
            }
            let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, 2 * Double(n * n * n) / s / 1e9)
        }
        return best
    }

    func runPyTorch(seq: Int, checkpointing: Bool, bf16: Bool = false) -> (version: String, tokensPerSecond: Double, gflops: Double, peakMiB: Double)? {
        guard let command = pytorchCommand(seq: seq) else { return nil }
        let arguments = command + ["--warmup", "\(warmup)", "--steps", "\(steps)"]
            + (shape.tied ? ["--tied-embeddings"] : []) + (checkpointing ? ["--gradient-checkpointing"] : []) + (bf16 ? ["--bf16"] : [])
            + (maskedDiffusion ? ["--masked-diffusion"] : [])
        guard let result = try? ChildProcess.run(["/usr/bin/env"] + arguments) else { return nil }
        guard result.termination.succeeded,
              let line = result.output.split(separator: "\n").last,
              let json = try? JSONParser.parse(String(line)),
              let tps = json["tokens_per_s"]?.doubleValue else { return nil }
        return (json["torch"]?.stringValue ?? "?", tps, json["gflops"]?.doubleValue ?? 0, json["peak_rss_mib"]?.doubleValue ?? 0)
    }

    /// `python Launchers/bench_pytorch_step.py` with this benchmark's threads and model shape at
    /// `seq`; nil with `--python none` or without the script.
    func pytorchCommand(seq: Int) -> [String]? {
        guard python != "none" else { return nil }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Launchers/bench_pytorch_step.py").standardized.path
        guard FileManager.default.fileExists(atPath: script) else { return nil }
        let s = shape
        return [python, script, "--threads", "\(threads)", "--hidden", "\(s.hidden)", "--layers", "\(s.layers)",
                "--heads", "\(s.heads)", "--kv-heads", "\(s.kvHeads)", "--intermediate", "\(s.intermediate)",
                "--vocab", "\(s.vocab)", "--batch", "\(batch)", "--seq", "\(seq)"]
    }
}
