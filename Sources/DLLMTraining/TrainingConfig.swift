import DLLMModels
import DLLMConfig
import DLLMModels
import Foundation

/// One flat training configuration, with Hugging Face `TrainingArguments` and dLLM
/// names, so the LLaDA tutorial's YAML files work with only their paths changed.
/// Defaults follow `transformers.TrainingArguments` and dLLM's `MDLMConfig`.
public struct TrainingConfig: Codable, Sendable, Equatable {
    // Model and data (dLLM's ModelArguments / DataArguments)
    public var modelNameOrPath: String
    public var tokenizerNameOrPath: String?
    public var datasetArgs: String
    public var textField: String = "text"
    public var maxLength: Int = 512
    public var insertEos: Bool = true
    public var dropTail: Bool = true
    public var randomLengthRatio: Double = 0
    public var loadPreprocessedData: Bool = false
    public var maskPromptLoss: Bool = true
    public var truncation: String = "right"
    public var task: String = "pt"

    // TrainingArguments
    public var outputDir: String
    public var runName: String?
    public var learningRate: Double = 5e-5
    public var lrSchedulerType: String = "linear"
    public var warmupSteps: Int = 0
    public var warmupRatio: Double = 0
    public var maxSteps: Int = -1
    public var numTrainEpochs: Double = 3
    public var perDeviceTrainBatchSize: Int = 8
    public var perDeviceEvalBatchSize: Int = 8
    public var gradientAccumulationSteps: Int = 1
    public var weightDecay: Double = 0
    public var adamBeta1: Double = 0.9
    public var adamBeta2: Double = 0.999
    public var adamEpsilon: Double = 1e-8
    public var maxGradNorm: Double = 1
    public var loggingSteps: Double = 500
    public var evalStrategy: String = "no"
    public var evalSteps: Double?
    public var saveStrategy: String = "steps"
    public var saveSteps: Double = 500
    public var saveTotalLimit: Int?
    public var seed: Int = 42
    public var reportTo: [String] = ["none"]
    public var resumeFromCheckpoint: String?
    public var skipNonfiniteSteps: Bool = false
    /// HF `gradient_checkpointing`: recompute each block's activations in backward instead of keeping them.
    public var gradientCheckpointing: Bool = false
    /// HF `bf16`: matrix products in bfloat16 with float32 accumulation, everything else in float32
    /// (PyTorch CPU autocast; docs/mixed-precision.md).
    public var bf16: Bool = false
    /// Where bf16 came from when accelerate's `mixed_precision` turned it on rather than this
    /// config's `bf16` (set by `dllm train` from the launch config or `ACCELERATE_MIXED_PRECISION`);
    /// a model without bfloat16 products then trains in float32 with a notice instead of an error.
    public var bf16FromMixedPrecision: String?

    // The objective (dLLM's MDLMConfig and an autoregressive baseline)
    public var objective: String = "mdlm"
    public var timeEpsilon: Double = 1e-3
    /// `scheduler`, `uniform`, or Dream's `cart` (dLLM's spelling `cart[geo_p:0.3]` is read too).
    public var lossWeightType: String = "scheduler"
    /// The geometric distribution's `p` of `loss_weight_type: cart` (dLLM `DreamConfig`'s `geo_p`).
    public var cartGeoP: Double?
    public var lossNormType: String = "token"
    public var maskTokenId: Int?
    /// dLLM `MDLMConfig.right_shift_logits` (objective `mdlm`): logit i − 1 predicts token i, BOS prepended.
    public var rightShiftLogits: Bool = false
    /// DiffuLLaMA `DiffusionArguments.shift` (objective `diffullama`): logit i − 1 predicts token i.
    public var shift: Bool = false
    /// DiffuLLaMA `DiffusionArguments.anneal_steps` (objective `diffullama`): attention-mask annealing length.
    public var annealSteps: Int = 10_000
    /// dLLM `scheduler_cls` (objective `editflow`): the κ schedule, `CubicKappaScheduler` (default),
    /// `LinearKappaScheduler` or `CosineKappaScheduler` (or `cubic`, `linear`, `cosine`).
    public var schedulerCls: String = "CubicKappaScheduler"
    /// dLLM `x0_sampler` (objective `editflow`): `masks[length:N]` or `empty`.
    public var x0Sampler: String = "masks[length:64]"
    /// dLLM `EditFlowConfig.normalize_per_position` (objective `editflow`): divide by len(x1).
    public var normalizePerPosition: Bool = true
    /// dLLM `EditFlowConfig.max_w` (objective `editflow`): the clamp of κ′/(1 − κ); 0 disables it.
    public var maxW: Double = 20
    /// dLLM `BD3LMConfig.block_size` (objective `bd3lm`).
    public var blockSize: Int = 32
    /// Objective `bd3lm`: draw one mask rate per block (bd3lms `_sample_t`, antithetic, in
    /// [`eps_min`, `eps_max`]) instead of one per sequence (dLLM).
    public var noisePerBlock: Bool = false
    /// bd3lms `sampling_eps_min`/`sampling_eps_max` (objective `bd3lm` with `noise_per_block`).
    public var epsMin: Double = 1e-3
    public var epsMax: Double = 1

    /// `lora: true` and PEFT's `LoraConfig` keys (`r`, `lora_alpha`, …; see TrainingConfig+LoRA.swift):
    /// nil trains every parameter.
    public var lora: LoRAConfiguration?

    /// `load_in_4bit: true` / `base_quantization`: the LoRA base kept quantised (TrainingConfig+QuantizedBase.swift); nil keeps it fp32.
    public var baseQuantization: BaseQuantization?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case modelNameOrPath = "model_name_or_path", tokenizerNameOrPath = "tokenizer_name_or_path"
        case datasetArgs = "dataset_args", textField = "text_field"
        case maxLength = "max_length", insertEos = "insert_eos", dropTail = "drop_tail"
        case randomLengthRatio = "random_length_ratio", loadPreprocessedData = "load_preprocessed_data"
        case maskPromptLoss = "mask_prompt_loss", truncation, task
        case outputDir = "output_dir", runName = "run_name", learningRate = "learning_rate"
        case lrSchedulerType = "lr_scheduler_type", warmupSteps = "warmup_steps", warmupRatio = "warmup_ratio"
        case maxSteps = "max_steps", numTrainEpochs = "num_train_epochs"
        case perDeviceTrainBatchSize = "per_device_train_batch_size", perDeviceEvalBatchSize = "per_device_eval_batch_size"
        case gradientAccumulationSteps = "gradient_accumulation_steps", weightDecay = "weight_decay"
        case adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2", adamEpsilon = "adam_epsilon"
        case maxGradNorm = "max_grad_norm", loggingSteps = "logging_steps", evalStrategy = "eval_strategy"
        case evalSteps = "eval_steps", saveStrategy = "save_strategy", saveSteps = "save_steps"
        case saveTotalLimit = "save_total_limit", seed, reportTo = "report_to"
        case resumeFromCheckpoint = "resume_from_checkpoint", skipNonfiniteSteps = "skip_nonfinite_steps"
        case gradientCheckpointing = "gradient_checkpointing", bf16
        case objective, timeEpsilon = "time_epsilon", lossWeightType = "loss_weight_type"
        case lossNormType = "loss_norm_type", maskTokenId = "mask_token_id"
        case rightShiftLogits = "right_shift_logits", shift, annealSteps = "anneal_steps"
        case cartGeoP = "cart_geo_p"
        case schedulerCls = "scheduler_cls", x0Sampler = "x0_sampler", normalizePerPosition = "normalize_per_position", maxW = "max_w"
        case blockSize = "block_size", noisePerBlock = "noise_per_block", epsMin = "eps_min", epsMax = "eps_max"
    }

    public static var knownKeys: Set<String> { Set(CodingKeys.allCases.map(\.rawValue)).union(loraKeys).union(quantizedBaseKeys) }

    public init(modelNameOrPath: String, datasetArgs: String, outputDir: String) {
        self.modelNameOrPath = modelNameOrPath
        self.datasetArgs = datasetArgs
        self.outputDir = outputDir
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func v<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        modelNameOrPath = try c.decode(String.self, forKey: .modelNameOrPath)
        tokenizerNameOrPath = try c.decodeIfPresent(String.self, forKey: .tokenizerNameOrPath)
        datasetArgs = try c.decode(String.self, forKey: .datasetArgs)
        outputDir = try c.decode(String.self, forKey: .outputDir)
        let d = TrainingConfig(modelNameOrPath: "", datasetArgs: "", outputDir: "")
        textField = try v(.textField, d.textField); maxLength = try v(.maxLength, d.maxLength)
        insertEos = try v(.insertEos, d.insertEos); dropTail = try v(.dropTail, d.dropTail)
        randomLengthRatio = try v(.randomLengthRatio, d.randomLengthRatio)
        loadPreprocessedData = try v(.loadPreprocessedData, d.loadPreprocessedData)
        maskPromptLoss = try v(.maskPromptLoss, d.maskPromptLoss); truncation = try v(.truncation, d.truncation)
        task = try v(.task, d.task)
        runName = try c.decodeIfPresent(String.self, forKey: .runName)
        learningRate = try v(.learningRate, d.learningRate); lrSchedulerType = try v(.lrSchedulerType, d.lrSchedulerType)
        warmupSteps = try v(.warmupSteps, d.warmupSteps); warmupRatio = try v(.warmupRatio, d.warmupRatio)
        maxSteps = try v(.maxSteps, d.maxSteps); numTrainEpochs = try v(.numTrainEpochs, d.numTrainEpochs)
        perDeviceTrainBatchSize = try v(.perDeviceTrainBatchSize, d.perDeviceTrainBatchSize)
        perDeviceEvalBatchSize = try v(.perDeviceEvalBatchSize, d.perDeviceEvalBatchSize)
        gradientAccumulationSteps = try v(.gradientAccumulationSteps, d.gradientAccumulationSteps)
        weightDecay = try v(.weightDecay, d.weightDecay)
        adamBeta1 = try v(.adamBeta1, d.adamBeta1); adamBeta2 = try v(.adamBeta2, d.adamBeta2)
        adamEpsilon = try v(.adamEpsilon, d.adamEpsilon); maxGradNorm = try v(.maxGradNorm, d.maxGradNorm)
        loggingSteps = try v(.loggingSteps, d.loggingSteps); evalStrategy = try v(.evalStrategy, d.evalStrategy)
        evalSteps = try c.decodeIfPresent(Double.self, forKey: .evalSteps)
        saveStrategy = try v(.saveStrategy, d.saveStrategy); saveSteps = try v(.saveSteps, d.saveSteps)
        saveTotalLimit = try c.decodeIfPresent(Int.self, forKey: .saveTotalLimit)
        seed = try v(.seed, d.seed)
        if let list = try? c.decodeIfPresent([String].self, forKey: .reportTo) {
            reportTo = list
        } else {
            reportTo = [try v(.reportTo, "none")]
        }
        // `resume_from_checkpoint: true` means the latest checkpoint, as in HF.
        if let flag = try? c.decodeIfPresent(Bool.self, forKey: .resumeFromCheckpoint) {
            resumeFromCheckpoint = flag ? "latest" : nil
        } else {
            resumeFromCheckpoint = try c.decodeIfPresent(String.self, forKey: .resumeFromCheckpoint)
        }
        skipNonfiniteSteps = try v(.skipNonfiniteSteps, d.skipNonfiniteSteps)
        gradientCheckpointing = try v(.gradientCheckpointing, d.gradientCheckpointing)
        bf16 = try v(.bf16, d.bf16)
        objective = try v(.objective, d.objective); timeEpsilon = try v(.timeEpsilon, d.timeEpsilon)
        lossWeightType = try v(.lossWeightType, d.lossWeightType); lossNormType = try v(.lossNormType, d.lossNormType)
        maskTokenId = try c.decodeIfPresent(Int.self, forKey: .maskTokenId)
        rightShiftLogits = try v(.rightShiftLogits, d.rightShiftLogits); shift = try v(.shift, d.shift)
        annealSteps = try v(.annealSteps, d.annealSteps)
        cartGeoP = try c.decodeIfPresent(Double.self, forKey: .cartGeoP)
        schedulerCls = try v(.schedulerCls, d.schedulerCls); x0Sampler = try v(.x0Sampler, d.x0Sampler)
        normalizePerPosition = try v(.normalizePerPosition, d.normalizePerPosition); maxW = try v(.maxW, d.maxW)
        blockSize = try v(.blockSize, d.blockSize); noisePerBlock = try v(.noisePerBlock, d.noisePerBlock)
        epsMin = try v(.epsMin, d.epsMin); epsMax = try v(.epsMax, d.epsMax)
        lora = try Self.decodeLoRA(from: decoder)
        baseQuantization = try Self.decodeBaseQuantization(from: decoder)
    }

    /// The `cart` weighting's `p`: `cart_geo_p`, else the `geo_p:` of dLLM's `cart[geo_p:0.3]`
    /// spelling, else dLLM's default 0.3; nil when `loss_weight_type` is not `cart`.
    public var cartGeometricP: Double? {
        guard lossWeightType.hasPrefix("cart") else { return nil }
        if let p = cartGeoP { return p }
        if let range = lossWeightType.range(of: "geo_p:") {
            return Double(lossWeightType[range.upperBound...].prefix { "0123456789.eE-".contains($0) })
        }
        return 0.3
    }
}

extension TrainingConfig {
    /// Loads `path`, applies `--key value` overrides and validates every value,
    /// before any work starts. Returns the config and the ignored keys, each with its
    /// reason (`ignoredKeyReasons`), for one notice; a key asking for an unavailable
    /// feature is refused (`unavailableFeatureKeys`).
    public static func load(path: String, overrides: [String] = []) throws -> (config: TrainingConfig, ignored: [String]) {
        var file = try FlatYAMLConfig(contentsOf: path)
        let ignorable = Set(ignoredKeyReasons.keys)
        try file.validateKeys(known: acceptedKeys.subtracting(ignorable), ignored: ignorable)
        let overrideList = try FlatYAMLConfig.parseOverrides(overrides)
        try file.applyOverrides(overrideList.filter { !ignorable.contains($0.key) }, known: acceptedKeys)
        try refuseUnavailableFeatures(in: file)
        let config = try file.decode(TrainingConfig.self)
        try config.validate(file: file)
        let ignored = file.ignored.map(\.key) + overrideList.map(\.key).filter(ignorable.contains)
        return (config, ignored.map { "\($0) (\(ignoredKeyReasons[$0]!))" })
    }

    /// Rejects impossible values, naming the key and its line.
    func validate(file: FlatYAMLConfig) throws {
        func fail(_ key: CodingKeys, _ message: String) -> ConfigError {
            ConfigError(file: file.source(of: key.rawValue), line: file.line(of: key.rawValue), key: key.rawValue, message)
        }
        func oneOf(_ key: CodingKeys, _ value: String, _ allowed: [String]) throws {
            if !allowed.contains(value) { throw fail(key, "\"\(value)\" is not one of \(allowed.joined(separator: ", "))") }
        }
        // NaN passes every ordered comparison's negation, so finiteness is checked first.
        for (key, value) in [(CodingKeys.learningRate, learningRate), (.warmupRatio, warmupRatio), (.numTrainEpochs, numTrainEpochs),
                             (.weightDecay, weightDecay), (.adamBeta1, adamBeta1), (.adamBeta2, adamBeta2), (.adamEpsilon, adamEpsilon),
                             (.maxGradNorm, maxGradNorm), (.loggingSteps, loggingSteps), (.saveSteps, saveSteps),
                             (.randomLengthRatio, randomLengthRatio), (.timeEpsilon, timeEpsilon), (.evalSteps, evalSteps ?? 1), (.maxW, maxW),
                             (.epsMin, epsMin), (.epsMax, epsMax)]
            where !value.isFinite {
            throw fail(key, "\(value) is not a finite number")
        }
        if learningRate <= 0 { throw fail(.learningRate, "must be positive") }
        if maxLength < 2 { throw fail(.maxLength, "must be at least 2") }
        if perDeviceTrainBatchSize < 1 { throw fail(.perDeviceTrainBatchSize, "must be at least 1") }
        if perDeviceEvalBatchSize < 1 { throw fail(.perDeviceEvalBatchSize, "must be at least 1") }
        if gradientAccumulationSteps < 1 { throw fail(.gradientAccumulationSteps, "must be at least 1") }
        if maxSteps == 0 || maxSteps < -1 { throw fail(.maxSteps, "must be positive, or -1 to train num_train_epochs") }
        if maxSteps < 0 && numTrainEpochs <= 0 { throw fail(.numTrainEpochs, "must be positive when max_steps is -1") }
        if warmupSteps < 0 { throw fail(.warmupSteps, "must not be negative") }
        if !(0...1).contains(warmupRatio) { throw fail(.warmupRatio, "must be in [0, 1]") }
        if weightDecay < 0 { throw fail(.weightDecay, "must not be negative") }
        if !(0..<1).contains(adamBeta1) { throw fail(.adamBeta1, "must be in [0, 1)") }
        if !(0..<1).contains(adamBeta2) { throw fail(.adamBeta2, "must be in [0, 1)") }
        if adamEpsilon <= 0 { throw fail(.adamEpsilon, "must be positive") }
        if maxGradNorm < 0 { throw fail(.maxGradNorm, "must not be negative (0 disables clipping)") }
        if !(0...1).contains(randomLengthRatio) { throw fail(.randomLengthRatio, "must be in [0, 1]") }
        if !(timeEpsilon > 0 && timeEpsilon < 1) { throw fail(.timeEpsilon, "must be in the open interval (0, 1)") }
        if loggingSteps <= 0 { throw fail(.loggingSteps, "must be positive") }
        if saveSteps <= 0 { throw fail(.saveSteps, "must be positive") }
        if let e = evalSteps, e <= 0 { throw fail(.evalSteps, "must be positive") }
        if let limit = saveTotalLimit, limit < 1 { throw fail(.saveTotalLimit, "must be at least 1") }
        try oneOf(.lrSchedulerType, lrSchedulerType, LearningRateSchedule.Kind.allCases.map(\.rawValue))
        try oneOf(.evalStrategy, evalStrategy, ["no", "steps", "epoch"])
        try oneOf(.saveStrategy, saveStrategy, ["no", "steps", "epoch"])
        try oneOf(.objective, objective, ["mdlm", "ar", "diffullama", "editflow", "bd3lm"])
        if KappaSchedule(dLLMName: schedulerCls) == nil {
            throw fail(.schedulerCls, "\"\(schedulerCls)\" is not one of CubicKappaScheduler, LinearKappaScheduler, CosineKappaScheduler (or cubic, linear, cosine)")
        }
        if EditFlowObjective.Source(spec: x0Sampler) == nil { throw fail(.x0Sampler, "\"\(x0Sampler)\" is neither empty nor masks[length:N]") }
        if maxW < 0 { throw fail(.maxW, "must not be negative (0 disables the clamp)") }
        if blockSize < 1 { throw fail(.blockSize, "must be at least 1") }
        if !(epsMin > 0 && epsMin <= 1) { throw fail(.epsMin, "must be in (0, 1]") }
        if !(epsMax >= epsMin && epsMax <= 1) { throw fail(.epsMax, "must be in [eps_min, 1]") }
        if annealSteps < 1 { throw fail(.annealSteps, "must be at least 1 (1 = bidirectional from the first step)") }
        try validateRecipeKeys(file: file, fail: fail)
        try validateLoRA(file: file)
        try validateBaseQuantization(file: file)
        if lossWeightType.hasPrefix("cart") {
            if lossWeightType != "cart" && !(lossWeightType.hasPrefix("cart[geo_p:") && lossWeightType.hasSuffix("]")) {
                throw fail(.lossWeightType, "\"\(lossWeightType)\" should be cart (p from cart_geo_p) or cart[geo_p:P] as dLLM spells it")
            }
            guard let p = cartGeometricP, p > 0, p < 1 else {
                throw fail(cartGeoP != nil ? .cartGeoP : .lossWeightType, "the geometric parameter of cart must be a number in the open interval (0, 1)")
            }
            if objective != "mdlm" { throw fail(.lossWeightType, "cart weights masked tokens: it needs objective mdlm") }
            if cartGeoP != nil && lossWeightType != "cart" {
                throw fail(.cartGeoP, "given twice: remove cart_geo_p or the geo_p in loss_weight_type")
            }
        } else {
            try oneOf(.lossWeightType, lossWeightType, ["scheduler", "uniform"])
            if cartGeoP != nil { throw fail(.cartGeoP, "applies only to loss_weight_type: cart") }
        }
        try oneOf(.lossNormType, lossNormType, ["token", "sequence", "batch"])
        try oneOf(.truncation, truncation, ["right", "filter"])
        try oneOf(.task, task, ["pt", "sft"])
        for r in reportTo {
            if r == "tensorboard" || r == "wandb" {
                throw fail(.reportTo, "\"\(r)\" is not available: dllm reports to its telemetry collector (report_to: dllm, or all; see docs/telemetry.md), or none")
            }
            try oneOf(.reportTo, r, ["none", "dllm", "all"])
        }
        if modelNameOrPath.isEmpty { throw fail(.modelNameOrPath, "must name a model folder") }
        if outputDir.isEmpty { throw fail(.outputDir, "must name a folder") }
    }

    /// Each recipe's keys belong to it alone: a key another objective reads is refused
    /// rather than silently ignored (docs/objectives.md, "Adapting an autoregressive model").
    func validateRecipeKeys(file: FlatYAMLConfig, fail: (CodingKeys, String) -> ConfigError) throws {
        let present = Set(file.keys)
        let owners: [(key: CodingKeys, objectives: [String], hint: String)] = [
            (.rightShiftLogits, ["mdlm"], "; objective diffullama spells it shift"),
            (.shift, ["diffullama"], "; objective mdlm spells it right_shift_logits"),
            (.annealSteps, ["diffullama"], ""),
            (.lossWeightType, ["mdlm", "ar", "bd3lm"], "; objective diffullama always weights by 1/t"),
            (.cartGeoP, ["mdlm"], ""),
            (.lossNormType, ["mdlm", "ar", "bd3lm"], "; objective diffullama always divides by the masked tokens"),
            (.blockSize, ["bd3lm"], ""),
            (.noisePerBlock, ["bd3lm"], ""),
            (.epsMin, ["bd3lm"], "; set noise_per_block: true with it"),
            (.epsMax, ["bd3lm"], "; set noise_per_block: true with it"),
            (.schedulerCls, ["editflow"], ""), (.x0Sampler, ["editflow"], ""),
            (.normalizePerPosition, ["editflow"], ""), (.maxW, ["editflow"], ""),
        ]
        for owner in owners where present.contains(owner.key.rawValue) && !owner.objectives.contains(objective) {
            throw fail(owner.key, "does not apply to objective \(objective) (only \(owner.objectives.joined(separator: ", ")))\(owner.hint)")
        }
    }

    /// HF semantics: a value below 1 is a fraction of the total steps.
    public static func resolveInterval(_ value: Double, totalSteps: Int) -> Int {
        value < 1 ? max(1, Int((value * Double(totalSteps)).rounded(.up))) : Int(value)
    }
}
