import DLLMTokenizers
import Foundation

/// Pre-tokenizes a dataset into token shards: the library side of `dllm prepare` (the role of
/// dLLM's `tools/preprocess_pt_dataset.py`, which saves the grouped dataset to disk).
public enum TokenShardPreparation {
    /// Settings of a preparation run.
    public struct Options: Codable, Equatable, Sendable {
        public var grouping: GroupingOptions
        /// Upper bound on tokens per shard file (rounded down to whole sequences).
        public var tokensPerShard: Int
        /// Force a dtype; nil picks u16 when every token of a shard fits, else u32.
        public var dtype: TokenDType?

        /// `grouping.mapBatchSize` defaults to nil here: each split is grouped as one stream, so
        /// that only its final sequence can be short (a shard stores sequences back to back).
        public init(grouping: GroupingOptions, tokensPerShard: Int = 1 << 26, dtype: TokenDType? = nil) {
            self.grouping = grouping
            self.tokensPerShard = tokensPerShard
            self.dtype = dtype
        }
    }

    /// Writes `output/<split>-NNNNN.dtok` for every split and `output/manifest.json`.
    @discardableResult
    public static func prepare(
        _ dataset: DatasetDict, tokenizer: some TextTokenizer, tokenizerName: String, datasetSpec: String,
        options: Options, output: String
    ) throws -> TokenShardManifest {
        let length = options.grouping.sequenceLength
        try options.grouping.validate()
        if !options.grouping.dropTail && options.grouping.mapBatchSize != nil {
            throw DataError.invalidParameter(
                name: "map batch size", value: "\(options.grouping.mapBatchSize!)",
                detail: "without drop_tail every map batch leaves a short sequence, which token shards cannot hold "
                    + "mid-stream; group each split as one stream (no map batch size) or keep drop_tail")
        }
        let perShard = max(1, options.tokensPerShard / length) * length
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw TokenShardError.cannotWrite(file: output, reason: error.localizedDescription)
        }
        var manifest = TokenShardManifest(
            formatVersion: Int(TokenShardHeader.currentVersion), sequenceLength: length, tokenizer: tokenizerName,
            eosTokenID: tokenizer.eosTokenID, dataset: datasetSpec, grouping: options.grouping, splits: [:])
        for split in dataset.splitNames {
            var buffer: [Int32] = []
            var files: [String] = []
            var sequences = 0
            func flush(_ tokens: ArraySlice<Int32>) throws {
                let number = String(files.count)
                let name = split + "-" + String(repeating: "0", count: max(0, 5 - number.count)) + number + ".dtok"
                try TokenShardWriter.write(tokens: Array(tokens), sequenceLength: length, eosTokenID: tokenizer.eosTokenID,
                                           dtype: options.dtype, to: output + "/" + name)
                files.append(name)
            }
            let stats = try PretrainingGrouping.tokenizeAndGroup(
                try dataset.split(split), tokenizer: tokenizer, options: options.grouping
            ) { chunk in
                buffer.append(contentsOf: chunk)
                sequences += 1
                if buffer.count >= perShard {
                    try flush(buffer[0..<perShard])
                    buffer.removeFirst(perShard)
                }
            }
            if !buffer.isEmpty || files.isEmpty { try flush(buffer[...]) }
            manifest.splits[split] = .init(files: files, sequences: sequences, tokens: stats.tokens, stats: stats)
        }
        try manifest.write(directory: output)
        return manifest
    }
}
