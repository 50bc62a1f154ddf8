import DLLMCheckpoint
import DLLMCompute
import DLLMJSON
import DLLMModels
import DLLMRandom
import Foundation

/// `dllm convert a2d IN OUT`: an autoregressive LLaMA/Qwen2/Qwen3 model (a Hugging Face folder
/// or a `.gguf` file) as dLLM's A2D ("autoregressive to diffusion") model folder, with the
/// semantics of dLLM `pipelines/a2d/convert.py`:
///
/// - the same weights under the same tensor names (`--random-init`: the same architecture,
///   freshly initialised, as `convert.py --random_init` saves `AutoModel.from_config`);
/// - `config.json` is the source's with `model_type` `a2d-<base>` (`A2DLlamaConfig` &c.,
///   which dLLM's modeling files run with bidirectional attention), `architectures` and
///   `auto_map` removed as `convert.py` removes them, plus `mask_token_id`;
/// - the mask token (default `<|mask|>`) added to the tokenizer as dLLM's `get_tokenizer` adds it
///   (``MaskTokenAddition``), its id in `config.json` and `generation_config.json`.
///
/// A vocabulary with no spare row for the mask token grows: the embedding (and an untied
/// `lm_head`) get `⌈(id + 1) / 64⌉·64` rows, the size `resize_token_embeddings(len(tokenizer),
/// pad_to_multiple_of=64)` gives, new rows initialised by ``AddedRowsInitialization``. A table
/// that already has the row (Qwen's padded vocabularies) is left as it is, never shrunk.
public enum A2DConverter {
    /// Source `model_type`s (dLLM `convert.py`'s `A2D_CONFIG_MAP`).
    public static let baseTypes = ["llama", "qwen2", "qwen3"]
    public static let defaultMaskToken = "<|mask|>"
    /// Rows are padded to a multiple of this (`pad_to_multiple_of=64`).
    public static let rowMultiple = 64

    public struct Options: Sendable {
        public var maskToken: String
        /// Drop the weights and initialise the architecture (`Initialization`, seeded).
        public var randomInit: Bool
        /// Seed of `--random-init` and of the new rows' draw.
        public var seed: UInt64
        public var dtype: SafeTensorsDType

        public init(maskToken: String = A2DConverter.defaultMaskToken, randomInit: Bool = false, seed: UInt64 = 0,
                    dtype: SafeTensorsDType = .F32) {
            self.maskToken = maskToken
            self.randomInit = randomInit
            self.seed = seed
            self.dtype = dtype
        }
    }

    /// What a conversion wrote.
    public struct Summary: Sendable {
        public let modelType: String
        public let maskTokenID: Int
        /// True when the tokenizer already had the mask token (its id was reused).
        public let maskTokenReused: Bool
        public let oldVocabularyRows: Int
        public let newVocabularyRows: Int
        /// How the new embedding rows were filled; nil when none were added or with `--random-init`.
        public let addedRows: AddedRowsInitialization.Method?
        public let files: [String]
    }

    /// Converts a folder or a `.gguf` file at `input` into the folder `output` (created if needed).
    @discardableResult
    public static func convert(input: String, to output: URL, options: Options = Options()) throws -> Summary {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
            throw A2DConversionError.missingFile(path: input, reason: "expected a model folder or a .gguf file")
        }
        let source = isDirectory.boolValue
            ? try A2DSource.folder(URL(fileURLWithPath: input), loadWeights: !options.randomInit)
            : try A2DSource.gguf(input, loadWeights: !options.randomInit)
        return try convert(source, to: output, options: options)
    }

    static func convert(_ source: A2DSource, to output: URL, options: Options) throws -> Summary {
        var source = source
        var tokenizerJSON = source.tokenizerJSON, tokenizerConfig = source.tokenizerConfig
        let mask = try MaskTokenAddition.add(options.maskToken, tokenizerJSON: &tokenizerJSON, tokenizerConfig: &tokenizerConfig,
                                             path: source.path + " (tokenizer.json)")
        let oldRows = source.spec.vocab
        // Ids past the table's end (other than the one new row) would be tokens the model has no row for.
        guard mask.id <= oldRows else {
            throw A2DConversionError.malformedFile(
                path: source.path + " (tokenizer.json)", key: "added_tokens",
                reason: "the mask token would get id \(mask.id), but the model has \(oldRows) embedding rows: "
                    + "the tokenizer holds ids the model has no row for")
        }
        let newRows = mask.id >= oldRows ? AddedRowsInitialization.paddedRowCount(mask.id + 1, multiple: rowMultiple) : oldRows
        let baseType = source.config["model_type"]?.stringValue ?? ""
        var spec = source.spec
        spec.modelType = "a2d-" + baseType
        spec.vocab = newRows
        spec.maskTokenID = mask.id
        spec.bidirectional = true

        let model = LlamaModel<Float>(spec: spec)
        var method: AddedRowsInitialization.Method?
        if let old = source.model {
            method = copyWeights(from: old, into: model, seed: options.seed)
            source.model = nil  // the source's buffers are freed before the save copies the new ones
        } else {
            Initialization.initialize(model, seed: options.seed)
        }

        var config = source.config
        config["model_type"] = .string(spec.modelType)
        config["vocab_size"] = .integer(Int64(newRows))
        config["mask_token_id"] = .integer(Int64(mask.id))
        config["architectures"] = nil
        config["auto_map"] = nil
        config[config["dtype"] != nil ? "dtype" : "torch_dtype"] = .string(options.dtype == .BF16 ? "bfloat16" : "float32")
        try ModelFolder.save(model, config: config, to: output, dtype: options.dtype)
        var files = ["config.json", "generation_config.json", SafeTensorsCheckpoint.singleFileName]
        if var generation = source.generationConfig, generation.objectMembers != nil {
            generation["mask_token_id"] = .integer(Int64(mask.id))
            try AtomicFile.write(ConfigJSON.text(generation), to: output.appendingPathComponent("generation_config.json"))
        }
        try write(JSONWriter.bytes(tokenizerJSON, style: .indented(2)), to: output, name: "tokenizer.json")
        try write(Array(ConfigJSON.text(tokenizerConfig)), to: output, name: "tokenizer_config.json")
        files += ["tokenizer.json", "tokenizer_config.json"]
        if var map = source.specialTokensMap, map.objectMembers != nil {
            map["mask_token"] = .object([
                ("content", .string(options.maskToken)), ("lstrip", .bool(false)), ("normalized", .bool(false)),
                ("rstrip", .bool(false)), ("single_word", .bool(false)),
            ])
            try write(Array(ConfigJSON.text(map)), to: output, name: "special_tokens_map.json")
            files.append("special_tokens_map.json")
        }
        for file in source.copiedFiles {
            try AtomicFile.write(file.data, to: output.appendingPathComponent(file.name))
            files.append(file.name)
        }
        return Summary(modelType: spec.modelType, maskTokenID: mask.id, maskTokenReused: mask.reused,
                       oldVocabularyRows: oldRows, newVocabularyRows: newRows,
                       addedRows: newRows > oldRows ? method : nil, files: files)
    }

    /// Copies every tensor of `old` into `new` under the same name; the embedding and an
    /// untied head get their old rows, then new rows from ``AddedRowsInitialization``
    /// (each table from its own old rows and its own generator stream, as transformers
    /// initialises `lm_head` apart from `embed_tokens`).
    static func copyWeights(from old: LlamaModel<Float>, into new: LlamaModel<Float>, seed: UInt64) -> AddedRowsInitialization.Method {
        var method = AddedRowsInitialization.Method.multivariateNormal
        for (index, slot) in new.layout.slots.enumerated() {
            guard let source = old.layout.slot(slot.name) else { preconditionFailure("no source slot \(slot.name)") }
            let destination = new.parameters.pointer + slot.offset
            destination.update(from: old.parameters.pointer + source.offset, count: min(source.count, slot.count))
            if slot.shape != source.shape {
                precondition(slot.shape.count == 2 && slot.shape[1] == source.shape[1] && slot.shape[0] > source.shape[0],
                             "only vocabulary rows grow: \(slot.name) \(source.shape) → \(slot.shape)")
                var generator = SeededGenerator(seed: seed, stream: UInt64(index))
                let used = AddedRowsInitialization.fill(destination, oldRows: source.shape[0], newRows: slot.shape[0],
                                                        width: slot.shape[1], generator: &generator)
                if used == .mean { method = .mean }
            }
        }
        return method
    }

    static func write(_ bytes: [UInt8], to directory: URL, name: String) throws {
        try AtomicFile.write(Data(bytes + (bytes.last == 0x0A ? [] : [0x0A])), to: directory.appendingPathComponent(name))
    }
}
