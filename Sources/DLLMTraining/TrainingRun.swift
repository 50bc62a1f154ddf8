import DLLMCompute
import DLLMData
import DLLMDistributed
import DLLMModels
import DLLMTokenizers
import Foundation

/// Builds everything a `dllm train` run needs from its config, the way dLLM's
/// `pt.py`/`sft.py` do: the model folder (weights, or config-only for random
/// initialisation), its tokenizer, the dataset (raw text through
/// `tokenize_and_group`, SFT rows through the chat template, or prepared token
/// shards), this rank's batches and the objective.
public enum TrainingRun {
    /// - Parameters:
    ///   - comm: the ranks; nil for a single process (`SingleProcessStrategy`).
    ///   - parallel: the sharding strategy when `comm` is given (DDP if nil).
    public static func makeTrainer(_ config: TrainingConfig, comm: Communicator? = nil, parallel: ParallelPlan? = nil,
                                   log: @escaping (String) -> Void) throws -> Trainer {
        let rank = comm?.rank ?? 0, worldSize = comm?.worldSize ?? 1
        let loaded = try loadModel(config)
        log("model: \(config.modelNameOrPath) (\(loaded.model.parameterCount) parameters\(loaded.randomlyInitialized ? ", randomly initialised, seed \(config.seed)" : ""))")
        if config.maxLength > loaded.model.maxPositions {
            throw TrainingError.configuration("max_length \(config.maxLength) exceeds the \(loaded.model.maxPositions) positions of \(config.modelNameOrPath) "
                + "(max_sequence_length / max_position_embeddings / n_positions in its config.json)")
        }
        if config.gradientCheckpointing {
            guard loaded.model.supportsGradientCheckpointing else {
                throw TrainingError.configuration("gradient_checkpointing: true: \(config.modelNameOrPath) is a \(loaded.model.architecture.modelType) model, "
                    + "which has no activation checkpointing; remove the key or set it false")
            }
            loaded.model.setGradientCheckpointing(true)
            log("gradient checkpointing: each block is recomputed in backward")
        }
        if config.bf16 {
            if let source = config.bf16FromMixedPrecision { log("bf16 from \(source)") }
            guard loaded.model.supportsBF16Matmuls else {
                throw TrainingError.configuration("bf16: true: \(config.modelNameOrPath) is a \(loaded.model.architecture.modelType) model, "
                    + "which has no bfloat16 matrix products; remove the key or set it false")
            }
            loaded.model.setBF16Matmuls(true)
            if BFloat16Matmul.isAvailable {
                log("bf16: linear layers, the LM head and attention's products multiply in bfloat16 with float32 accumulation "
                    + "(\(BFloat16Matmul.kernelName)); weights, AdamW state, norms, softmax and the loss stay float32")
            } else {
                log("bf16: this CPU has no AVX512_BF16, so the products compute in float32 (OpenBLAS sgemm) over inputs rounded "
                    + "to bfloat16 as the kernel rounds them (only the float32 sums' order differs); the step is slower than "
                    + "float32's (bf16: false is faster here)")
            }
        }
        let tokenizer = try loadTokenizer(config, gguf: loaded.gguf)
        guard let pad = tokenizer.effectivePadTokenID else {
            throw TrainingError.noData("\(tokenizer.path): the tokenizer names no EOS or pad token (tokenizer_config.json eos_token)")
        }

        let objective: Objective
        var maskID: Int?
        if config.objective == "ar" {
            objective = AutoregressiveObjective()
        } else if config.objective == "editflow" {
            let made = try editFlowObjective(config, architecture: loaded.model.architecture, maxPositions: loaded.model.maxPositions,
                                              tokenizer: tokenizer, padTokenID: pad)
            objective = made.objective
            maskID = made.maskTokenID
        } else {
            let fromModel = loaded.model.architecture.maskTokenID
            guard let mask = config.maskTokenId ?? fromModel ?? tokenizer.maskTokenID.map(Int.init) else {
                throw TrainingError.noMaskToken(model: config.modelNameOrPath)
            }
            maskID = mask
            if config.objective == "bd3lm" {
                objective = try blockDiffusionObjective(config, maskTokenID: Int32(mask), eosTokenID: tokenizer.eosTokenID,
                                                        maxPositions: loaded.model.maxPositions)
            } else {
                objective = try maskedDiffusionObjective(config, maskTokenID: Int32(mask), bosTokenID: tokenizer.bosTokenID,
                                                         maxPositions: loaded.model.maxPositions)
            }
        }

        let plan = BatchPlan(perDeviceBatchSize: config.perDeviceTrainBatchSize, worldSize: worldSize,
                             gradientAccumulationSteps: config.gradientAccumulationSteps, seed: UInt64(config.seed))
        let truncation = config.randomLengthRatio > 0 ? RandomLengthTruncation(ratio: config.randomLengthRatio, seed: UInt64(config.seed)) : nil
        let data: TrainingDataSource
        var evalBatches: [CleanBatch] = []
        var sources: [(name: String, source: any ExampleSource)] = []
        if config.task == "sft" {
            let collator = BatchCollator.llada(padTokenID: pad)
            let splits = try DataPipelines.sft(spec: config.datasetArgs, tokenizer: tokenizer, maxLength: config.maxLength,
                                               truncation: SFTTruncation(rawValue: config.truncation)!,
                                               maskPromptLoss: config.maskPromptLoss, preprocessed: config.loadPreprocessedData)
            guard let train = splits["train"] else { throw TrainingError.noData("\(config.datasetArgs): no train split") }
            log("data: \(train.examples.count) SFT examples")
            sources = [("\(config.datasetArgs) (train)", train.examples)] + (splits["test"].map { [("\(config.datasetArgs) (test)", $0.examples)] } ?? [])
            data = LoaderDataSource(loader: try TokenBatchLoader(source: train.examples, plan: plan, rank: rank, collator: collator,
                                                                 randomTruncation: truncation),
                                    gradientAccumulationSteps: config.gradientAccumulationSteps)
            if let test = splits["test"] { evalBatches = try evaluationBatches(test.examples, batchSize: config.perDeviceEvalBatchSize, collator: collator) }
        } else if config.loadPreprocessedData {
            let collator = BatchCollator.pretraining(padTokenID: pad)
            let train = try ShardedTokenDataset(directory: config.datasetArgs, split: "train")
            log("data: \(train.count) prepared sequences from \(config.datasetArgs)")
            sources = [("\(config.datasetArgs) (train shards)", train)]
            data = LoaderDataSource(loader: try TokenBatchLoader(source: train, plan: plan, rank: rank, collator: collator,
                                                                 randomTruncation: truncation),
                                    gradientAccumulationSteps: config.gradientAccumulationSteps)
            if let test = try? ShardedTokenDataset(directory: config.datasetArgs, split: "test") {
                evalBatches = try evaluationBatches(test, batchSize: config.perDeviceEvalBatchSize, collator: collator)
                sources.append(("\(config.datasetArgs) (test shards)", test))
            }
        } else {
            let collator = BatchCollator.pretraining(padTokenID: pad)
            let options = GroupingOptions(sequenceLength: config.maxLength, textField: config.textField,
                                          insertEOS: config.insertEos, dropTail: config.dropTail)
            let splits = try DataPipelines.pretraining(spec: config.datasetArgs, tokenizer: tokenizer, options: options)
            guard let train = splits["train"] else { throw TrainingError.noData("\(config.datasetArgs): no train split") }
            log("data: \(train.sequences.count) sequences of \(config.maxLength) tokens (\(train.stats.documents) documents)")
            sources = [("\(config.datasetArgs) (train)", train.sequences)] + (splits["test"].map { [("\(config.datasetArgs) (test)", $0.sequences)] } ?? [])
            data = LoaderDataSource(loader: try TokenBatchLoader(source: train.sequences, plan: plan, rank: rank, collator: collator,
                                                                 randomTruncation: truncation),
                                    gradientAccumulationSteps: config.gradientAccumulationSteps)
            if let test = splits["test"] {
                evalBatches = try evaluationBatches(test.sequences, batchSize: config.perDeviceEvalBatchSize, collator: collator)
            }
        }
        try VocabularyCheck.check(modelVocabulary: loaded.model.vocabularySize, model: config.modelNameOrPath, tokenizer: tokenizer,
                                  maskTokenID: maskID, sources: sources)
        let model = try LoRATraining.wrap(loaded.model, options: config.lora, seed: UInt64(config.seed),
                                           baseQuantization: config.effectiveBaseQuantization, log: log)
        let strategy = ParallelStrategies.make(model: model, comm: comm ?? SingleProcessCommunicator(),
                                               plan: comm == nil ? nil : parallel ?? ParallelPlan(stage: .ddp))
        if comm != nil {
            let memory = strategy.memoryReport()
            log("parallel: \(strategy.name) over \(strategy.worldSize) ranks; per rank: parameters \(memory.parameters) B, "
                + "gradients \(memory.gradients) B, optimizer state \(memory.optimizerState) B, transient \(memory.transient) B")
        }
        return Trainer(config: config, model: model, modelConfig: loaded.config, objective: objective, data: data,
                       evalBatches: evalBatches, tokenizerFiles: tokenizer.files, strategy: strategy, log: log)
    }

    /// `objective: mdlm` (dLLM's MDLM, optionally `right_shift_logits`) or `objective: diffullama`
    /// (DiffuLLaMA: `shift`, `anneal_steps`, 1/t weights over the masked tokens).
    static func maskedDiffusionObjective(_ config: TrainingConfig, maskTokenID: Int32, bosTokenID: Int32?,
                                         maxPositions: Int) throws -> MaskedDiffusionObjective {
        if config.objective == "diffullama" {
            return .diffuLLaMA(maskTokenID: maskTokenID, shift: config.shift, annealSteps: config.annealSteps,
                               timeEpsilon: config.timeEpsilon)
        }
        var bos: Int32? = nil
        if config.rightShiftLogits {
            guard let id = bosTokenID else {
                throw TrainingError.configuration("right_shift_logits: \(config.tokenizerNameOrPath ?? config.modelNameOrPath) names no bos_token "
                    + "(dLLM prepends BOS so that the first token has a logit to be predicted from)")
            }
            if config.maxLength + 1 > maxPositions {
                throw TrainingError.configuration("right_shift_logits: max_length \(config.maxLength) plus the prepended BOS exceeds the model's \(maxPositions) positions")
            }
            bos = id
        }
        return MaskedDiffusionObjective(
            maskTokenID: maskTokenID, timeEpsilon: config.timeEpsilon,
            weighting: config.cartGeometricP == nil ? MaskedDiffusionObjective.Weighting(rawValue: config.lossWeightType)! : .cart,
            normalization: MaskedDiffusionObjective.Normalization(rawValue: config.lossNormType)!,
            shift: config.rightShiftLogits, bosTokenID: bos, cartGeometricP: config.cartGeometricP ?? 0.3)
    }

    /// `objective: bd3lm` (dLLM's BD3LM): `block_size`, EOS padding to whole blocks, MDLM's weights
    /// and normalisations; `noise_per_block` draws bd3lms' clipped per-block rates.
    static func blockDiffusionObjective(_ config: TrainingConfig, maskTokenID: Int32, eosTokenID: Int32?,
                                        maxPositions: Int) throws -> BlockDiffusionObjective {
        guard let eos = eosTokenID else {
            throw TrainingError.configuration("objective bd3lm: \(config.tokenizerNameOrPath ?? config.modelNameOrPath) names no eos_token "
                + "(dLLM pads every sequence with EOS to a whole number of blocks)")
        }
        let padded = (config.maxLength + config.blockSize - 1) / config.blockSize * config.blockSize
        if padded > maxPositions {
            throw TrainingError.configuration("block_size: max_length \(config.maxLength) padded to whole blocks of \(config.blockSize) "
                + "is \(padded) positions, beyond the model's \(maxPositions)")
        }
        return BlockDiffusionObjective(
            maskTokenID: maskTokenID, eosTokenID: eos, blockSize: config.blockSize, timeEpsilon: config.timeEpsilon,
            weighting: MaskedDiffusionObjective.Weighting(rawValue: config.lossWeightType)!,
            normalization: MaskedDiffusionObjective.Normalization(rawValue: config.lossNormType)!,
            noise: config.noisePerBlock ? .block(epsMin: config.epsMin, epsMax: config.epsMax) : .sequence)
    }
}
