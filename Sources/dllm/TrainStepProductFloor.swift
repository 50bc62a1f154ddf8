import DLLMCompute
import DLLMJSON
import DLLMProcess
import DLLMRandom
import Foundation

extension TrainStepBench {
    /// The float32 step's matrix products alone, back to back, as this run's OpenBLAS computes
    /// them: every block linear's and the head's forward, input-gradient and weight-gradient
    /// products (`linearForward`, `linearBackward`) at the step's shapes, and attention's two
    /// forward and four backward products per (sequence, head) on single-threaded BLAS, the heads
    /// split over the threads as `attentionForward`/`attentionBackward` split them. Nothing else
    /// runs: no norms, softmax, SwiGLU, cross-entropy or AdamW.
    ///
    /// A float32 step whose products are these OpenBLAS calls takes at least this long, so PyTorch's
    /// step over this time bounds the ratio such a step can reach. The bound errs fast: one set of
    /// buffers serves every layer, the score matrices are one per thread (the step keeps them all),
    /// and the faster of two passes counts.
    ///
    /// Returns seconds for (linears and head, attention products) and the head's rows.
    func float32ProductFloor() -> (linears: Double, attention: Double, headRows: Int) {
        let s = shape, spec = self.spec, N = batch * seq, T = seq
        let C = s.hidden, I = s.intermediate, V = s.vocab, NH = spec.heads, NKV = spec.kvHeads, HD = spec.headDim
        let QD = NH * HD, KVD = NKV * HD
        var rng = SeededGenerator(seed: 3)
        let headRows = maskedDiffusion ? maskedDiffusionWeights(rng: &rng).filter { $0 != 0 }.count : N
        let filled = patternedBuffer
        let widest = max(C, I, QD)
        let input = filled(N * widest), output = filled(N * widest), gradIn = filled(N * widest), gradOut = filled(N * widest)
        let weight = filled(widest * widest), gradWeight = filled(widest * widest)
        // (in, out) of each block product: q, k, v, o, gate, up, down.
        let blockProducts = [(C, QD), (C, KVD), (C, KVD), (QD, C), (C, I), (C, I), (I, C)]
        func linears() {
            for _ in 0..<s.layers {
                for (inputs, outputs) in blockProducts {
                    linearForward(output.pointer, input.pointer, weight.pointer, nil, N: N, C: inputs, OC: outputs)
                    linearBackward(gradIn.pointer, gradWeight.pointer, nil, gradOut.pointer, input.pointer, weight.pointer, N: N, C: inputs, OC: outputs)
                }
            }
        }
        let scores = filled(ComputeThreads.count * T * T)
        let dq = filled(N * QD), dk = filled(N * KVD), dv = filled(N * KVD)
        func attention() {
            let scale = 1 / Float(HD).squareRoot()
            for _ in 0..<s.layers {
                withSingleThreadedBLAS {
                    parallelChunks(batch * NH) { chunk, tasks in
                        let P = scores.pointer + chunk * T * T
                        for task in tasks {
                            let b = task / NH, h = task % NH, g = h / (NH / NKV)
                            let q = input.pointer + b * T * QD + h * HD, k = output.pointer + b * T * KVD + g * HD
                            let v = gradOut.pointer + b * T * KVD + g * HD, out = gradIn.pointer + b * T * QD + h * HD
                            // Forward: P = scale·Q·Kᵀ, out = P·V.
                            Float.blasGemm(.none, .transpose, T, T, HD, scale, q, QD, k, KVD, 0, P, T)
                            Float.blasGemm(.none, .none, T, HD, T, 1, P, T, v, KVD, 0, out, QD)
                            // Backward: dP = dO·Vᵀ, dV += Pᵀ·dO, dQ += dS·K, dK += dSᵀ·Q (dS over P's memory).
                            Float.blasGemm(.none, .transpose, T, T, HD, 1, out, QD, v, KVD, 0, P, T)
                            let dqbh = dq.pointer + b * T * QD + h * HD, dkbg = dk.pointer + b * T * KVD + g * HD
                            Float.blasGemm(.transpose, .none, T, HD, T, 1, P, T, out, QD, 1, dv.pointer + b * T * KVD + g * HD, KVD)
                            Float.blasGemm(.none, .none, T, HD, T, scale, P, T, k, KVD, 1, dqbh, QD)
                            Float.blasGemm(.transpose, .none, T, HD, T, scale, P, T, q, QD, 1, dkbg, KVD)
                        }
                    }
                }
            }
        }
        let head = filled(headRows * V), headWeight = filled(V * C), headGradWeight = filled(V * C), hidden = filled(headRows * C)
        func headProducts() {
            linearForward(head.pointer, hidden.pointer, headWeight.pointer, nil, N: headRows, C: C, OC: V)
            linearBackward(hidden.pointer, headGradWeight.pointer, nil, head.pointer, hidden.pointer, headWeight.pointer, N: headRows, C: C, OC: V)
        }
        func seconds(_ body: () -> Void) -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        var best = (linears: Double.infinity, attention: Double.infinity, headRows: headRows)
        for _ in 0..<2 {
            best.linears = min(best.linears, seconds { linears(); headProducts() })
            best.attention = min(best.attention, seconds(attention))
        }
        return best
    }

    /// Prints ``float32ProductFloor()`` beside dllm's float32 step and, when measured, PyTorch's;
    /// then the same linear and head products on PyTorch's BLAS (``runPyTorchProducts(headRows:)``),
    /// so the report says whether the target is out of reach of the libraries themselves.
    func printProductFloor(dllmSeconds: Double, torchSeconds: Double?) {
        let floor = float32ProductFloor(), total = floor.linears + floor.attention
        print(String(format: "dllm fp32 matrix products alone (this run's OpenBLAS, nothing else): %.2f s (linears and head %.2f s, attention %.2f s); the rest of dllm's fp32 step: %.2f s",
                     total, floor.linears, floor.attention, dllmSeconds - total))
        guard let torchSeconds else { return }
        let target = torchSeconds / 1.5
        print(String(format: "PyTorch fp32 step / those products: %.2fx (linears and head alone: %.2fx), the most a float32 step on these products can reach", torchSeconds / total, torchSeconds / floor.linears))
        print(String(format: "1.5x PyTorch's fp32 step is %.2f s: %@", target, target > total
            ? String(format: "%.2f s left for everything but the products (dllm's takes %.2f s)", target - total, dllmSeconds - total)
            : String(format: "below the products alone; they would have to run %.0f%% faster", 100 * (total / target - 1))))
        guard let torch = runPyTorchProducts(headRows: floor.headRows) else { return }
        print(String(format: "the same linear and head products on PyTorch's BLAS (torch.mm, %@): %.2f s; OpenBLAS / it: %.2fx the time",
                     torch.blas, torch.seconds, floor.linears / torch.seconds))
        print(String(format: "1.5x PyTorch's fp32 step (%.2f s) against those products on PyTorch's own BLAS plus dllm's attention products (%.2f s): %@",
                     target, torch.seconds + floor.attention, target > torch.seconds + floor.attention
                        ? "within reach of a faster sgemm"
                        : String(format: "below them; PyTorch's own BLAS would have to run %.0f%% faster", 100 * ((torch.seconds + floor.attention) / target - 1))))
    }

    /// Launchers/bench_pytorch_step.py --products-only at this benchmark's shape: seconds for the
    /// linears' and the head's float32 products on PyTorch's BLAS, and which BLAS; nil without torch.
    func runPyTorchProducts(headRows: Int) -> (seconds: Double, blas: String)? {
        guard let command = pytorchCommand(seq: seq),
              let result = try? ChildProcess.run(["/usr/bin/env"] + command + ["--products-only", "--head-rows", "\(headRows)"]),
              result.termination.succeeded,
              let line = result.output.split(separator: "\n").last,
              let json = try? JSONParser.parse(String(line)),
              let seconds = json["linear_products_seconds"]?.doubleValue else { return nil }
        return (seconds, json["blas"]?.stringValue ?? "?")
    }
}
