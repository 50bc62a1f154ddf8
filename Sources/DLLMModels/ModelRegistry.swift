import DLLMCompute
import DLLMJSON
import Foundation

/// Maps `config.json`'s `model_type` to a configuration decoder and a model
/// constructor (mlx-swift-lm's registry idea).
public enum ModelRegistry {
    public static let supportedTypes = ["a2d-llama", "a2d-qwen2", "a2d-qwen3", "gpt2", "llada", "llama", "qwen2", "qwen3"]

    /// Decodes a `config.json` into an architecture; `path` names the file in errors.
    public static func architecture(configJSON data: Data, path: String) throws -> ModelArchitecture {
        try architecture(config: try ConfigJSON.parse(data, path: path), path: path)
    }

    /// Decodes an already parsed `config.json` into an architecture (the file is parsed once).
    public static func architecture(config: JSONValue, path: String) throws -> ModelArchitecture {
        guard case .object = config else {
            throw ModelError.unreadableConfig(path: path, reason: "the top level is not a JSON object")
        }
        guard let type = config["model_type"]?.stringValue else {
            throw ModelError.unreadableConfig(path: path, reason: "no \"model_type\" string")
        }
        let decoder = JSONValueDecoder()
        do {
            switch type {
            case "llama", "qwen2", "qwen3", "a2d-llama", "a2d-qwen2", "a2d-qwen3":
                return .llamaFamily(try decoder.decode(LlamaConfiguration.self, from: config).spec(path: path))
            case "llada":
                return .llamaFamily(try decoder.decode(LLaDAConfiguration.self, from: config).spec(path: path))
            case "gpt2":
                let gpt2 = try decoder.decode(GPT2Configuration.self, from: config)
                try gpt2.validate(path: path)
                return .gpt2(gpt2)
            default:
                throw ModelError.unknownModelType(type, path: path)
            }
        } catch let error as DecodingError {
            throw ModelError.unreadableConfig(path: path, reason: describe(error))
        }
    }

    /// A freshly allocated (zeroed) model for an architecture.
    public static func makeModel<S: ComputeScalar>(_ architecture: ModelArchitecture, as _: S.Type = S.self) -> any LanguageModel<S> {
        switch architecture {
        case .llamaFamily(let spec): return LlamaModel<S>(spec: spec)
        case .gpt2(let config): return GPT2Model<S>(config: config)
        }
    }

    /// Names the key a `DecodingError` is about, in the checkpoint's spelling.
    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [CodingKey]) -> String { codingPath.map(\.stringValue).joined(separator: ".") }
        switch error {
        case let .keyNotFound(key, ctx): return "missing key \"\(path(ctx.codingPath + [key]))\""
        case let .typeMismatch(type, ctx): return "key \"\(path(ctx.codingPath))\" should be \(type)"
        case let .valueNotFound(type, ctx): return "key \"\(path(ctx.codingPath))\" is null, expected \(type)"
        case let .dataCorrupted(ctx): return "key \"\(path(ctx.codingPath))\": \(ctx.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
