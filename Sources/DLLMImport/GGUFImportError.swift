/// What can go wrong turning a GGUF file into a Hugging Face model (the file itself
/// was already validated by `GGUFFile`). Every case names the file and the key or tensor.
public enum GGUFImportError: Error, CustomStringConvertible, Equatable, Sendable {
    /// `general.architecture` is not one this importer maps (`llama`, `qwen2`).
    case unsupportedArchitecture(file: String, architecture: String)
    /// A metadata key the configuration needs is absent or of the wrong type.
    case missingKey(file: String, key: String, expected: String)
    /// A metadata value dllm cannot run (e.g. RoPE scaling).
    case unsupportedValue(file: String, key: String, value: String, reason: String)
    /// A tensor the model needs is absent.
    case missingTensor(file: String, tensor: String, huggingFaceName: String)
    /// A tensor's shape disagrees with the configuration.
    case shapeMismatch(file: String, tensor: String, expected: [Int], found: [Int])
    /// A tensor with no place in the model (e.g. `rope_freqs.weight` for scaled RoPE).
    case unexpectedTensor(file: String, tensor: String)

    public var description: String {
        switch self {
        case let .unsupportedArchitecture(file, architecture):
            return "'\(file)': general.architecture is '\(architecture)'; only 'llama' and 'qwen2' GGUF files can be imported."
        case let .missingKey(file, key, expected):
            return "'\(file)': metadata key '\(key)' is missing or not \(expected)."
        case let .unsupportedValue(file, key, value, reason):
            return "'\(file)': metadata key '\(key)' is \(value): \(reason)."
        case let .missingTensor(file, tensor, hfName):
            return "'\(file)': tensor '\(tensor)' (Hugging Face '\(hfName)') is missing."
        case let .shapeMismatch(file, tensor, expected, found):
            return "'\(file)': tensor '\(tensor)' has shape \(found) (PyTorch order); the metadata implies \(expected)."
        case let .unexpectedTensor(file, tensor):
            return "'\(file)': tensor '\(tensor)' has no place in a llama/qwen2 model (unsupported feature)."
        }
    }
}
