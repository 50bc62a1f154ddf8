import DLLMModels

extension TextGenerator {
    /// The model as an Edit Flows model (an `editflow-*` folder, `dllm convert editflow`).
    public func editFlowModel() throws -> any EditFlowLanguageModel<Float> {
        guard let model = model as? any EditFlowLanguageModel<Float>, (model.architecture as? LlamaSpec)?.editFlowHeads == true else {
            throw SamplingError.invalidValue(parameter: "sampler", value: "editflow",
                                             reason: "\(folder) (model_type \(modelType)) has no Edit Flows heads; add them with `dllm convert editflow`")
        }
        return model
    }

    /// The BOS token Edit Flows sampling starts from (the tokenizer's `bos_token`; none is guessed).
    public func editFlowBOS() throws -> Int32 {
        guard let bos = tokenizer.bosTokenID else {
            throw SamplingError.invalidValue(parameter: "sampler", value: "editflow",
                                             reason: "\(folder): the tokenizer names no bos_token (the canvas starts with BOS)")
        }
        return bos
    }

    /// Samples an answer to `prompt` (token ids) with Edit Flows' τ-leaping; returns the tokens after the prompt.
    public func editFlowAnswer(prompt: [Int32], config: EditFlowSamplerConfig, seed: UInt64,
                               onStep: (_ step: Int, _ tokens: [Int32], _ promptLength: Int) -> Void = { _, _, _ in }) throws -> [Int32] {
        let bos = try editFlowBOS()
        let promptLength = prompt.first == bos ? prompt.count : prompt.count + 1
        let tokens = try EditFlowSampler.sample(model: try editFlowModel(), prompt: prompt, bosTokenID: bos, maskTokenID: maskID,
                                                config: config, noise: CounterNoise(seed: seed)) { onStep($0, $1, promptLength) }
        return Array(tokens[min(promptLength, tokens.count)...])
    }
}
