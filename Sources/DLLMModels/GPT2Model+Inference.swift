import DLLMCompute

extension GPT2Model {
    public func makeCache(batch: Int, capacity: Int) -> KVCache<S> {
        precondition(capacity <= config.nPositions, "GPT2Model: cache of \(capacity) slots exceeds n_positions \(config.nPositions)")
        return KVCache(layers: config.nLayer, batch: batch, capacity: capacity, width: config.nEmbd)
    }

    /// The inference use of the one forward pass (``GPT2Forward``): no saved activations, `step`'s
    /// queries with keys/values from `cache` (HF `GPT2LMHeadModel.forward` with `past_key_values`);
    /// the final LayerNorm and the tied head run on `step.logitRows` only.
    public func inferenceForward(_ step: InferenceStep, cache: KVCache<S>) -> UnsafeMutablePointer<S> {
        precondition(cache.B == step.B && cache.layers == config.nLayer && cache.width == config.nEmbd,
                     "GPT2Model: cache does not fit this model and batch")
        let scratch = GPT2LayerBuffers(scratch: cache, config: config, N: step.B * step.Tq)
        return GPT2Forward(model: self, storage: .scratch(scratch, cache: cache), request: ForwardRequest(inference: step, cache: cache)).run()
    }
}
