import ArgumentParser
import DLLMCompute
import DLLMModels
import DLLMSampling
import DLLMJSON
import Foundation

extension Remasking: ExpressibleByArgument {}
extension CacheMode: ExpressibleByArgument {}
extension TextGenerator.Mode: ExpressibleByArgument {}

/// Model and sampling options shared by `dllm generate` and `dllm chat` (LLaDA's and
/// Fast-dLLM's parameter names, dashed).
struct SamplingOptions: ParsableArguments {
    @Option(help: "Model folder (config.json, model.safetensors, tokenizer files) or a llama/qwen2 .gguf file.") var model: String
    @Option(help: "tokenizer.json or a folder holding it, if not in the model folder.") var tokenizer: String?
    @Option(help: "A PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors) merged into the model at load.") var adapter: String?
    @Option(help: "auto (diffusion when the model has a mask token), diffusion or ar.") var mode: TextGenerator.Mode = .auto
    @Option(parsing: .unconditional, help: "Sampling steps over the whole answer (diffusion).") var steps = 128
    @Option(name: .customLong("gen-length"), parsing: .unconditional, help: "Tokens to generate.") var genLength = 128
    @Option(name: .customLong("block-length"), parsing: .unconditional, help: "Semi-autoregressive block length (default: gen-length, pure diffusion).")
    var blockLength: Int?
    @Option(parsing: .unconditional, help: "0 is greedy; otherwise Gumbel-max (diffusion) or multinomial (ar) sampling.") var temperature = 0.0
    @Option(help: "low_confidence or random (diffusion).") var remasking: Remasking = .lowConfidence
    @Option(name: .customLong("cfg-scale"), parsing: .unconditional, help: "Classifier-free guidance scale; 0 disables it (diffusion).") var cfgScale = 0.0
    @Option(parsing: .unconditional, help: "Fast-dLLM parallel decoding: commit every masked token of the block at least this confident (diffusion).")
    var threshold: Double?
    @Option(help: "Key/value cache between the steps of a block: none (exact), prefix or dual (diffusion).") var cache: CacheMode = .none
    @Option(name: .customLong("suppress-tokens"), parsing: .upToNextOption, help: "Token ids never to generate.")
    var suppressTokens: [Int32] = []
    @Flag(inversion: .prefixedNo, help: "Stop an answer once it is decided up to an EOS.") var stopAtEos = true
    @Flag(name: .customLong("right-shift-logits"),
          help: "Read the token at position i from logit i − 1 (dLLM's right_shift_logits, DiffuLLaMA's shift): for models adapted with a shifted loss (diffusion, cache none).")
    var rightShiftLogits = false
    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "Top-k filtering (ar).") var topK: Int?
    @Option(name: .customLong("top-p"), parsing: .unconditional, help: "Top-p (nucleus) filtering (ar).") var topP: Double?
    @Option(help: "Noise seed (and initialisation seed for a folder without weights).") var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "Threads for OpenBLAS and the kernels (default: DLLM_NUM_THREADS, OMP_NUM_THREADS or all cores).") var threads: Int?
    @Flag(name: .customLong("dequantize"), help: "Load a GGUF's quantized matrices as fp32 instead of running the quantized kernels.")
    var dequantize = false

    /// Every numeric option checked before a model is loaded: finite, in range, named in the error.
    func validate() throws {
        func fail(_ option: String, _ value: Any, _ rule: String) -> ValidationError {
            ValidationError("--\(option) \(value): \(rule)")
        }
        if steps < 1 { throw fail("steps", steps, "must be at least 1") }
        if genLength < 1 { throw fail("gen-length", genLength, "must be at least 1") }
        if let b = blockLength, b < 1 { throw fail("block-length", b, "must be at least 1") }
        if !(temperature.isFinite && temperature >= 0) { throw fail("temperature", temperature, "must be a finite number ≥ 0") }
        if !(cfgScale.isFinite && cfgScale >= 0) { throw fail("cfg-scale", cfgScale, "must be a finite number ≥ 0") }
        if let t = threshold, !(t > 0 && t <= 1) { throw fail("threshold", t, "must be in (0, 1]") }
        if let k = topK, k < 1 { throw fail("top-k", k, "must be at least 1") }
        if let p = topP, !(p > 0 && p <= 1) { throw fail("top-p", p, "must be in (0, 1]") }
        if let n = threads, !(1...4096).contains(n) { throw fail("threads", n, "must be between 1 and 4096") }
    }

    var diffusionConfig: MDLMSamplerConfig {
        MDLMSamplerConfig(steps: steps, genLength: genLength, blockLength: blockLength, temperature: temperature,
                          remasking: remasking, cfgScale: cfgScale, suppressTokens: suppressTokens, threshold: threshold,
                          cache: cache, stopAtEOS: stopAtEos, rightShiftLogits: rightShiftLogits)
    }

    var arConfig: ARSamplerConfig {
        ARSamplerConfig(maxNewTokens: genLength, temperature: temperature, topK: topK, topP: topP,
                        suppressTokens: suppressTokens, useCache: true, stopAtEOS: stopAtEos)
    }

    func load() throws -> TextGenerator {
        if let threads { try setComputeThreads(threads) } else { ComputeThreads.configureBLAS() }
        let generator = try TextGenerator(folder: model, tokenizerPath: tokenizer, mode: mode, seed: seed, dequantizeGGUF: dequantize,
                                          adapter: adapter)
        if let adapter { log("adapter: \(adapter) merged into \(model)") }
        if generator.randomlyInitialized { log("\(model): no weights, randomly initialised (seed \(seed))") }
        if let llama = generator.model as? LlamaModel<Float>, let weights = llama.quantizedWeights {
            log("quantized kernels: \(QuantizedKernels.name) (\(weights.byteCount / 1_048_576) MiB of quantized matrices)")
        }
        return generator
    }
}

/// Writes a line to standard error.
func log(_ message: String) { FileHandle.standardError.write(Data((message + "\n").utf8)) }

/// `dllm generate`: one prompt (or infill text) to standard output, or a JSONL batch.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text with a diffusion (LLaDA/MDLM) or autoregressive model.",
        discussion: """
            Diffusion follows LLaDA's generate(): --steps split over gen-length / block-length blocks, \
            low_confidence or random remasking, --cfg-scale guidance; --cache prefix|dual and --threshold \
            are Fast-dLLM's accelerations. Infilling: --infill "The king said [MASK*8] and left." \
            ([MASK] is one mask token, [MASK*N] N of them; the tokenizer's mask token text works too).
            Batch: --input prompts.jsonl --output out.jsonl; each line {"prompt": ...} (or "messages", or \
            "infill") with optional per-line steps, gen_length, block_length, temperature, remasking, \
            cfg_scale, threshold, cache, seed, top_k, top_p.
            """)

    @OptionGroup var options: SamplingOptions
    @Option(help: "The prompt text.") var prompt: String?
    @Option(help: "A text with [MASK] / [MASK*N] placeholders to fill in (diffusion).") var infill: String?
    @Flag(help: "Wrap the prompt as a user turn of the model's chat template.") var chat = false
    @Option(help: "JSONL file of requests (field prompt, optional per-row overrides).") var input: String?
    @Option(help: "JSONL file to write (default: standard output).") var output: String?
    @Option(name: .customLong("batch-size"), help: "Rows sampled together in batch mode.") var batchSize = 8
    @Flag(help: "Print the stats line (model evaluations, tokens/s) to standard error.") var stats = false

    func validate() throws {
        let sources = [prompt != nil, infill != nil, input != nil].filter { $0 }.count
        guard sources == 1 else { throw ValidationError("give exactly one of --prompt, --infill, --input") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if output != nil && input == nil { throw ValidationError("--output goes with --input") }
    }

    func run() throws {
        let generator = try options.load()
        if let input {
            try runBatch(generator, input: input)
            return
        }
        let request: GenerationRequest
        if let infill {
            var r = GenerationRequest()
            r.infill = infill
            request = r
        } else if chat {
            var r = GenerationRequest()
            r.messages = [.init(role: "user", content: prompt!)]
            request = r
        } else {
            request = GenerationRequest(prompt: prompt!)
        }
        let result = try BatchRunner(generator: generator, options: options).run([request], batchSize: 1)[0]
        print(result.text)
        if stats { log(result.statsLine) }
    }

    func runBatch(_ generator: TextGenerator, input: String) throws {
        let requests = try readGenerationRequests(path: input)
        let results = try BatchRunner(generator: generator, options: options).run(requests, batchSize: batchSize)
        var lines: [String] = []
        for (i, r) in results.enumerated() {
            var row: JSONValue = .object([
                ("index", .integer(Int64(i))), ("completion", .string(r.text)), ("tokens", .array(r.tokens.map { .integer(Int64($0)) })),
                ("model_evaluations", .integer(Int64(r.stats.modelEvaluations))), ("seconds", .double(r.stats.seconds)),
            ])
            if let id = requests[i].id { row["id"] = .string(id) }
            if let p = requests[i].prompt { row["prompt"] = .string(p) }
            if let p = requests[i].infill { row["infill"] = .string(p) }
            if let m = requests[i].messages {
                row["messages"] = .array(m.map { .object([("role", .string($0.role)), ("content", .string($0.content))]) })
            }
            lines.append(JSONWriter.string(row, sortedKeys: true))
        }
        let text = lines.joined(separator: "\n") + "\n"
        if let output {
            try text.write(toFile: output, atomically: true, encoding: .utf8)
            log("wrote \(results.count) rows to \(output)")
        } else {
            print(text, terminator: "")
        }
        if stats {
            let total = results.reduce(into: (0, 0.0)) { $0.0 += $1.stats.committedTokens; $0.1 += $1.stats.seconds }
            log("\(results.count) rows, \(total.0) tokens")
        }
    }
}

/// Turns requests into token ids, groups rows that share their settings into batches,
/// samples, and decodes; each row's noise is keyed by its index, so its output does not
/// depend on which rows it was batched with.
struct BatchRunner {
    let generator: TextGenerator
    let options: SamplingOptions

    struct Result {
        let text: String
        let tokens: [Int32]
        let stats: SamplingStats
        var statsLine: String {
            String(format: "model evaluations %d, steps %d, %d tokens in %.2f s (%.1f tokens/s), %d positions evaluated",
                   stats.modelEvaluations, stats.steps, stats.committedTokens, stats.seconds, stats.tokensPerSecond,
                   stats.evaluatedPositions)
        }
    }

    enum Kind: Hashable { case generate, infill }

    struct Group: Hashable {
        let kind: Kind
        let diffusion: MDLMSamplerConfig
        let ar: ARSamplerConfig
        let seed: UInt64
    }

    func run(_ requests: [GenerationRequest], batchSize: Int) throws -> [Result] {
        var tokens: [[Int32]] = []
        var groups: [Group: [Int]] = [:]
        var order: [Group] = []
        for (i, r) in requests.enumerated() {
            let kind: Kind = r.infill != nil ? .infill : .generate
            if kind == .infill {
                guard generator.mode == .diffusion else {
                    throw SamplingError.invalidValue(parameter: "mode", value: "ar", reason: "infilling needs a diffusion model with a mask token")
                }
                tokens.append(try generator.infillTokens(r.infill!))
            } else if let messages = r.messages {
                tokens.append(try generator.chatTokens(messages.map { .init(role: $0.role, content: $0.content) }))
            } else {
                tokens.append(try generator.promptTokens(r.prompt!, chat: false))
            }
            let d = r.applied(to: options.diffusionConfig), a = r.applied(to: options.arConfig)
            let g = Group(kind: kind, diffusion: d, ar: a, seed: r.seed ?? options.seed)
            if groups[g] == nil { order.append(g) }
            groups[g, default: []].append(i)
        }
        var results = [Result?](repeating: nil, count: requests.count)
        for g in order {
            let d = g.diffusion, a = g.ar
            let rows = groups[g]!
            for start in stride(from: 0, to: rows.count, by: batchSize) {
                let batch = Array(rows[start..<min(start + batchSize, rows.count)])
                let inputs = batch.map { tokens[$0] }
                let keys = batch.map(UInt64.init)
                let noise = CounterNoise(seed: g.seed)
                if generator.mode == .ar {
                    let out = try generator.arSampler().generate(prompts: inputs, config: a, noise: noise, sampleKeys: keys)
                    for (j, i) in batch.enumerated() {
                        results[i] = Result(text: generator.decodeAnswer(out.answers[j]), tokens: out.answers[j], stats: out.stats)
                    }
                    continue
                }
                let sampler = try generator.diffusionSampler()
                let out = g.kind == .infill
                    ? try sampler.infill(inputs, config: d, noise: noise, sampleKeys: keys)
                    : try sampler.generate(prompts: inputs, config: d, noise: noise, sampleKeys: keys)
                for (j, i) in batch.enumerated() {
                    let answer = out.answers[j]
                    let text = g.kind == .infill ? generator.decode(answer) : generator.decodeAnswer(answer)
                    results[i] = Result(text: text, tokens: answer, stats: out.stats)
                }
            }
        }
        return results.map { $0! }
    }
}

/// Applies `--threads`, refusing a count the thread pools cannot take (0, negative, absurd)
/// with an error naming the option, instead of trapping in `ComputeThreads.set`.
func setComputeThreads(_ n: Int) throws {
    guard (1...4096).contains(n) else { throw ValidationError("--threads \(n): must be between 1 and 4096") }
    ComputeThreads.set(n)
}
