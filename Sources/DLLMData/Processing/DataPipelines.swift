import DLLMTokenizers

/// The data sections of dLLM's example training scripts, end to end: a spec string in, per-split
/// training examples out.
public enum DataPipelines {
    /// `examples/llada/pt.py`: `load_pt_dataset` then `tokenize_and_group` on every split.
    /// Returns the grouped sequences of each split and the grouping counts.
    public static func pretraining(
        spec: String, tokenizer: some TextTokenizer, options: GroupingOptions
    ) throws -> [String: (sequences: SequenceSource, stats: GroupingStats)] {
        let dataset = try DatasetLoader.load(spec)
        var out: [String: (SequenceSource, GroupingStats)] = [:]
        for split in dataset.splitNames {
            let (sequences, stats) = try PretrainingGrouping.tokenizeAndGroup(try dataset.split(split), tokenizer: tokenizer,
                                                                              options: options)
            var counted = stats
            counted.emptyDocumentsSkipped += try dataset.split(split).skippedEmptyRows
            out[split] = (SequenceSource(sequences), counted)
        }
        return out
    }

    /// `examples/llada/sft.py`: `load_sft_dataset`, `default_mdlm_sft_map_fn` (or the stored
    /// tokens when `preprocessed`), then `post_process_dataset`.
    public static func sft(
        spec: String, tokenizer: some TextTokenizer, maxLength: Int, truncation: SFTTruncation = .right,
        maskPromptLoss: Bool = true, preprocessed: Bool = false
    ) throws -> [String: (examples: [SFTExample], stats: SFTProcessing.PostProcessStats)] {
        let dataset = try DatasetLoader.load(spec)
        var out: [String: ([SFTExample], SFTProcessing.PostProcessStats)] = [:]
        for split in dataset.splitNames {
            let rows = try dataset.split(split)
            let examples = preprocessed
                ? try SFTProcessing.preprocessedExamples(rows)
                : try SFTProcessing.examples(rows, tokenizer: tokenizer, maskPromptLoss: maskPromptLoss)
            out[split] = try SFTProcessing.postProcess(examples, maxLength: maxLength, truncation: truncation)
        }
        return out
    }
}
