import ArgumentParser
import DLLMCompute
import DLLMModels
import DLLMRandom
import DLLMSampling
import Foundation

/// `dllm bench generate`: diffusion sampling throughput of LLaDA's exact sampler
/// against Fast-dLLM's prefix cache, dual cache and threshold decoding, measured in
/// the same run on the same prompt, with each fast mode's agreement with the exact
/// output, block diffusion (BD3LM) with its exact cache of committed blocks, and autoregressive
/// KV-cache decoding of the same network for scale.
struct GenerateBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Sampling tokens/s: exact vs prefix/dual cache + threshold vs BD3LM vs AR (reference config, or --model).",
        discussion: """
            Random weights on the compute benchmark's reference config by default (hidden 512, 8 layers, 8 heads, \
            SwiGLU 1408, vocab 32000), 256 new tokens in blocks of 32, one step per token. --model DIR benchmarks a \
            checkpoint instead (agreement then measures quality, since random weights never pass a threshold).
            """)

    @Option(help: "A model folder to benchmark instead of the random reference model.") var model: String?
    @Option(help: "Prompt text (needs the folder's tokenizer); default: random prompt tokens.") var prompt: String?
    @Flag(help: "Wrap --prompt in the folder's chat template.") var chat = false
    @Option(help: "Hidden size.") var hidden = 512
    @Option(help: "Transformer blocks.") var layers = 8
    @Option(help: "Attention heads.") var heads = 8
    @Option(name: .customLong("kv-heads"), help: "Key/value heads.") var kvHeads = 8
    @Option(help: "SwiGLU width.") var intermediate = 1408
    @Option(help: "Vocabulary size.") var vocab = 32000
    @Option(name: .customLong("prompt-length"), help: "Random prompt tokens (without --prompt).") var promptLength = 32
    @Option(name: .customLong("gen-length"), help: "Tokens to generate.") var genLength = 256
    @Option(name: .customLong("block-length"), help: "Block length.") var blockLength = 32
    @Option(help: "Sampling steps (default: gen-length, one token per step).") var steps: Int?
    @Option(help: "Confidence threshold of the parallel-decoding modes.") var threshold = 0.9
    @Option(help: "Sampling temperature.") var temperature = 0.0
    @Option(help: "Comma-separated modes: exact, prefix, dual, threshold, prefix+threshold, dual+threshold, bd3lm, bd3lm-exact, ar.")
    var modes = "exact,prefix,dual,dual+threshold,bd3lm,bd3lm-exact,ar"
    @Option(help: "Threads for OpenBLAS and the kernels.") var threads = 2
    @Option(help: "Runs of the whole mode list; each mode reports its fastest run (a shared machine drifts).") var repeats = 1
    @Option(help: "Seed of the random weights, prompt and noise.") var seed: UInt64 = 0

    struct Mode {
        let name: String
        let cache: CacheMode
        let threshold: Bool
        let autoregressive: Bool
        /// Block diffusion (BD3LM): its agreement is measured against `bd3lm-exact`, the same sampler uncached.
        var blockDiffusion = false
    }

    func parseModes() throws -> [Mode] {
        try modes.split(separator: ",").map { raw in
            switch raw.trimmingCharacters(in: .whitespaces) {
            case "exact": return Mode(name: "exact (LLaDA, no cache)", cache: .none, threshold: false, autoregressive: false)
            case "prefix": return Mode(name: "prefix cache", cache: .prefix, threshold: false, autoregressive: false)
            case "dual": return Mode(name: "dual cache", cache: .dual, threshold: false, autoregressive: false)
            case "threshold": return Mode(name: "threshold \(threshold)", cache: .none, threshold: true, autoregressive: false)
            case "prefix+threshold": return Mode(name: "prefix + threshold \(threshold)", cache: .prefix, threshold: true, autoregressive: false)
            case "dual+threshold": return Mode(name: "dual + threshold \(threshold)", cache: .dual, threshold: true, autoregressive: false)
            case "bd3lm": return Mode(name: "bd3lm, block KV cache", cache: .prefix, threshold: false, autoregressive: false, blockDiffusion: true)
            case "bd3lm-exact": return Mode(name: "bd3lm exact (no cache)", cache: .none, threshold: false, autoregressive: false, blockDiffusion: true)
            case "ar": return Mode(name: "autoregressive, KV cache", cache: .none, threshold: false, autoregressive: true)
            default: throw ValidationError("--modes: unknown mode '\(raw)'")
            }
        }
    }

    func run() throws {
        try setComputeThreads(threads)
        let modes = try parseModes()
        let net: any InferenceModel<Float>
        let maskID: Int32, eosID: Int32?
        var promptIDs: [Int32]
        var describe: String
        if let model {
            let g = try TextGenerator(folder: model, mode: .diffusion, seed: seed)
            net = g.model
            maskID = g.maskID!
            eosID = g.eosID
            promptIDs = try prompt.map { try g.promptTokens($0, chat: chat) } ?? []
            describe = "\(model) (\(g.modelType)\(g.randomlyInitialized ? ", random weights" : ""))"
        } else {
            let spec = LlamaSpec(modelType: "llada", naming: .llada, hidden: hidden, layers: layers, heads: heads, kvHeads: kvHeads,
                                 headDim: hidden / heads, intermediate: intermediate, vocab: vocab, rmsNormEps: 1e-5,
                                 ropeTheta: 10_000, maxPositions: 4096, tiedEmbeddings: false, qkvBias: false,
                                 maskTokenID: vocab - 1, initializerRange: 0.02)
            let m = LlamaModel<Float>(spec: spec)
            Initialization.initialize(m, seed: seed)
            net = m
            maskID = Int32(vocab - 1)
            eosID = nil
            promptIDs = []
            describe = "random LLaMA-style: hidden \(hidden), \(layers) layers, \(heads)/\(kvHeads) heads, SwiGLU \(intermediate), vocab \(vocab)"
        }
        if promptIDs.isEmpty {
            var rng = SeededGenerator(seed: seed &+ 1)
            promptIDs = (0..<promptLength).map { _ in Int32(rng.next() % UInt64(max(1, net.vocabularySize - 2))) }
        }
        let totalSteps = steps ?? genLength
        print("model: \(describe)")
        print("prompt \(promptIDs.count) tokens, gen_length \(genLength), block_length \(blockLength), steps \(totalSteps), "
              + "temperature \(temperature), \(threads) threads, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("mode                          seconds   CPU s  tokens/s  model evals  positions  speed-up (wall, CPU)  agreement with exact")
        let noise = CounterNoise(seed: seed)
        var results: [(answer: [Int32], stats: SamplingStats, cpu: Double)] = []
        for round in 0..<max(1, repeats) {
            for (i, mode) in modes.enumerated() {
                let cpu0 = processCPUSeconds()
                let r = try measure(mode, net: net, maskID: maskID, eosID: eosID, prompt: promptIDs, steps: totalSteps, noise: noise)
                let cpu = processCPUSeconds() - cpu0
                if round == 0 {
                    results.append((r.answer, r.stats, cpu))
                } else {
                    if r.answer != results[i].answer { log("warning: \(mode.name) gave different tokens in round \(round + 1)") }
                    if r.stats.seconds < results[i].stats.seconds { results[i].stats = r.stats }
                    results[i].cpu = min(results[i].cpu, cpu)
                }
                log("round \(round + 1), \(mode.name): \(String(format: "%.2f s wall, %.2f s CPU", r.stats.seconds, cpu))")
            }
        }
        let exact = zip(modes, results).first { !$0.0.autoregressive && $0.0.cache == .none && !$0.0.threshold && !$0.0.blockDiffusion }
            .map { (answer: $0.1.answer, seconds: $0.1.stats.seconds, cpu: $0.1.cpu) }
        let blockExact = zip(modes, results).first { $0.0.blockDiffusion && $0.0.cache == .none }.map { $0.1.answer }
        for (mode, result) in zip(modes, results) {
            let (answer, stats, cpu) = result
            let speedup = exact.map { String(format: "%7.2fx %7.2fx", $0.seconds / stats.seconds, $0.cpu / cpu) } ?? "      -        - "
            let agreement: String
            if mode.autoregressive {
                agreement = "n/a (causal decoding)"
            } else if mode.blockDiffusion {
                agreement = blockExact.map { reference in
                    let same = zip(reference, answer).filter { $0 == $1 }.count
                    return String(format: "%.3f (%d/%d tokens) with bd3lm exact", Double(same) / Double(answer.count), same, answer.count)
                } ?? "n/a (another sampler)"
            } else if let exact {
                let same = zip(exact.answer, answer).filter { $0 == $1 }.count
                agreement = String(format: "%.3f (%d/%d tokens)", Double(same) / Double(answer.count), same, answer.count)
            } else {
                agreement = "-"
            }
            print(mode.name.padding(toLength: 28, withPad: " ", startingAt: 0)
                  + String(format: " %8.2f %7.2f  %8.1f  %11d  %9d  ", stats.seconds, cpu, stats.tokensPerSecond,
                           stats.modelEvaluations, stats.evaluatedPositions) + speedup + "      " + agreement)
            fflush(nil)
        }
    }

    /// CPU time of the whole process (all threads), steadier than wall time on a shared machine.
    func processCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// One sampling run of `mode`.
    func measure(_ mode: Mode, net: any InferenceModel<Float>, maskID: Int32, eosID: Int32?, prompt: [Int32], steps: Int,
                 noise: CounterNoise) throws -> (answer: [Int32], stats: SamplingStats) {
        if mode.autoregressive {
            let out = try ARSampler(model: net, eosID: nil).generate(
                prompts: [prompt], config: ARSamplerConfig(maxNewTokens: genLength, temperature: temperature, stopAtEOS: false),
                noise: noise)
            return (out.answers[0], out.stats)
        }
        if mode.blockDiffusion {
            let config = BD3LMSamplerConfig(steps: steps, genLength: genLength, blockSize: blockLength, temperature: temperature,
                                            cache: mode.cache)
            let out = try BD3LMSampler(model: net, maskID: maskID, eosID: nil).generate(prompts: [prompt], config: config, noise: noise)
            return (out.answers[0], out.stats)
        }
        let config = MDLMSamplerConfig(steps: steps, genLength: genLength, blockLength: blockLength, temperature: temperature,
                                       threshold: mode.threshold ? threshold : nil, cache: mode.cache)
        let out = try MDLMSampler(model: net, maskID: maskID, eosID: eosID).generate(prompts: [prompt], config: config, noise: noise)
        return (out.answers[0], out.stats)
    }
}
