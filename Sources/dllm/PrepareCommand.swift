import ArgumentParser
import DLLMData
import DLLMTokenizers
import Foundation

/// `dllm prepare`: pre-tokenize a pretraining dataset into memory-mappable token shards.
struct PrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Tokenize and group a dataset into token shards (OUTPUT/<split>-NNNNN.dtok + manifest.json).",
        discussion: """
            --tokenizer takes a tokenizer.json or a model folder (its tokenizer_config.json names EOS), or \
            'bytes' for a byte-level tokenizer (256 byte ids, EOS 256, BOS 257) that needs no files.
            """)

    @Option(help: "A tokenizer.json or model folder, or 'bytes'.") var tokenizer: String
    @Option(help: "Dataset spec, e.g. 'data.jsonl[train:10_000,test:100]' (several joined with '+').") var dataset: String
    @Option(name: .customLong("max-length"), help: "Tokens per sequence.") var maxLength: Int
    @Option(help: "Output folder.") var output: String
    @Option(name: .customLong("text-field"), help: "Row field holding the document.") var textField = "text"
    @Flag(name: .customLong("no-insert-eos"), help: "Do not append EOS after each document.") var noInsertEOS = false
    @Flag(name: .customLong("keep-tail"), help: "Keep the final partial sequence of each split (default: drop it).") var keepTail = false
    @Option(name: .customLong("tokens-per-shard"), help: "Upper bound on tokens per shard file.") var tokensPerShard = 1 << 26

    func run() throws {
        let textTokenizer: any TextTokenizer = tokenizer == "bytes" ? ByteLevelTokenizer() : try BPETextTokenizer(path: tokenizer)
        let data = try DatasetLoader.load(dataset)
        for split in data.splitNames {
            let d = try data.split(split)
            print("\(split): \(d.count) rows" + (d.skippedEmptyRows > 0 ? " (\(d.skippedEmptyRows) empty rows skipped)" : ""))
        }
        let grouping = GroupingOptions(sequenceLength: maxLength, textField: textField, insertEOS: !noInsertEOS,
                                       dropTail: !keepTail, mapBatchSize: nil)
        let manifest = try TokenShardPreparation.prepare(
            data, tokenizer: textTokenizer, tokenizerName: tokenizer, datasetSpec: dataset,
            options: .init(grouping: grouping, tokensPerShard: tokensPerShard), output: output)
        for (split, entry) in manifest.splits.sorted(by: { $0.key < $1.key }) {
            print("\(split): \(entry.sequences) sequences of \(maxLength), \(entry.tokens) tokens in \(entry.files.count) shard(s); "
                + "\(entry.stats.documents) documents, \(entry.stats.emptyDocumentsSkipped) empty skipped, "
                + "\(entry.stats.droppedTailTokens) tail tokens dropped")
        }
        print("Wrote \(output)/\(TokenShardManifest.fileName)")
    }
}
