import DLLMCompute

/// What a model folder's `config.json` describes once decoded and validated: an open,
/// `Sendable` description that each architecture provides (``LlamaSpec`` for the LLaMA family,
/// ``GPT2Configuration`` for GPT-2, or a type of another module registered with ``ModelRegistry``).
///
/// Everything loading, initialising and training need to know about an architecture is a
/// requirement here, so no caller switches on the kind of model.
public protocol ModelArchitecture: Sendable {
    /// The `model_type` this description came from.
    var modelType: String { get }
    /// The mask token id `config.json` names (masked-diffusion objectives use it), or nil.
    var maskTokenID: Int? { get }
    /// A freshly allocated (zeroed) model of this shape, in scalar type `S`.
    func makeModel<S: ComputeScalar>(as _: S.Type) -> any LanguageModel<S>
    /// Standard deviation of the normal distribution the matrix or embedding `name` starts
    /// from in random initialisation (HF `_init_weights`); norm weights start at 1 and biases
    /// at 0 whatever this says (see ``Initialization``).
    func initialStandardDeviation(of name: String) -> Double
    /// The model's name for checkpoint tensor `name`, or nil for a tensor that carries no
    /// parameter of the model (a causal-mask buffer, a tied head stored anyway). The default
    /// keeps every name; rotary `inv_freq` caches are skipped before this is asked.
    func parameterName(forCheckpointTensor name: String) -> String?
}

extension ModelArchitecture {
    public func parameterName(forCheckpointTensor name: String) -> String? { name }
}

/// A `config.json` as a `Decodable` type, in the checkpoint's own key names (mlx-swift-lm's
/// configuration structs). ``ModelRegistry`` decodes it from the parsed file with DLLMJSON's
/// `JSONValueDecoder`, then asks it for the architecture.
public protocol ModelConfiguration: Decodable, Sendable {
    /// The architecture after rejecting what dllm cannot run; errors are ``ModelError``s
    /// naming `path` (the `config.json`) and the key at fault.
    func architecture(path: String) throws -> any ModelArchitecture
}
