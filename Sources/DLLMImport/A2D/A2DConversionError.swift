/// What `dllm convert a2d` refuses, each case naming the file and the key at fault.
public enum A2DConversionError: Error, CustomStringConvertible, Equatable {
    /// The source's `model_type` has no A2D counterpart (dLLM's `A2D_CONFIG_MAP` has llama, qwen2, qwen3).
    case unsupportedModelType(String, path: String)
    /// A file the conversion needs is absent (`tokenizer.json`: the mask token goes into it).
    case missingFile(path: String, reason: String)
    /// A JSON file of the input (tokenizer, generation config) is not what `transformers` writes.
    case malformedFile(path: String, key: String, reason: String)
    /// The mask token text is unusable.
    case invalidMaskToken(String, reason: String)

    public var description: String {
        switch self {
        case let .unsupportedModelType(type, path):
            return "\(path): model_type \"\(type)\" cannot be converted to A2D; supported source types: "
                + A2DConverter.baseTypes.joined(separator: ", ") + "."
        case let .missingFile(path, reason):
            return "\(path): missing (\(reason))."
        case let .malformedFile(path, key, reason):
            return "\(path): key \"\(key)\": \(reason)."
        case let .invalidMaskToken(token, reason):
            return "mask token \"\(token)\": \(reason)."
        }
    }
}
