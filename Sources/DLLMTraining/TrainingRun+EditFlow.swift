import DLLMCompute
import DLLMModels
import DLLMTokenizers

extension TrainingRun {
    /// `objective: editflow` (dLLM `EditFlowTrainer`): needs a model with the Edit Flows heads
    /// (`dllm convert editflow`), a BOS token, and a mask token when x0 is made of masks.
    static func editFlowObjective(_ config: TrainingConfig, architecture: any ModelArchitecture, tokenizer: BPETextTokenizer,
                                  padTokenID: Int32) throws -> (objective: EditFlowObjective, maskTokenID: Int?) {
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
        let objective = EditFlowObjective(schedule: KappaSchedule(dLLMName: config.schedulerCls)!, source: source, bosTokenID: bos,
                                          maskTokenID: mask.map(Int32.init), padTokenID: padTokenID, timeEpsilon: Float(config.timeEpsilon),
                                          normalizePerPosition: config.normalizePerPosition, maxWeight: Float(config.maxW))
        return (objective, mask)
    }
}
