import DLLMCompute
import DLLMModels
import Foundation

extension TrainStepBench {
    /// `--bf16`: dllm float32, dllm `bf16: true`, PyTorch float32 and PyTorch under
    /// `torch.autocast("cpu", dtype=torch.bfloat16)` on the same config in one run, each beside
    /// the GEMM peak of its precision measured in the same run.
    ///
    /// Achieved GFLOP/s count only real matrix products: the linears and the LM head
    /// (6 · N · their weights, forward and both backward products) and attention's Q·Kᵀ and P·V
    /// (12 · L · B · T² · heads · head_dim); the input embedding is a gather and is not counted.
    /// dllm's bf16 step runs the linears, the head and attention's products in bfloat16, so its
    /// fraction of peak is ideal time over measured time with every matmul FLOP at the bf16 peak of
    /// the kernel that ran (as for PyTorch's autocast).
    func runBF16Comparison() throws {
        let s = shape, N = batch * seq
        let (linearFlops, attentionFlops) = matmulFlopsPerStep
        let matmulFlops = linearFlops + attentionFlops
        print("config: hidden \(s.hidden), layers \(s.layers), heads \(s.heads)/\(s.kvHeads), intermediate \(s.intermediate), vocab \(s.vocab)\(s.tied ? " (tied)" : ""), batch \(batch)x\(seq), bidirectional, \(threads) threads, \(warmup) warm-up + \(steps) timed steps")
        print("loss: \(lossDescription)")
        print("\(BLASEnvironment.description); AVX512_BF16: \(BFloat16Matmul.isAvailable ? "yes" : "no"); AMX-BF16: \(BFloat16Matmul.hasAMX ? "yes" : "no"); bf16 kernel: \(BFloat16Matmul.kernelName)")
        print("load average before: \(loadAverage())")
        guard BFloat16Matmul.isAvailable else {
            print("bf16: this CPU has no AVX512_BF16; `bf16: true` computes its products in float32 here (sgemm over bf16-rounded inputs), so there is no bf16 speed to compare")
            return
        }
        let sgemm = measureSgemm(), bf16Peak = measureSgemm(bf16: true)
        print(String(format: "GEMM peak (2048^3, this run): OpenBLAS sgemm %.1f GFLOP/s, dllm bf16 kernel (%@) %.1f GFLOP/s (%.2fx)",
                     sgemm, BFloat16Matmul.kernelName, bf16Peak, bf16Peak / sgemm))
        // On an AMX CPU, the vdpbf16ps kernel's peak and step too: what the tiles add.
        var vectorPeak: Double?
        if BFloat16Matmul.usesAMX {
            BFloat16Matmul.usesAMX = false
            let peak = measureSgemm(bf16: true)
            BFloat16Matmul.usesAMX = true
            print(String(format: "GEMM peak (2048^3, this run): dllm bf16 kernel without AMX (%@) %.1f GFLOP/s (%.2fx sgemm)",
                         "vdpbf16ps", peak, peak / sgemm))
            vectorPeak = peak
        }
        print(String(format: "matmul FLOPs per step: %.1f G (linears and head %.1f G, attention %.1f G)",
                     matmulFlops / 1e9, linearFlops / 1e9, attentionFlops / 1e9))
        print("run                         step s   tokens/s   matmul GFLOP/s   of peak")
        func row(_ name: String, _ seconds: Double, idealSeconds: Double) {
            print(name.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%6.2f %10.0f %16.1f %8.0f%%", seconds, Double(N) / seconds,
                         matmulFlops / seconds / 1e9, 100 * idealSeconds / seconds))
        }
        let fp32Ideal = matmulFlops / (sgemm * 1e9), bf16Ideal = matmulFlops / (bf16Peak * 1e9)
        let fp32 = timeStep(bf16Matmuls: false)
        row("dllm fp32", fp32.seconds, idealSeconds: fp32Ideal)
        let bf16 = timeStep(bf16Matmuls: true)
        row("dllm bf16", bf16.seconds, idealSeconds: bf16Ideal)
        if let vectorPeak {
            BFloat16Matmul.usesAMX = false
            let vector = timeStep(bf16Matmuls: true)
            BFloat16Matmul.usesAMX = true
            row("dllm bf16 without AMX", vector.seconds, idealSeconds: matmulFlops / (vectorPeak * 1e9))
            print(String(format: "AMX tiles / vdpbf16ps, dllm bf16 step tokens/s: %.2fx", vector.seconds / bf16.seconds))
        }
        let torch32 = runPyTorch(seq: seq, checkpointing: gradientCheckpointing)
        let torch16 = runPyTorch(seq: seq, checkpointing: gradientCheckpointing, bf16: true)
        if let torch32 { row("PyTorch \(torch32.version) fp32", Double(N) / torch32.tokensPerSecond, idealSeconds: fp32Ideal) }
        if let torch16 { row("PyTorch \(torch16.version) autocast bf16", Double(N) / torch16.tokensPerSecond, idealSeconds: matmulFlops / (bf16Peak * 1e9)) }
        print(String(format: "losses after the last step: dllm fp32 %.4f, dllm bf16 %.4f", fp32.loss, bf16.loss))
        print(String(format: "dllm bf16 / dllm fp32 tokens/s: %.2fx (target >= 1.6x)", fp32.seconds / bf16.seconds))
        if let torch16 {
            print(String(format: "dllm bf16 / PyTorch autocast bf16 tokens/s: %.2fx (target >= 1.2x)", (Double(N) / bf16.seconds) / torch16.tokensPerSecond))
        } else {
            print("PyTorch: not measured (no importable torch for '\(python)'; pip install torch to compare)")
        }
        if let torch32 {
            print(String(format: "dllm fp32 / PyTorch fp32 tokens/s: %.2fx", (Double(N) / fp32.seconds) / torch32.tokensPerSecond))
            printFloat32Ceiling(torchSeconds: Double(N) / torch32.tokensPerSecond, sgemm: sgemm, matmulFlops: matmulFlops)
            printProductFloor(dllmSeconds: fp32.seconds, torchSeconds: Double(N) / torch32.tokensPerSecond)
        }
        print("load average after: \(loadAverage())")
    }

    /// Matmul FLOPs of one training step: the linears and the LM head (6 · N · their weights: the
    /// forward and both backward products) and attention's Q·Kᵀ and P·V (12 · L · B · T² · heads ·
    /// head_dim over forward and backward). The input embedding is a gather and is not counted.
    var matmulFlopsPerStep: (linears: Double, attention: Double) {
        let s = shape, spec = self.spec
        let N = batch * seq, QD = spec.heads * spec.headDim, KVD = spec.kvHeads * spec.headDim
        let linearWeights = s.layers * (s.hidden * (QD + 2 * KVD) + QD * s.hidden + 3 * s.hidden * s.intermediate) + s.vocab * s.hidden
        return (6 * Double(linearWeights) * Double(N), 12 * Double(s.layers) * Double(batch) * Double(seq) * Double(seq) * Double(QD))
    }

    /// What the issue's float32 target (1.5× PyTorch's float32 step) asks of the products: the
    /// matmul rate a step 1.5× faster than PyTorch's would need, against this run's sgemm peak, with
    /// every other part of the step (norms, softmax, SwiGLU, cross-entropy, AdamW) taking no time.
    /// The peak is the larger of the measurement before the steps (`sgemm`) and one taken now, after
    /// PyTorch's steps: on a shared machine one measurement can land in a slow minute.
    func printFloat32Ceiling(torchSeconds: Double, sgemm before: Double, matmulFlops: Double) {
        let after = measureSgemm(), sgemm = max(before, after)
        let needed = matmulFlops / (torchSeconds / 1.5) / 1e9
        print(String(format: "OpenBLAS sgemm (2048^3) again after the steps: %.1f GFLOP/s; peak taken as %.1f", after, sgemm))
        print(String(format: "PyTorch fp32 step: %.0f%% of this run's sgemm peak; 1.5x it would need %.1f matmul GFLOP/s, %.0f%% of that peak, with the rest of the step free",
                     100 * matmulFlops / torchSeconds / 1e9 / sgemm, needed, 100 * needed / sgemm))
    }
}
