import DLLMCheckpoint
import DLLMGGUF
import DLLMJSON
import DLLMModels
import Foundation

/// What `dllm convert a2d` reads from its input — a Hugging Face folder or a `.gguf` file —
/// before turning it into an A2D folder.
struct A2DSource {
    let path: String
    var config: JSONValue
    let spec: LlamaSpec
    /// The source weights; nil with `--random-init`, which never reads them.
    var model: LlamaModel<Float>?
    var tokenizerJSON: JSONValue
    var tokenizerConfig: JSONValue
    /// The folder's `generation_config.json`, if it had one.
    var generationConfig: JSONValue?
    /// The folder's `special_tokens_map.json`, if it had one.
    var specialTokensMap: JSONValue?
    /// Tokenizer files copied unchanged (`chat_template.jinja`, `chat_template.json`).
    var copiedFiles: [(name: String, data: Data)] = []

    static let copiedFileNames = ["chat_template.jinja", "chat_template.json"]

    /// A Hugging Face folder: `config.json`, `model.safetensors` (or shards), `tokenizer.json`.
    static func folder(_ directory: URL, loadWeights: Bool) throws -> A2DSource {
        let configURL = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw A2DConversionError.missingFile(path: configURL.path, reason: "the model folder's configuration")
        }
        let config = try ConfigJSON.parse(try Data(contentsOf: configURL), path: configURL.path)
        let spec = try baseSpec(config, path: configURL.path)
        var model: LlamaModel<Float>?
        if loadWeights {
            let fm = FileManager.default
            guard fm.fileExists(atPath: directory.appendingPathComponent(SafeTensorsCheckpoint.singleFileName).path)
                || fm.fileExists(atPath: directory.appendingPathComponent(SafeTensorsCheckpoint.indexFileName).path) else {
                throw A2DConversionError.missingFile(
                    path: directory.appendingPathComponent(SafeTensorsCheckpoint.singleFileName).path,
                    reason: "the weights to keep; --random-init converts the architecture alone")
            }
            let loaded = LlamaModel<Float>(spec: spec)
            try ModelFolder.loadWeights(into: loaded, from: try SafeTensorsCheckpoint(directory: directory), path: directory.path)
            model = loaded
        }
        let tokenizerURL = directory.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: tokenizerURL.path) else {
            throw A2DConversionError.missingFile(path: tokenizerURL.path, reason: "the mask token is added to the tokenizer")
        }
        var source = A2DSource(path: directory.path, config: config, spec: spec, model: model,
                               tokenizerJSON: try parse(try Data(contentsOf: tokenizerURL), path: tokenizerURL.path),
                               tokenizerConfig: try readJSON(directory.appendingPathComponent("tokenizer_config.json")) ?? .object([]))
        source.generationConfig = try readJSON(directory.appendingPathComponent("generation_config.json"))
        source.specialTokensMap = try readJSON(directory.appendingPathComponent("special_tokens_map.json"))
        for name in copiedFileNames {
            let url = directory.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: url.path) { source.copiedFiles.append((name, try Data(contentsOf: url))) }
        }
        return source
    }

    /// A llama.cpp `.gguf` file, read as `dllm convert gguf` reads it (weights dequantised to fp32).
    static func gguf(_ path: String, loadWeights: Bool) throws -> A2DSource {
        let file = try GGUFFile(path: path)
        let tokenizer = try GGUFTokenizerImport.convert(file.metadata, source: file.path)
        let configObject: [String: Any]
        var model: LlamaModel<Float>?
        if loadWeights {
            let loaded = try GGUFModelImport.load(file)
            (model, configObject) = (loaded.model, loaded.config)
        } else {
            configObject = try GGUFModelConfig.huggingFaceConfig(file)
        }
        let configPath = path + " (config from metadata)"
        guard let config = JSONValue(foundationObject: configObject) else {
            throw ModelError.unreadableConfig(path: configPath, reason: "the configuration holds a value JSON cannot represent")
        }
        return A2DSource(path: path, config: config, spec: try baseSpec(config, path: configPath), model: model,
                         tokenizerJSON: try parse(Data(tokenizer.tokenizerJSON.utf8), path: path + " (tokenizer.json)"),
                         tokenizerConfig: try parse(Data(tokenizer.tokenizerConfigJSON.utf8), path: path + " (tokenizer_config.json)"))
    }

    /// The source's shape, after checking its `model_type` has an A2D counterpart.
    static func baseSpec(_ config: JSONValue, path: String) throws -> LlamaSpec {
        let type = config["model_type"]?.stringValue ?? "(none)"
        guard A2DConverter.baseTypes.contains(type) else { throw A2DConversionError.unsupportedModelType(type, path: path) }
        guard let spec = try ModelRegistry.architecture(config: config, path: path) as? LlamaSpec else {
            preconditionFailure("llama/qwen2/qwen3 configs decode to the llama family")
        }
        return spec
    }

    /// A JSON file, or nil when it does not exist.
    static func readJSON(_ url: URL) throws -> JSONValue? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try parse(try Data(contentsOf: url), path: url.path)
    }

    static func parse(_ data: Data, path: String) throws -> JSONValue {
        var options = ConfigJSON.options
        options.file = path
        do { return try JSONParser.parse(data, options: options) } catch let error as JSONError {
            throw A2DConversionError.malformedFile(path: path, key: "(file)", reason: "not valid JSON (\(error.detail))")
        }
    }
}
