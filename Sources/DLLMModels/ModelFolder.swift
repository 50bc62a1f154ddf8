import DLLMCheckpoint
import DLLMCompute
import DLLMJSON
import Foundation

/// A Hugging Face-style model folder: `config.json` plus `model.safetensors`
/// (or `model.safetensors.index.json` and shards). A folder with only
/// `config.json` means random initialisation, as pretraining from scratch does.
public enum ModelFolder {
    /// What loading a folder produced.
    public struct Loaded<S: ComputeScalar> {
        public let model: any LanguageModel<S>
        /// The folder's `config.json`, parsed once, kept so a save writes it back.
        public let configJSON: JSONValue
        /// The same as a dictionary, for callers that pass configurations around that way.
        public var config: [String: Any] { configJSON.foundationObject as? [String: Any] ?? [:] }
        /// True when the folder had no weights and the model was randomly initialised.
        public let randomlyInitialized: Bool
    }

    /// Loads a model folder in the scalar type `S`.
    /// - Parameter seed: the initialisation seed when the folder has no weights.
    /// - Parameter parameterShards: true when the caller reads a sharded checkpoint's shards
    ///   itself (consolidation); otherwise a folder holding only shards is refused.
    /// - Parameter quantizedBase: for a LoRA run over a quantised frozen base (LLaMA family, Float):
    ///   each block matrix, the embedding and an untied head are quantised as they are read, one
    ///   tensor at a time, and set as the model's ``LlamaModel/frozenBase``; their fp32 slots are
    ///   never filled (a folder without weights is initialised, then quantised).
    public static func load<S: ComputeScalar>(_ directory: URL, as _: S.Type = S.self, seed: UInt64 = 0,
                                             parameterShards: Bool = false,
                                             quantizedBase: FrozenQuantizedMatrix.QuantizeTarget? = nil) throws -> Loaded<S> {
        let configURL = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw ModelError.missingConfig(path: directory.path)
        }
        let data: Data
        do { data = try Data(contentsOf: configURL) } catch {
            throw ModelError.unreadableConfig(path: configURL.path, reason: error.localizedDescription)
        }
        let config = try ConfigJSON.parse(data, path: configURL.path)
        let architecture = try ModelRegistry.architecture(config: config, path: configURL.path)
        let model: any LanguageModel<S> = ModelRegistry.makeModel(architecture)
        let fm = FileManager.default
        let hasWeights = fm.fileExists(atPath: directory.appendingPathComponent(SafeTensorsCheckpoint.singleFileName).path)
            || fm.fileExists(atPath: directory.appendingPathComponent(SafeTensorsCheckpoint.indexFileName).path)
        if !hasWeights, !parameterShards, let shard = try? fm.contentsOfDirectory(atPath: directory.path).first(where: isParameterShard) {
            // An FSDP checkpoint holds its parameters in per-rank shards: refuse rather than
            // silently sample a random model (issue 17, defect 7).
            throw ModelError.shardedCheckpoint(path: directory.path, shard: shard)
        }
        var builder: FrozenLlamaBaseBuilder?
        if let quantizedBase {
            guard let llama = model as? LlamaModel<Float> else {
                throw ModelError.invalidValue(key: "base_quantization", value: quantizedBase.rawValue,
                                              reason: "a quantised frozen base serves Float LLaMA-family models, not \(architecture.modelType)",
                                              path: configURL.path)
            }
            builder = FrozenLlamaBaseBuilder(model: llama, target: quantizedBase, tables: true)
        }
        if hasWeights {
            try loadWeights(into: model, from: try SafeTensorsCheckpoint(directory: directory), path: directory.path, quantizing: builder)
            (model as? LlamaModel<Float>)?.frozenBase = builder?.base
        } else {
            Initialization.initialize(model, seed: seed)
            if let quantizedBase, let llama = model as? LlamaModel<Float> { llama.frozenBase = try llama.frozenBaseCopy(quantizedBase) }
        }
        return Loaded(model: model, configJSON: config, randomlyInitialized: !hasWeights)
    }

    /// A per-rank parameter shard of a sharded (FSDP) checkpoint: `sharding.json` or
    /// `shard-RRRRR-of-WWWWW.safetensors` (DLLMDistributed's `ShardingMetadata`).
    static func isParameterShard(_ name: String) -> Bool {
        name == "sharding.json" || (name.hasPrefix("shard-") && name.contains("-of-") && name.hasSuffix(".safetensors"))
    }

    /// Copies every tensor of `checkpoint` into the model's flat buffer, after checking
    /// that the names and shapes are exactly the ones the configuration implies. A tensor
    /// `quantizing` takes is read into a scratch and quantised instead (never into the buffer).
    public static func loadWeights<S: ComputeScalar>(into model: any LanguageModel<S>, from checkpoint: SafeTensorsCheckpoint, path: String) throws {
        try loadWeights(into: model, from: checkpoint, path: path, quantizing: nil)
    }

    static func loadWeights<S: ComputeScalar>(into model: any LanguageModel<S>, from checkpoint: SafeTensorsCheckpoint, path: String,
                                              quantizing builder: FrozenLlamaBaseBuilder?) throws {
        let layout = model.layout
        var present: [String: String] = [:]  // model name → checkpoint name
        for name in checkpoint.tensorNames {
            guard let mapped = sanitize(name, architecture: model.architecture) else { continue }
            guard layout.slot(mapped) != nil else { throw ModelError.unexpectedTensor(name: name, path: path) }
            present[mapped] = name
        }
        for slot in layout.slots {
            guard let source = present[slot.name], let info = checkpoint.info(source) else {
                throw ModelError.missingTensor(name: slot.name, path: path)
            }
            let shape = info.shape.isEmpty ? [1] : info.shape
            guard shape == slot.shape else {
                throw ModelError.shapeMismatch(name: source, expected: slot.shape, found: info.shape, path: path)
            }
            if let builder, builder.takes(slot) {
                // One tensor's floats at a time, dropped once quantised.
                var scratch = [Float](repeating: 0, count: slot.count)
                try scratch.withUnsafeMutableBufferPointer { values in
                    try checkpoint.read(source, into: values)
                    try builder.add(slot, values.baseAddress!)
                }
                continue
            }
            try checkpoint.read(source, into: UnsafeMutableBufferPointer(start: model.parameters.pointer + slot.offset, count: slot.count))
        }
    }

    /// Maps a checkpoint tensor name to the model's, or nil for tensors that carry
    /// no parameters (causal-mask buffers, rotary caches, a tied head stored anyway).
    static func sanitize(_ name: String, architecture: any ModelArchitecture) -> String? {
        if name.hasSuffix("rotary_emb.inv_freq") { return nil }
        return architecture.parameterName(forCheckpointTensor: name)
    }

    /// `generation_config.json` as `transformers` writes it beside a model: the special
    /// token ids from `config.json` (and the mask token a diffusion sampler needs).
    static func writeGenerationConfig(_ config: JSONValue, to directory: URL) throws {
        var generation: [(key: String, value: JSONValue)] = [("_from_model_config", .bool(true))]
        for key in ["bos_token_id", "eos_token_id", "pad_token_id", "mask_token_id"] {
            if let value = config[key], !value.isNull { generation.append((key, value)) }
        }
        try AtomicFile.write(ConfigJSON.text(.object(generation)), to: directory.appendingPathComponent("generation_config.json"))
    }

    /// Writes `config.json` and `generation_config.json` into `directory` (created if
    /// needed), each atomically, as ``save(_:config:to:dtype:maxShardBytes:)`` does beside
    /// the weights (for a writer that streams `model.safetensors` itself).
    public static func saveConfiguration(_ config: JSONValue, to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try AtomicFile.write(ConfigJSON.text(config), to: directory.appendingPathComponent("config.json"))
        try writeGenerationConfig(config, to: directory)
    }

    /// Writes `config.json` and `model.safetensors` (F32 by default, or shards) into
    /// `directory`, each atomically, in the names `transformers` and LLaDA use. `config` is
    /// a dictionary of JSON-compatible values (see ``JSONValue/init(foundationObject:)``).
    public static func save<S: ComputeScalar>(_ model: any LanguageModel<S>, config: [String: Any], to directory: URL,
                                              dtype: SafeTensorsDType = .F32, maxShardBytes: Int? = nil) throws {
        try save(model, config: try configurationJSON(config, in: directory), to: directory, dtype: dtype, maxShardBytes: maxShardBytes)
    }

    /// The same, from a parsed configuration (``Loaded/configJSON``).
    public static func save<S: ComputeScalar>(_ model: any LanguageModel<S>, config: JSONValue, to directory: URL,
                                              dtype: SafeTensorsDType = .F32, maxShardBytes: Int? = nil) throws {
        try saveConfiguration(config, to: directory)
        let floats: [Float] = (0..<model.parameterCount).map { Float(model.parameters[$0]) }
        try floats.withUnsafeBufferPointer { all in
            let tensors = model.layout.slots.map { slot in
                (name: slot.name, shape: slot.shape, values: UnsafeBufferPointer(rebasing: all[slot.range]))
            }
            try SafeTensorsCheckpoint.write(tensors, dtype: dtype, to: directory, maxShardBytes: maxShardBytes)
        }
    }

    /// ``saveConfiguration(_:to:)`` for a dictionary of JSON-compatible values.
    public static func saveConfiguration(_ config: [String: Any], to directory: URL) throws {
        try saveConfiguration(try configurationJSON(config, in: directory), to: directory)
    }

    static func configurationJSON(_ config: [String: Any], in directory: URL) throws -> JSONValue {
        guard let json = JSONValue(foundationObject: config) else {
            let path = directory.appendingPathComponent("config.json").path
            throw ModelError.unreadableConfig(path: path, reason: "the configuration holds a value JSON cannot represent")
        }
        return json
    }
}
