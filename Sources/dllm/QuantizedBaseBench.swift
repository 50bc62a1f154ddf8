import ArgumentParser
import DLLMCompute
import DLLMModels
import DLLMRandom
import Foundation

/// `dllm bench qbase`: the products of a frozen quantised training base against a float one, in the
/// same run, at SmolLM2-135M's shapes (forward + input gradient through a frozen matrix, against the
/// float forward + full backward a full fine-tune runs). Whole training steps (full fine-tune, LoRA
/// on the f32 base, LoRA on the GGUF's quantised tensors) are `dllm bench lora-step`.
struct QuantizedBaseBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qbase", abstract: "Frozen quantised products vs float products at SmolLM2-135M's shapes (whole steps: bench lora-step).")

    @Option(help: "Sequences per step.") var batch = 4
    @Option(help: "Tokens per sequence.") var seq = 512
    @Option(help: "Threads for OpenBLAS and the kernels.") var threads = 2

    func run() throws {
        try setComputeThreads(threads)
        productSection()
        print("whole training steps (full fine-tune, LoRA on the f32 base, LoRA on a quantised base): dllm bench lora-step --model SmolLM2.gguf")
    }

    /// Forward + input gradient through frozen matrices at SmolLM2-135M's shapes (N = batch·seq rows),
    /// against the float forward + full backward (input and weight gradients) of a full fine-tune.
    func productSection() {
        let N = batch * seq
        print("products at SmolLM2-135M shapes, N = \(N) rows, \(threads) threads (ms, forward + backward):")
        print("shape (out x in)   float fwd+bwd(dx,dW)   frozen F32 fwd+dx   frozen Q8_0   frozen Q4_1   frozen NF4")
        var rng = SeededGenerator(seed: 3)
        for (OC, C) in [(576, 576), (192, 576), (1536, 576), (576, 1536)] {
            let w = (0..<(OC * C)).map { _ in Float.random(in: -0.05...0.05, using: &rng) }
            let x = Buffer<Float>(count: N * C), y = Buffer<Float>(count: N * OC), dy = Buffer<Float>(count: N * OC)
            let dx = Buffer<Float>(count: N * C), dw = Buffer<Float>(count: OC * C)
            for i in 0..<(N * C) { x[i] = Float.random(in: -1...1, using: &rng) }
            for i in 0..<(N * OC) { dy[i] = Float.random(in: -1...1, using: &rng) }
            func time(_ body: () -> Void) -> Double {
                body()
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            }
            let float = w.withUnsafeBufferPointer { wp in
                time {
                    linearForward(y.pointer, x.pointer, wp.baseAddress!, nil, N: N, C: C, OC: OC)
                    linearBackward(dx.pointer, dw.pointer, nil, dy.pointer, x.pointer, wp.baseAddress!, N: N, C: C, OC: OC)
                }
            }
            let scratch = FrozenLinearScratch()
            var frozen: [Double] = []
            let f32 = Buffer<Float>(w)
            let formats: [FrozenQuantizedMatrix] = [
                try! FrozenQuantizedMatrix(format: .ggml(.f32), rows: OC, cols: C, data: f32.pointer, byteCount: OC * C * 4, owner: f32),
                try! FrozenQuantizedMatrix.quantizing(w, rows: OC, cols: C, as: .q8_0),
                FrozenQuantizedMatrix(try! QuantizedMatrix.quantizing(w, rows: OC, cols: C, as: .q4_1)),
                try! FrozenQuantizedMatrix.quantizing(w, rows: OC, cols: C, as: .nf4),
            ]
            for m in formats {
                frozen.append(time {
                    frozenLinearForward(y.pointer, x.pointer, m, nil, N: N, scratch: scratch)
                    frozenLinearBackwardInput(dx.pointer, dy.pointer, m, N: N, scratch: scratch)
                })
            }
            print(String(format: "%4d x %-4d         %10.1f             %10.1f        %8.1f      %8.1f     %8.1f",
                         OC, C, float, frozen[0], frozen[1], frozen[2], frozen[3]))
        }
    }
}
