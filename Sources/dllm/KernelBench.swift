import ArgumentParser
import DLLMCompute
import DLLMOptim
import Foundation

/// Times each kernel of the training step at the reference config's sizes, so a
/// slow step can be traced to the kernel responsible; where the CPU has a bf16 kernel, the
/// linears and the head also on it (`bf16: true`).
struct KernelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels", abstract: "Per-kernel timings at the reference config's sizes.")

    @Option var threads = 2
    @Option var batch = 8
    @Option var seq = 512
    @Option var hidden = 512
    @Option var heads = 8
    @Option(help: "Key/value heads of the tiled attention lines (grouped-query attention; default: heads).") var kvHeads: Int?
    @Option var intermediate = 1408
    @Option var vocab = 32000

    func run() throws {
        try setComputeThreads(threads)
        let B = batch, T = seq, C = hidden, NH = heads, HD = C / NH, I = intermediate, V = vocab, N = B * T
        let buf = patternedBuffer
        func seconds(_ body: () -> Void) -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        func report(_ name: String, _ s: Double, flops: Double) {
            let rate = flops > 0 ? String(format: "  %.1f GFLOP/s", flops / s / 1e9) : ""
            print(String(format: "%-28@ %8.1f ms%@", name, s * 1000, rate))
        }
        func time(_ name: String, flops: Double = 0, _ body: () -> Void) {
            body()
            report(name, seconds(body), flops: flops)
        }
        /// Two forms of one piece: each warmed, then timed first, second, second, first, and each
        /// reported as its faster run, so neither form always runs first.
        func timePair(_ firstName: String, _ secondName: String, flops: Double, _ first: () -> Void, _ second: () -> Void) {
            first(); second()
            let a = seconds(first), b = seconds(second), b2 = seconds(second), a2 = seconds(first)
            report(firstName, min(a, a2), flops: flops)
            report(secondName, min(b, b2), flops: flops)
        }
        let e = buf(N * V / 8)
        time("fastExp x\(N * V / 8)") {
            let p = e.pointer
            parallelChunks(N * V / 8, minimumPerThread: 1 << 16) { r in for i in r { p[i] = Float.fastExp(p[i] * 0.001) } }
        }
        let x = buf(N * C), w = buf(I * C), y = buf(N * I), dy = buf(N * I), dx = buf(N * C), dw = buf(I * C)
        time("linear fwd C->I", flops: 2 * Double(N * C * I)) { linearForward(y.pointer, x.pointer, w.pointer, nil, N: N, C: C, OC: I) }
        time("linear bwd C->I", flops: 4 * Double(N * C * I)) { linearBackward(dx.pointer, dw.pointer, nil, dy.pointer, x.pointer, w.pointer, N: N, C: C, OC: I) }
        if BFloat16Matmul.isAvailable {  // the same products on the bf16 kernel (bf16: true), inputs rounded as the step rounds them
            time("bf16 linear fwd C->I", flops: 2 * Double(N * C * I)) { bf16LinearForward(y.pointer, x.pointer, w.pointer, nil, N: N, C: C, OC: I) }
            time("bf16 linear bwd C->I", flops: 4 * Double(N * C * I)) { bf16LinearBackward(dx.pointer, dw.pointer, nil, dy.pointer, x.pointer, w.pointer, N: N, C: C, OC: I) }
            time("bf16 linear fwd I->C", flops: 2 * Double(N * C * I)) { bf16LinearForward(dx.pointer, y.pointer, w.pointer, nil, N: N, C: I, OC: C) }
        }
        let r = buf(N), nw = buf(C), nx = buf(N * C)
        time("rmsnorm fwd") { rmsnormForward(nx.pointer, r.pointer, x.pointer, nw.pointer, N: N, C: C, eps: 1e-5) }
        time("rmsnorm bwd") { rmsnormBackward(dx.pointer, dw.pointer, nx.pointer, x.pointer, nw.pointer, r.pointer, N: N, C: C) }
        let g = buf(N * I), u = buf(N * I), o = buf(N * I)
        time("swiglu fwd") { swigluForward(o.pointer, g.pointer, u.pointer, count: N * I) }
        time("swiglu bwd") { swigluBackward(dy.pointer, y.pointer, o.pointer, g.pointer, u.pointer, count: N * I) }
        if BFloat16Matmul.isAvailable {
            // SwiGLU's backward and the gate and up products under bf16 (kept bf16 gate, up and
            // input): float32 douts that the products round, against douts written as bf16 rows.
            let gateBits = BFloat16Rows(count: N * I), upBits = BFloat16Rows(count: N * I), ln2 = BFloat16Rows(rows: N, width: C)
            BFloat16Matmul.round(g.pointer, into: gateBits.pointer, count: N * I)
            BFloat16Matmul.round(u.pointer, into: upBits.pointer, count: N * I)
            bf16PackActivation(x.pointer, N: N, C: C, into: ln2.pointer)
            let wg = buf(I * C), wu = buf(I * C), dwg = buf(I * C), dwu = buf(I * C), dg = buf(N * I), du = buf(N * I)
            let gateRows = BFloat16Rows(rows: N, width: I), upRows = BFloat16Rows(rows: N, width: I)
            timePair("bf16 gate+up bwd, f32 douts", "bf16 gate+up bwd, bf16 rows", flops: 8 * Double(N * C * I)) {
                dg.zero(); du.zero()
                swigluBackwardBF16(dg.pointer, du.pointer, o.pointer, gateBits: gateBits.pointer, upBits: upBits.pointer, count: N * I)
                bf16LinearBackwardGroup(dx.pointer, [
                    (linear: BFloat16Linear(out: dg.pointer, weight: wg.pointer, bias: nil, OC: I), dweight: Optional(dwg.pointer), dbias: nil),
                    (linear: BFloat16Linear(out: du.pointer, weight: wu.pointer, bias: nil, OC: I), dweight: Optional(dwu.pointer), dbias: nil),
                ], packedInput: ln2.pointer, N: N, C: C)
            } _: {
                swigluBackwardBF16(rows: gateRows.pointer, upRows.pointer, ld: gateRows.count / N, o.pointer,
                                   gateBits: gateBits.pointer, upBits: upBits.pointer, N: N, I: I)
                bf16LinearBackwardGroup(dx.pointer, [
                    (dout: UnsafePointer(gateRows.pointer), weight: UnsafePointer(wg.pointer), dweight: Optional(dwg.pointer), OC: I),
                    (dout: UnsafePointer(upRows.pointer), weight: UnsafePointer(wu.pointer), dweight: Optional(dwu.pointer), OC: I),
                ], packedInput: ln2.pointer, N: N, C: C)
            }
        }
        let rope = RotaryTable<Float>(headDim: HD, maxPositions: T, theta: 10_000)
        let pos = (0..<N).map { Int32($0 % T) }
        time("rope fwd (q)") { rope.apply(x.pointer, positions: pos, N: N, heads: NH, ld: C) }
        let q = buf(N * C), k = buf(N * C), v = buf(N * C), att = buf(B * NH * T * T), out = buf(N * C), scratch = buf(attentionScratchCount(T: T))
        let mask = AttentionMask(.bidirectional, B: B, T: T)
        let attFlops = 4 * Double(B * T * T * C)
        time("attention fwd", flops: attFlops) {
            attentionForward(out.pointer, ldo: C, att.pointer, q.pointer, ldq: C, k.pointer, ldk: C, v.pointer, ldv: C, mask: mask, B: B, T: T, NH: NH, NKV: NH, HD: HD)
        }
        let dq = buf(N * C), dk = buf(N * C), dv = buf(N * C)
        time("attention bwd", flops: 2 * attFlops) {
            attentionBackward(dq.pointer, dk.pointer, dv.pointer, scratch.buffer, out.pointer, ldo: C, att.pointer, q.pointer, ldq: C, k.pointer, ldk: C, v.pointer, ldv: C, B: B, T: T, NH: NH, NKV: NH, HD: HD)
        }
        // The tiled kernels (what training runs at these lengths), with grouped key/value heads;
        // backward recomputes Q·Kᵀ, so its products are 2.5 times the forward's.
        let NKV = kvHeads ?? NH
        guard NKV > 0, NH % NKV == 0 else { throw ValidationError("--kv-heads \(NKV) must divide --heads \(NH)") }
        let KV = NKV * HD, tiledLSE = buf(B * NH * T), dout = buf(N * C)
        for precision in [AttentionPrecision.native] + (BFloat16Matmul.isAvailable ? [.bfloat16] : []) {
            let name = precision == .bfloat16 ? "bf16 tiled attention" : "tiled attention"
            time("\(name) fwd", flops: attFlops) {
                tiledAttentionForward(out.pointer, ldo: C, tiledLSE.pointer, q.pointer, ldq: C, k.pointer, ldk: KV, v.pointer, ldv: KV,
                                      mask: mask, B: B, T: T, NH: NH, NKV: NKV, HD: HD, precision: precision)
            }
            time("\(name) bwd", flops: 2.5 * attFlops) {
                tiledAttentionBackward(dq.pointer, dk.pointer, dv.pointer, dout.pointer, out.pointer, ldo: C, tiledLSE.pointer,
                                       q.pointer, ldq: C, k.pointer, ldk: KV, v.pointer, ldv: KV,
                                       mask: mask, B: B, T: T, NH: NH, NKV: NKV, HD: HD, precision: precision)
            }
        }
        let logits = buf(N * V), lse = buf(N), losses = buf(N)
        let targets = (0..<N).map { Int32($0 % V) }
        let head = buf(V * C)
        time("lm head fwd", flops: 2 * Double(N * C * V)) { linearForward(logits.pointer, x.pointer, head.pointer, nil, N: N, C: C, OC: V) }
        if BFloat16Matmul.isAvailable {
            time("bf16 lm head fwd", flops: 2 * Double(N * C * V)) { bf16LinearForward(logits.pointer, x.pointer, head.pointer, nil, N: N, C: C, OC: V) }
        }
        time("cross-entropy fwd") { crossEntropyForward(losses.pointer, lse.pointer, logits.pointer, targets, nil, N: N, V: V) }
        if BFloat16Matmul.isAvailable {
            // The head's backward under bf16: float32 dlogits that both products round, against
            // dlogits rounded once into the bf16 rows both products read (what the step runs).
            let dlogits = buf(N * V), dlnf = buf(N * C), dhead = buf(V * C), rows = BFloat16Rows(rows: N, width: V)
            timePair("bf16 head bwd, f32 dlogits", "bf16 head bwd, bf16 rows", flops: 4 * Double(N * C * V)) {
                crossEntropyBackward(dlogits.pointer, logits.pointer, lse.pointer, targets, nil, dloss: 1, N: N, V: V)
                bf16LinearBackward(dlnf.pointer, dhead.pointer, nil, dlogits.pointer, x.pointer, head.pointer, N: N, C: C, OC: V)
            } _: {
                crossEntropyBackwardBF16(into: rows.pointer, logits.pointer, lse.pointer, targets, nil, dloss: 1, N: N, V: V)
                bf16LinearBackward(dlnf.pointer, dhead.pointer, packedDout: rows.pointer, x.pointer, head.pointer, N: N, C: C, OC: V)
            }
        }
        time("cross-entropy bwd") { crossEntropyBackward(logits.pointer, logits.pointer, lse.pointer, targets, nil, dloss: 1, N: N, V: V) }
        // The reference config's parameter count: embedding and head V·C each, L = 8 blocks.
        let P = 2 * V * C + 8 * (4 * C * C + 3 * C * I + 2 * C) + C
        let params = buf(P), grads = buf(P), moment1 = buf(P), moment2 = buf(P)
        var step = 0
        time("adamw x\(P)") {
            step += 1
            AdamW.step(params: params.pointer, grads: UnsafePointer(grads.pointer), m: moment1.pointer, v: moment2.pointer,
                       range: 0..<P, step: step, config: AdamWConfig(learningRate: 1e-4, weightDecay: 0.1))
        }
    }
}

/// `count` floats in [-0.5, 0.5) from a multiplicative hash of the index: deterministic, not
/// constant, and cheap to fill (the benchmarks' operands).
func patternedBuffer(_ count: Int) -> Buffer<Float> {
    let b = Buffer<Float>(count: count)
    for i in 0..<count { b[i] = Float((i &* 2_654_435_761) % 1000) / 1000 - 0.5 }
    return b
}
