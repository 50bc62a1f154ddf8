import DLLMCompute

/// The Edit Flows use of the one LLaMA-family forward (``LlamaSpec/editFlowHeads``): the heads of
/// dLLM `EditFlowQwen3Model`/`EditFlowLLaDAModel` on the final norm's output, in place of the LM head.
extension LlamaModel: EditFlowLanguageModel {
    public func editFlowForward(_ batch: TokenBatch, mask: AttentionMask) -> EditFlowOutputs<S> {
        precondition(spec.editFlowHeads, "LlamaModel: \(spec.modelType) has no Edit Flows heads")
        let N = batch.B * batch.T
        prepareActivations(for: batch, mask: mask)
        if editFlowBuffers == nil || editFlowBuffers!.rates.count != N * 3 { editFlowBuffers = EditFlowHeadBuffers(N: N, V: spec.vocab) }
        var pass = trainingForward(batch, mask: mask, hooks: hooks)
        pass.editFlowHeads = editFlowBuffers
        _ = pass.run()
        let h = editFlowBuffers!
        return EditFlowOutputs(B: batch.B, T: batch.T, V: spec.vocab, substitutionLogits: h.substitution.pointer,
                               insertionLogits: h.insertion.pointer, rates: h.rates.pointer)
    }

    public func editFlowBackward() {
        guard let a = acts, let batch = lastBatch, let h = editFlowBuffers, let heads = offsets.editFlow else {
            preconditionFailure("LlamaModel: editFlowBackward before editFlowForward")
        }
        let N = batch.B * batch.T
        backpropagate(batch: batch, activations: a) { dHidden in
            editFlowHeadsBackward(dHidden, gradients: gradients.pointer, h, hidden: a.lnf.pointer, parameters: parameters.pointer,
                                  offsets: heads, N: N, C: spec.hidden, V: spec.vocab, bf16: bf16Matmuls)
        }
    }
}
