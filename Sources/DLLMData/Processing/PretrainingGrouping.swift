import DLLMTokenizers

/// Settings of pretraining grouping (dLLM's `DataArguments` fields fed to `tokenize_and_group`).
public struct GroupingOptions: Codable, Equatable, Sendable {
    /// Tokens per sequence (`max_length` / `seq_length`).
    public var sequenceLength: Int
    /// The row field holding the document (`text_field`).
    public var textField: String
    /// Append EOS to each document that does not already end with it (`insert_eos`).
    public var insertEOS: Bool
    /// Drop the last partial sequence of each map batch (`drop_tail`); otherwise keep it short.
    public var dropTail: Bool
    /// Let the tokenizer add its special tokens (`add_special_tokens`, default false).
    public var addSpecialTokens: Bool
    /// Documents per grouping batch: `datasets.map(batched=True)` hands `tokenize_and_group`
    /// 1000 rows at a time, so tails are cut per 1000 documents. `nil` groups the whole split
    /// as one stream.
    public var mapBatchSize: Int?

    public init(sequenceLength: Int, textField: String = "text", insertEOS: Bool = true, dropTail: Bool = true,
                addSpecialTokens: Bool = false, mapBatchSize: Int? = 1000) {
        self.sequenceLength = sequenceLength
        self.textField = textField
        self.insertEOS = insertEOS
        self.dropTail = dropTail
        self.addSpecialTokens = addSpecialTokens
        self.mapBatchSize = mapBatchSize
    }

    func validate() throws {
        guard sequenceLength > 0 else {
            throw DataError.invalidParameter(name: "max_length", value: "\(sequenceLength)", detail: "must be at least 1")
        }
        if let size = mapBatchSize, size <= 0 {
            throw DataError.invalidParameter(name: "map batch size", value: "\(size)", detail: "must be at least 1, or nil")
        }
    }
}

/// Counts from one grouping run.
public struct GroupingStats: Codable, Equatable, Sendable {
    /// Documents tokenized.
    public var documents = 0
    /// Rows whose text was empty: skipped, not tokenized (see ``PretrainingGrouping``).
    public var emptyDocumentsSkipped = 0
    /// EOS tokens appended by `insertEOS`.
    public var eosInserted = 0
    /// Tokens in the emitted sequences.
    public var tokens = 0
    /// Sequences emitted (full and, without `dropTail`, short tail ones).
    public var sequences = 0
    /// Tokens discarded by `dropTail`.
    public var droppedTailTokens = 0

    public init() {}
}

/// Pretraining packing: dLLM's `tokenize_and_group`.
///
/// For each map batch of documents: tokenize; with `insertEOS`, append EOS to every document
/// that does not already end with it; concatenate; cut into `sequenceLength` chunks. With
/// `dropTail` the last partial chunk is dropped; without it, it is kept *shorter* (not padded
/// here: the collator pads it at batch time, as `DataCollatorForSeq2Seq` does). Labels equal the
/// input ids. One deliberate difference: a row whose text is empty is skipped and counted
/// instead of contributing a lone EOS.
public enum PretrainingGrouping {
    /// Groups already tokenized documents of one map batch (the core of `tokenize_and_group`).
    public static func group(
        _ documents: [[Int32]], sequenceLength: Int, eos: Int32?, dropTail: Bool, stats: inout GroupingStats
    ) -> [[Int32]] {
        var concatenated: [Int32] = []
        concatenated.reserveCapacity(documents.reduce(0) { $0 + $1.count + 1 })
        for document in documents {
            concatenated.append(contentsOf: document)
            if let eos, document.last != eos {
                concatenated.append(eos)
                stats.eosInserted += 1
            }
        }
        var total = concatenated.count
        if dropTail {
            let kept = (total / sequenceLength) * sequenceLength
            stats.droppedTailTokens += total - kept
            total = kept
        }
        var chunks: [[Int32]] = []
        chunks.reserveCapacity((total + sequenceLength - 1) / sequenceLength)
        var start = 0
        while start < total {
            let end = min(start + sequenceLength, total)
            chunks.append(Array(concatenated[start..<end]))
            start = end
        }
        stats.sequences += chunks.count
        stats.tokens += total
        return chunks
    }

    /// Tokenizes and groups `dataset`, calling `emit` for every sequence in order.
    @discardableResult
    public static func tokenizeAndGroup(
        _ dataset: Dataset, tokenizer: some TextTokenizer, options: GroupingOptions,
        emit: ([Int32]) throws -> Void
    ) throws -> GroupingStats {
        try options.validate()
        var eos: Int32? = nil
        if options.insertEOS {
            guard let id = tokenizer.eosTokenID else {
                throw DataError.missingSpecialToken(token: "EOS", needed: "insert_eos")
            }
            eos = id
        }
        var stats = GroupingStats()
        let batchSize = options.mapBatchSize ?? max(1, dataset.count)
        var start = 0
        while start < dataset.count {
            let end = min(start + batchSize, dataset.count)
            var documents: [[Int32]] = []
            documents.reserveCapacity(end - start)
            for row in dataset.rows[start..<end] {
                let text = try row.string(options.textField)
                if text.isEmpty {
                    stats.emptyDocumentsSkipped += 1
                    continue
                }
                stats.documents += 1
                documents.append(tokenizer.encode(text, addSpecialTokens: options.addSpecialTokens))
            }
            for chunk in group(documents, sequenceLength: options.sequenceLength, eos: eos,
                               dropTail: options.dropTail, stats: &stats) {
                try emit(chunk)
            }
            start = end
        }
        return stats
    }

    /// Tokenizes and groups `dataset` into an array of sequences.
    public static func tokenizeAndGroup(
        _ dataset: Dataset, tokenizer: some TextTokenizer, options: GroupingOptions
    ) throws -> (sequences: [[Int32]], stats: GroupingStats) {
        var sequences: [[Int32]] = []
        let stats = try tokenizeAndGroup(dataset, tokenizer: tokenizer, options: options) { sequences.append($0) }
        return (sequences, stats)
    }
}
