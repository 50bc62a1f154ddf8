import ArgumentParser
import DLLMCompute
import DLLMModels
import Foundation

/// `dllm bench ar`: autoregressive prefill and decode throughput of one model, measured apart:
/// one forward over a `--prompt-tokens` prompt (logits of its last row only), then `--new-tokens`
/// greedy single-token steps on the key/value cache. The prompt is token i = (i·7919 + 13) mod V,
/// the same ids Launchers/bench_inference_peers.py feeds llama.cpp and transformers.
struct ARBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ar",
        abstract: "Autoregressive prefill and decode tokens/s (a GGUF or model folder, or a random SmolLM2-shaped model).",
        discussion: """
            Without --model: random weights of SmolLM2-135M's shape (30 layers, width 576, 9/3 heads, SwiGLU 1536, \
            vocab 49152, tied), quantized per --quant. Prints 'quantized kernels: <path>', resident memory, and \
            a last line 'RESULT {json}' for Launchers/bench_inference.py.
            """)

    @Option(help: "A .gguf file or a model folder; default: random SmolLM2-shaped weights.") var model: String?
    @Option(help: "Sampler mode (only ar is measured here).") var mode = "ar"
    @Option(help: "Random model's block-matrix format: q4_0, q4_1, q8_0 or f32.") var quant = "q4_1"
    @Flag(name: .customLong("dequantize"), help: "Load a GGUF's matrices as fp32 (the comparison path).") var dequantize = false
    @Option(name: .customLong("prompt-tokens"), help: "Prompt length of the prefill.") var promptTokens = 512
    @Option(name: .customLong("new-tokens"), help: "Greedy decoding steps.") var newTokens = 128
    @Option(help: "Threads for OpenBLAS and the kernels.") var threads = 2
    @Option(help: "Runs; each figure is the fastest run's (a shared machine drifts).") var repeats = 1
    @Option(help: "Seed of the random weights.") var seed: UInt64 = 0
    @Option(help: "Threads of the quantized products: spin (spinning workers) or dispatch (parallelChunks); default DLLM_QUANT_POOL or spin.")
    var pool: String?

    func run() throws {
        guard mode == "ar" else { throw ValidationError("--mode: only ar is benchmarked here") }
        try setComputeThreads(threads)
        if let pool {
            guard let choice = QuantizedThreading(rawValue: pool) else { throw ValidationError("--pool: spin or dispatch") }
            QuantizedThreading.current = choice
        }
        print("quantized kernels: \(QuantizedKernels.name), threads: \(QuantizedThreading.current.rawValue)")
        let loadStart = monotonicNow()
        let (net, describe) = try loadModel()
        let loadSeconds = monotonicNow() - loadStart
        print("model: \(describe) (loaded in \(String(format: "%.2f", loadSeconds)) s)")
        print("prompt \(promptTokens) tokens, \(newTokens) new tokens (greedy), \(threads) threads, "
              + "\(ProcessInfo.processInfo.activeProcessorCount) cores")
        let V = net.vocabularySize
        let prompt = (0..<promptTokens).map { Int32(($0 * 7919 + 13) % V) }
        var bestPrefill = Double.infinity, bestDecode = Double.infinity
        var firstTokens: [Int32]?
        for round in 0..<max(1, repeats) {
            let cache = net.makeCache(batch: 1, capacity: promptTokens + newTokens)
            let t0 = monotonicNow()
            var logits = net.inferenceForward(.full(ids: prompt, B: 1, T: promptTokens, lengths: [promptTokens], causal: true,
                                                    logitRows: [promptTokens - 1]), cache: cache)
            let t1 = monotonicNow()
            var tokens: [Int32] = []
            for step in 0..<newTokens {
                var best = 0
                for v in 1..<V where logits[v] > logits[best] { best = v }
                tokens.append(Int32(best))
                if step == newTokens - 1 { break }
                let slot = promptTokens + step
                logits = net.inferenceForward(InferenceStep(ids: [Int32(best)], B: 1, Tq: 1, queryStart: [slot], keyLength: [slot + 1],
                                                            causal: true), cache: cache)
            }
            let t2 = monotonicNow()
            bestPrefill = min(bestPrefill, t1 - t0)
            bestDecode = min(bestDecode, t2 - t1)
            if let firstTokens, firstTokens != tokens { log("warning: round \(round + 1) decoded different tokens") }
            firstTokens = firstTokens ?? tokens
            log(String(format: "round %d: prefill %.3f s, decode %.3f s", round + 1, t1 - t0, t2 - t1))
        }
        // Decode steps timed: newTokens − 1 forwards (the first new token comes from the prefill's logits).
        let prefillRate = Double(promptTokens) / bestPrefill
        let decodeRate = Double(max(1, newTokens - 1)) / bestDecode
        let rss = residentMiB()
        print(String(format: "prefill: %d tokens in %.3f s = %.1f tokens/s", promptTokens, bestPrefill, prefillRate))
        print(String(format: "decode:  %d steps in %.3f s = %.1f tokens/s", max(1, newTokens - 1), bestDecode, decodeRate))
        print(String(format: "resident memory: %.0f MiB (peak %.0f MiB)", rss.current, rss.peak))
        print("first tokens: \(firstTokens!.prefix(8).map(String.init).joined(separator: " "))")
        print(String(format: "RESULT {\"prefill_tps\": %.2f, \"decode_tps\": %.2f, \"rss_mib\": %.0f, \"peak_rss_mib\": %.0f, \"kernels\": \"%@\"}",
                     prefillRate, decodeRate, rss.current, rss.peak, QuantizedKernels.name))
    }

    func loadModel() throws -> (any InferenceModel<Float>, String) {
        if let model {
            let loaded = try loadInferenceModel(path: model, dequantize: dequantize)
            return (loaded.model, loaded.describe)
        }
        let spec = LlamaSpec(modelType: "llama", naming: .huggingFace, hidden: 576, layers: 30, heads: 9, kvHeads: 3, headDim: 64,
                             intermediate: 1536, vocab: 49152, rmsNormEps: 1e-5, ropeTheta: 100_000, maxPositions: 8192,
                             tiedEmbeddings: true, qkvBias: false, maskTokenID: nil, initializerRange: 0.02)
        let m = LlamaModel<Float>(spec: spec)
        Initialization.initialize(m, seed: seed)
        if quant != "f32" {
            guard let type = QuantizedType.allCases.first(where: { $0.description.lowercased() == quant }) else {
                throw ValidationError("--quant: q4_0, q4_1, q8_0 or f32")
            }
            m.quantizedWeights = try m.quantizedCopy(type, tableType: .q8_0)
        }
        return (m, "random SmolLM2-135M-shaped LLaMA, blocks \(quant), embedding/head \(quant == "f32" ? "f32" : "q8_0")")
    }
}

func monotonicNow() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// VmRSS and VmHWM of this process in MiB (Linux /proc; 0 elsewhere).
func residentMiB() -> (current: Double, peak: Double) {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Double {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
        return Double(line.split(separator: " ").dropFirst().first.map(String.init) ?? "0").map { $0 / 1024 } ?? 0
    }
    return (field("VmRSS"), field("VmHWM"))
}
