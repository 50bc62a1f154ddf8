import DLLMCheckpoint
import DLLMCompute
import DLLMDistributed
import DLLMModels
import DLLMOptim
import Foundation

/// Where training batches come from: this rank's micro-batches of every global
/// batch, in a deterministic order that can be saved and restored.
public protocol TrainingDataSource: AnyObject {
    /// The next micro-batch, continuing into the next epoch at the end of one.
    func nextMicroBatch() throws -> CleanBatch
    /// Epochs seen, fractional.
    var epoch: Double { get }
    /// Micro-batches in one epoch for this rank.
    var microBatchesPerEpoch: Int { get }
    func position() throws -> Data
    func restore(_ position: Data) throws
}

/// The single-process training loop of dLLM's `pt.py`/`sft.py` on top of HF's
/// `Trainer`: gradient accumulation, warm-up plus schedule, global-norm clipping,
/// AdamW, periodic logging, evaluation and checkpoints, resume.
public final class Trainer {
    public let config: TrainingConfig
    public let model: any LanguageModel<Float>
    public let modelConfig: [String: Any]
    public let objective: Objective
    public let data: TrainingDataSource
    public let evalBatches: [CleanBatch]
    public let tokenizerFiles: [URL]
    public let checkpoints: CheckpointManager
    public var state = TrainerState()
    public let log: (String) -> Void
    /// Called after every optimizer step (telemetry hooks in here).
    public var onStep: ((StepReport) -> Void)?
    /// Called after a checkpoint folder is written: (global step, folder).
    public var onCheckpoint: ((Int, URL) -> Void)?
    /// Called after an evaluation: (global step, eval loss).
    public var onEval: ((Int, Double) -> Void)?
    /// Called with each warning the loop logs (e.g. a skipped non-finite step).
    public var onWarning: ((String) -> Void)?
    /// Set from a signal handler (through `stopRequest`, which is `Sendable`): finish the
    /// current step, save, and stop.
    public let stopRequest = StopRequest()
    public var stopRequested: Bool {
        get { stopRequest.isRequested }
        set { stopRequest.isRequested = newValue }
    }
    /// How this rank takes part in each step: a single process, or DDP, ZeRO-1/2 or
    /// FSDP over several ranks. The loop calls it the same way whichever it is.
    public let strategy: any ParallelStrategy
    var isMainRank: Bool { strategy.rank == 0 }

    public struct StepReport: Sendable {
        public var step: Int, epoch: Double, loss: Double, learningRate: Double, gradNorm: Double
        public var tokens: Int, seconds: Double
        /// Of `seconds`: waiting for batches, and (parallel strategies) in collectives.
        public var dataSeconds = 0.0, communicationSeconds = 0.0
    }

    public init(config: TrainingConfig, model: any LanguageModel<Float>, modelConfig: [String: Any], objective: Objective,
                data: TrainingDataSource, evalBatches: [CleanBatch] = [], tokenizerFiles: [URL] = [],
                strategy: (any ParallelStrategy)? = nil,
                log: @escaping (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) {
        self.strategy = strategy ?? SingleProcessStrategy(model: model)
        self.config = config
        self.model = model
        self.modelConfig = modelConfig
        self.objective = objective
        self.data = data
        self.evalBatches = evalBatches
        self.tokenizerFiles = tokenizerFiles
        self.log = log
        checkpoints = CheckpointManager(outputDirectory: URL(fileURLWithPath: config.outputDir), totalLimit: config.saveTotalLimit)
    }

    /// Optimizer steps the run will take: `max_steps`, or `num_train_epochs` worth of data.
    public var totalSteps: Int {
        if config.maxSteps > 0 { return config.maxSteps }
        let perEpoch = max(1, data.microBatchesPerEpoch / config.gradientAccumulationSteps)
        return max(1, Int((config.numTrainEpochs * Double(perEpoch)).rounded(.up)))
    }

    /// Restores weights, moments, state and data position from a checkpoint folder
    /// (written by any strategy at any world size; each rank reads what it holds).
    public func resume(from url: URL) throws {
        state = try CheckpointManager.loadState(url)
        try strategy.loadState(from: url)
        if let position = state.dataPosition { try data.restore(position) }
        log("resumed from \(url.path) at step \(state.globalStep)")
    }

    /// Runs until `totalSteps` (or a stop request); returns the final state.
    @discardableResult
    public func train() throws -> TrainerState {
        if isMainRank { checkpoints.removeIncompleteSaves() }
        strategy.comm.barrier()
        if let target = config.resumeFromCheckpoint {
            let url = target == "latest" ? checkpoints.latest() : URL(fileURLWithPath: target)
            if let url { try self.resume(from: url) } else { log("resume_from_checkpoint: no checkpoint in \(config.outputDir); starting fresh") }
        }
        let total = totalSteps
        state.totalSteps = total
        state.seed = config.seed
        let warmup = LearningRateSchedule.warmupSteps(steps: config.warmupSteps, ratio: config.warmupRatio, total: total)
        let schedule = LearningRateSchedule(kind: LearningRateSchedule.Kind(rawValue: config.lrSchedulerType)!,
                                            peak: config.learningRate, warmup: warmup, total: total)
        let adam = AdamWConfig(learningRate: config.learningRate, beta1: config.adamBeta1, beta2: config.adamBeta2,
                               epsilon: config.adamEpsilon, weightDecay: config.weightDecay)
        let loggingEvery = TrainingConfig.resolveInterval(config.loggingSteps, totalSteps: total)
        let saveEvery = TrainingConfig.resolveInterval(config.saveSteps, totalSteps: total)
        let evalEvery = TrainingConfig.resolveInterval(config.evalSteps ?? config.loggingSteps, totalSteps: total)
        let progress = ProgressReporter(total: total, interactive: isMainRank && isatty(2) != 0, log: log)
        var window = (loss: 0.0, steps: 0, tokens: 0, seconds: 0.0)

        let failure = Self.injectedFailure(rank: strategy.rank)
        // Every rank stops after the same step: the request is agreed on between steps.
        var stop = strategy.agreeToStop(stopRequested)
        while state.globalStep < total && !stop {
            let step = state.globalStep
            if failure == step + 1 { throw TrainingError.injectedFailure(step: step + 1) }
            let start = DispatchTime.now().uptimeNanoseconds
            strategy.beginStep()
            var loss = 0.0, tokens = 0
            var dataNanoseconds: UInt64 = 0
            let GA = config.gradientAccumulationSteps
            for micro in 0..<GA {
                let fetchStart = DispatchTime.now().uptimeNanoseconds
                let clean = try data.nextMicroBatch()
                dataNanoseconds += DispatchTime.now().uptimeNanoseconds - fetchStart
                let batch = objective.prepare(clean, step: step, seed: UInt64(config.seed))
                strategy.beginMicroBatch(isLast: micro == GA - 1)
                (model as? LoRAModel<Float>)?.setDropoutStream(UInt64(step * GA + micro))
                loss += model.forwardBackward(batch.inputs, mask: batch.mask, targets: batch.targets,
                                              weights: batch.weights, dloss: 1 / Float(GA)) / Double(GA)
                strategy.endMicroBatch()
                tokens += clean.lengths?.reduce(0, +) ?? clean.B * clean.T
            }
            loss = strategy.mean(loss)
            let norm = strategy.gradientNorm()
            if !loss.isFinite || !norm.isFinite {
                guard config.skipNonfiniteSteps else {
                    throw TrainingError.nonFinite(step: step + 1, what: loss.isFinite ? "the gradient norm" : "the loss")
                }
                log("step \(step + 1): non-finite \(loss.isFinite ? "gradient" : "loss"); step skipped")
                onWarning?("step \(step + 1): non-finite \(loss.isFinite ? "gradient" : "loss"); step skipped")
                state.globalStep += 1
                stop = strategy.agreeToStop(stopRequested)
                continue
            }
            let lr = schedule.rate(at: step)
            let clip = config.maxGradNorm > 0 ? GradientClipping.clipCoefficient(norm: norm, maxNorm: config.maxGradNorm) : 1
            strategy.optimizerStep(step: step + 1, learningRate: lr, config: adam, clip: clip)
            state.globalStep = step + 1
            let epochBefore = state.epoch
            state.epoch = data.epoch
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            window.loss += loss; window.steps += 1; window.tokens += tokens; window.seconds += seconds
            onStep?(StepReport(step: state.globalStep, epoch: state.epoch, loss: loss, learningRate: lr, gradNorm: norm,
                               tokens: tokens, seconds: seconds, dataSeconds: Double(dataNanoseconds) / 1e9,
                               communicationSeconds: strategy.stats.waitSeconds))
            progress.update(step: state.globalStep, loss: loss, tokensPerSecond: Double(tokens) / seconds)

            if state.globalStep % loggingEvery == 0 || state.globalStep == total {
                let entry = TrainerState.LogEntry(step: state.globalStep, epoch: state.epoch, loss: window.loss / Double(window.steps),
                                                  learningRate: lr, gradNorm: norm,
                                                  tokensPerSecond: Double(window.tokens) / window.seconds)
                state.logHistory.append(entry)
                progress.log(entry)
                window = (0, 0, 0, 0)
            }
            // HF's IntervalStrategy: "steps" every N optimizer steps, "epoch" when a pass over the data ends.
            let epochEnded = state.epoch.rounded(.down) > epochBefore.rounded(.down)
            let evalNow = config.evalStrategy == "steps" ? state.globalStep % evalEvery == 0 : config.evalStrategy == "epoch" && epochEnded
            let saveNow = config.saveStrategy == "steps" ? state.globalStep % saveEvery == 0 : config.saveStrategy == "epoch" && epochEnded
            if evalNow && !evalBatches.isEmpty {
                let evalLoss = evaluate()
                state.logHistory.append(TrainerState.LogEntry(step: state.globalStep, epoch: state.epoch, evalLoss: evalLoss))
                log(String(format: "step %d: eval_loss %.4f", state.globalStep, evalLoss))
                onEval?(state.globalStep, evalLoss)
            }
            if saveNow && state.globalStep < total {
                try save()
            }
            stop = strategy.agreeToStop(stopRequested)
        }
        if isMainRank && strategy.worldSize > 1 {
            log("collectives: rank 0 sent \(strategy.stats.bytesSent) bytes in \(state.globalStep) steps (\(model.parameterCount) trained parameters)")
        }
        if stop && state.globalStep < total {
            try save()
            log("stopped at step \(state.globalStep) on request; checkpoint written")
        } else {
            if config.saveStrategy != "no" { try save() }
            try save(name: "checkpoint-final")
        }
        progress.finish(step: state.globalStep)
        return state
    }

    /// Fault injection for the failure-handling tests: `DLLM_FAIL_AT_STEP=N` makes rank
    /// `DLLM_FAIL_RANK` (default 0) fail when it reaches step N.
    static func injectedFailure(rank: Int) -> Int? {
        let env = ProcessInfo.processInfo.environment
        guard let step = env["DLLM_FAIL_AT_STEP"].flatMap(Int.init) else { return nil }
        return (env["DLLM_FAIL_RANK"].flatMap(Int.init) ?? 0) == rank ? step : nil
    }

    /// Mean loss over the evaluation batches, with noise fixed across evaluations
    /// (keyed by a reserved step) so successive evaluations are comparable.
    public func evaluate() -> Double {
        // With several ranks each evaluates every W-th batch and the sums are combined.
        // Every rank runs the same number of forwards (FSDP gathers inside them); a rank past
        // the end repeats the first batch without counting it.
        let rank = strategy.rank, world = strategy.worldSize
        let lora = model as? LoRAModel<Float>
        lora?.training = false
        defer { lora?.training = true }
        var total = 0.0, count = 0.0
        let rounds = (evalBatches.count + world - 1) / world
        for round in 0..<rounds {
            let i = round * world + rank
            let clean = evalBatches[i < evalBatches.count ? i : 0]
            let batch = objective.prepare(clean, step: Int(Int32.max), seed: UInt64(config.seed))
            model.forward(batch.inputs, mask: batch.mask)
            let loss = model.loss(targets: batch.targets, weights: batch.weights)
            if i < evalBatches.count { total += loss; count += 1 }
        }
        let sums = strategy.sum([total, count])
        return sums[0] / max(1, sums[1])
    }

    func save(name: String? = nil) throws {
        state.dataPosition = try data.position()
        let url: URL
        do {
            url = try checkpoints.save(strategy: strategy, modelConfig: modelConfig, state: state, trainingConfig: config,
                                       tokenizerFiles: tokenizerFiles, name: name)
        } catch let error as CocoaError {
            throw TrainingError.checkpointWrite(error, checkpoint: name ?? "checkpoint-\(state.globalStep)",
                                                fallbackPath: checkpoints.outputDirectory.path)
        }
        if isMainRank { log("saved \(url.path)") }
        onCheckpoint?(state.globalStep, url)
    }
}
