/// Errors a user can cause by pointing the loader at a folder, each naming what to fix.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case missingConfig(path: String)
    case unreadableConfig(path: String, reason: String)
    case unknownModelType(String, path: String)
    case invalidValue(key: String, value: String, reason: String, path: String)
    case unsupported(key: String, value: String, path: String)
    case missingTensor(name: String, path: String)
    case shardedCheckpoint(path: String, shard: String)
    case unexpectedTensor(name: String, path: String)
    case shapeMismatch(name: String, expected: [Int], found: [Int], path: String)

    public var description: String {
        switch self {
        case let .missingConfig(path):
            return "\(path): no config.json. A model folder needs config.json (and model.safetensors, or nothing for random initialisation)."
        case let .unreadableConfig(path, reason):
            return "\(path): cannot read the model configuration: \(reason)"
        case let .unknownModelType(type, path):
            return "\(path): model_type \"\(type)\" is not supported. Supported: \(ModelRegistry.supportedTypes.joined(separator: ", "))."
        case let .invalidValue(key, value, reason, path):
            return "\(path): key \"\(key)\" = \(value) is invalid: \(reason)."
        case let .unsupported(key, value, path):
            return "\(path): key \"\(key)\" = \(value) is not supported by dllm."
        case let .shardedCheckpoint(path, shard):
            return "\(path): holds the parameters as per-rank shards (\(shard)) and no model.safetensors; "
                + "run `dllm checkpoint consolidate \(path)` first, then load the folder"
        case let .missingTensor(name, path):
            return "\(path): tensor \"\(name)\" is missing from the checkpoint."
        case let .unexpectedTensor(name, path):
            return "\(path): tensor \"\(name)\" is in the checkpoint but not in the model described by config.json."
        case let .shapeMismatch(name, expected, found, path):
            return "\(path): tensor \"\(name)\" has shape \(found), config.json implies \(expected)."
        }
    }
}
