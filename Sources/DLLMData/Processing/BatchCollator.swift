/// A padded batch of token sequences, row-major (`rows × length`).
public struct CollatedBatch: Equatable, Sendable {
    public var rows: Int
    public var length: Int
    /// `rows × length` input token ids.
    public var inputIDs: [Int32]
    /// `rows × length` labels (-100 = ignored).
    public var labels: [Int32]
    /// `rows × length`, 1 for real tokens and 0 for padding; `nil` when every position is
    /// attended (no padding, or a collator that drops the mask).
    public var attentionMask: [Int32]?

    public init(rows: Int, length: Int, inputIDs: [Int32], labels: [Int32], attentionMask: [Int32]?) {
        self.rows = rows
        self.length = length
        self.inputIDs = inputIDs
        self.labels = labels
        self.attentionMask = attentionMask
    }

    public func inputRow(_ r: Int) -> ArraySlice<Int32> { inputIDs[(r * length)..<((r + 1) * length)] }
    public func labelRow(_ r: Int) -> ArraySlice<Int32> { labels[(r * length)..<((r + 1) * length)] }

    /// The first `newLength` positions of every row.
    public func truncated(to newLength: Int) -> CollatedBatch {
        let l = min(max(0, newLength), length)
        if l == length { return self }
        func cut(_ a: [Int32]) -> [Int32] {
            var out: [Int32] = []
            out.reserveCapacity(rows * l)
            for r in 0..<rows { out.append(contentsOf: a[(r * length)..<(r * length + l)]) }
            return out
        }
        var mask = attentionMask.map(cut)
        if let m = mask, !m.contains(0) { mask = nil }
        return CollatedBatch(rows: rows, length: l, inputIDs: cut(inputIDs), labels: cut(labels), attentionMask: mask)
    }
}

/// Pads examples into a ``CollatedBatch``: `transformers.DataCollatorForSeq2Seq(padding=True)`,
/// right padding to the longest row of the batch.
///
/// Two configurations are used by dLLM:
/// - ``pretraining(padTokenID:)``: inputs padded with the pad token, labels with -100, and an
///   attention mask marking the padding. (Grouped pretraining rows are all `max_length` long
///   unless `drop_tail` is off, so padding only appears on short tail rows.)
/// - ``llada(padTokenID:)`` for SFT, as `examples/llada/sft.py` builds it:
///   `label_pad_token_id=tokenizer.pad_token_id` inside `NoAttentionMaskWrapper`. Padding
///   positions carry the pad token (EOS when the tokenizer has no pad token) as *input and label*
///   and stay visible: the model is trained to predict the trailing EOS run that ends an answer,
///   which is how LLaDA learns to stop (its guidelines pad SFT answers with EOS and treat them as
///   response tokens).
public struct BatchCollator: Codable, Equatable, Sendable {
    public var padTokenID: Int32
    /// Label written at padding positions.
    public var labelPadID: Int32
    /// Whether batches carry an attention mask (dropped by `NoAttentionMaskWrapper`).
    public var returnsAttentionMask: Bool

    public init(padTokenID: Int32, labelPadID: Int32, returnsAttentionMask: Bool) {
        self.padTokenID = padTokenID
        self.labelPadID = labelPadID
        self.returnsAttentionMask = returnsAttentionMask
    }

    public static func pretraining(padTokenID: Int32) -> BatchCollator {
        BatchCollator(padTokenID: padTokenID, labelPadID: ignoreLabelID, returnsAttentionMask: true)
    }

    public static func llada(padTokenID: Int32) -> BatchCollator {
        BatchCollator(padTokenID: padTokenID, labelPadID: padTokenID, returnsAttentionMask: false)
    }

    public func collate(_ examples: [SFTExample]) -> CollatedBatch {
        let length = examples.map { max($0.inputIDs.count, $0.labels.count) }.max() ?? 0
        var inputs = [Int32](repeating: padTokenID, count: examples.count * length)
        var labels = [Int32](repeating: labelPadID, count: examples.count * length)
        var mask = [Int32](repeating: 0, count: examples.count * length)
        var padded = false
        for (r, example) in examples.enumerated() {
            let base = r * length
            for (i, id) in example.inputIDs.enumerated() { inputs[base + i] = id; mask[base + i] = 1 }
            for (i, label) in example.labels.enumerated() { labels[base + i] = label }
            if example.inputIDs.count < length { padded = true }
        }
        return CollatedBatch(rows: examples.count, length: length, inputIDs: inputs, labels: labels,
                          attentionMask: returnsAttentionMask && padded ? mask : nil)
    }

    /// Collates pretraining sequences (labels = inputs).
    public func collate(sequences: [[Int32]]) -> CollatedBatch {
        collate(sequences.map { SFTExample(inputIDs: $0, labels: $0, promptLength: nil) })
    }
}
