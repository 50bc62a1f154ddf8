import DLLMCompute
import DLLMModels
import DLLMTokenizers

extension TrainingRun {
    /// `objective: editflow` (dLLM `EditFlowTrainer`): needs a model with the Edit Flows heads
    /// (`dllm convert editflow`), a BOS token, and a mask token when x0 is made of masks.
    static func editFlowObjective(_ config: TrainingConfig, architecture: any ModelArchitecture, maxPositions: Int,
                                  tokenizer: BPETextTokenizer, padTokenID: Int32) throws -> (objective: EditFlowObjective, maskTokenID: Int?) {
        guard (architecture as? LlamaSpec)?.editFlowHeads == true else {
            throw TrainingError.configuration("objective editflow: \(config.modelNameOrPath) (model_type \(architecture.modelType)) has no Edit Flows heads; "
                + "add them with `dllm convert editflow IN OUT` (an a2d-* or llada folder)")
        }
        guard let bos = tokenizer.bosTokenID else {
            throw TrainingError.configuration("objective editflow: \(tokenizer.path) names no bos_token (x1 starts with BOS so that insertions before the first token have a row)")
        }
        // Validated when the config was loaded.
        let source = EditFlowObjective.Source(spec: config.x0Sampler)!
        var mask: Int?
        if source != .empty {
            guard let id = config.maskTokenId ?? architecture.maskTokenID ?? tokenizer.maskTokenID.map(Int.init) else {
                throw TrainingError.noMaskToken(model: config.modelNameOrPath)
            }
            mask = id
        }
        // x_t has at most |x0| + |x1| tokens (one per alignment column): pretraining rows |x1| ≤ max_length + 1 (BOS)
        // and |x0| = 1 + masks; SFT rows |x1| ≤ max_length and |x0| ≤ max_length + masks.
        let masks: Int
        if case .masks(let n) = source { masks = n } else { masks = 0 }
        let longest = config.task == "sft" ? 2 * config.maxLength + masks : config.maxLength + 2 + masks
        if longest > maxPositions {
            throw TrainingError.configuration("objective editflow: x_t can reach \(longest) tokens (x0 and x1 of max_length \(config.maxLength) "
                + "with \(masks) masks, one token per alignment column), more than the \(maxPositions) positions of \(config.modelNameOrPath); "
                + "lower max_length or the x0_sampler length")
        }
        let objective = EditFlowObjective(schedule: KappaSchedule(dLLMName: config.schedulerCls)!, source: source, bosTokenID: bos,
                                          maskTokenID: mask.map(Int32.init), padTokenID: padTokenID, timeEpsilon: Float(config.timeEpsilon),
                                          normalizePerPosition: config.normalizePerPosition, maxWeight: Float(config.maxW))
        return (objective, mask)
    }
}
