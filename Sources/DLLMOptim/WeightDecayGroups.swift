import DLLMCompute

/// Which parameters AdamW's weight decay applies to: Hugging Face Trainer's default
/// grouping (transformers 5.24, `Trainer.get_decay_parameter_names` with
/// `trainer_pt_utils.get_parameter_names`). A parameter is *not* decayed when
///
/// 1. it belongs to a normalisation layer (HF: a module that is an instance of
///    `ALL_LAYERNORM_LAYERS`, i.e. `nn.LayerNorm`; here: the tensors the model lists
///    as normalisation parameters), or
/// 2. its full name, lowercased, matches one of HF's patterns: `bias`, `layernorm`,
///    `rmsnorm`, `(?:^|\.)norm(?:$|\.)`, `_norm(?:$|\.)`.
///
/// Everything else decays, embeddings and a tied output head included (HF decays
/// them too). `LlamaRMSNorm` is not an `nn.LayerNorm`: HF recognises its weights by
/// rule 2 alone (`input_layernorm`, `post_attention_layernorm`, `model.norm`).
public enum WeightDecayGroups {
    /// True when rule 2 (HF's name patterns) excludes `name` from decay.
    public static func nameExcludesDecay(_ name: String) -> Bool {
        let lower = name.lowercased()
        if lower.contains("bias") || lower.contains("layernorm") || lower.contains("rmsnorm") { return true }
        // `(?:^|\.)norm(?:$|\.)`: a dot-separated component equal to "norm";
        // `_norm(?:$|\.)`: a component ending in "_norm".
        return lower.split(separator: ".", omittingEmptySubsequences: false).contains { $0 == "norm" || $0.hasSuffix("_norm") }
    }

    /// True when weight decay applies to the tensor `name`.
    public static func decays(_ name: String, normalizationParameters: Set<String>) -> Bool {
        !normalizationParameters.contains(name) && !nameExcludesDecay(name)
    }

    /// A (layout.count) mask over the flat parameter buffer: 1 where decay applies,
    /// 0 elsewhere (the `decayMask` `AdamW.step` takes).
    public static func mask(layout: ParameterLayout, normalizationParameters: Set<String>) -> [UInt8] {
        var mask = [UInt8](repeating: 0, count: layout.count)
        for slot in layout.slots where decays(slot.name, normalizationParameters: normalizationParameters) {
            for i in slot.range { mask[i] = 1 }
        }
        return mask
    }

    /// Rank `rank`'s part of a full mask, laid out as its shard buffers are (`ShardMap`
    /// order: the owned part of each segment's chunk at the segment's shard offset;
    /// padding gets 0). `owned(segment)` is the flat range the rank owns in each segment.
    public static func shardMask(_ full: [UInt8], segments: [(owned: Range<Int>, shardOffset: Int)], shardCount: Int) -> [UInt8] {
        var shard = [UInt8](repeating: 0, count: shardCount)
        for seg in segments {
            for (j, i) in seg.owned.enumerated() { shard[seg.shardOffset + j] = full[i] }
        }
        return shard
    }
}
