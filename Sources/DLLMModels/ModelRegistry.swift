import DLLMCompute
import DLLMJSON
import Foundation

/// Maps `config.json`'s `model_type` to how that file becomes an architecture and a model
/// (mlx-swift-lm's `ModelTypeRegistry` idea), open to other modules and test targets.
///
/// Adding an architecture is one file and one line: the file declares a ``ModelConfiguration``
/// (the `Codable` form of its `config.json`), a ``ModelArchitecture`` (the validated description:
/// constructor, initialisation, checkpoint names) and a ``LanguageModel`` (one forward pass serving
/// training and cached inference); the line registers the configuration under its `model_type`,
/// in ``builtIn`` for dllm's own architectures or with ``register(_:configuration:)`` at run time
/// before a folder is loaded. An alias (another `model_type` for the same configuration) is one more
/// line; an entry with its own ``Entry/init(decode:)`` closure can adjust the decoded configuration.
public enum ModelRegistry {
    /// How one `model_type` becomes an architecture.
    public struct Entry: Sendable {
        /// Decodes the parsed `config.json` (`path` names it in errors). A `DecodingError` it throws
        /// is reported as a ``ModelError/unreadableConfig(path:reason:)`` naming the key.
        public let decode: @Sendable (_ config: JSONValue, _ path: String) throws -> any ModelArchitecture

        public init(decode: @escaping @Sendable (_ config: JSONValue, _ path: String) throws -> any ModelArchitecture) {
            self.decode = decode
        }

        /// The entry of a configuration type: `JSONValueDecoder`, then ``ModelConfiguration/architecture(path:)``.
        public init<C: ModelConfiguration>(_ configuration: C.Type) {
            decode = { config, path in try JSONValueDecoder().decode(C.self, from: config).architecture(path: path) }
        }

        /// Another name for the `base` type: the file is decoded by `base`'s entry (looked up when a
        /// file is loaded) as if its `model_type` were `base`.
        public static func alias(of base: String) -> Entry {
            Entry { config, path in
                guard let entry = ModelRegistry.entry(for: base) else { throw ModelError.unknownModelType(base, path: path) }
                guard case .object(let members) = config else {
                    throw ModelError.unreadableConfig(path: path, reason: "the top level is not a JSON object")
                }
                let renamed = members.map { $0.key == "model_type" ? (key: $0.key, value: JSONValue.string(base)) : $0 }
                return try entry.decode(.object(renamed), path)
            }
        }
    }

    /// dllm's own architectures, one line each.
    static let builtIn: [String: Entry] = [
        // a2d-*: the base shape with bidirectional attention (LlamaConfiguration reads the prefix; docs/a2d.md).
        "a2d-llama": Entry(LlamaConfiguration.self),
        "a2d-qwen2": Entry(LlamaConfiguration.self),
        "a2d-qwen3": Entry(LlamaConfiguration.self),
        // Dream: Qwen2 with bidirectional attention, in Dream's own config keys (docs/dream.md).
        "Dream": Entry(DreamConfiguration.self),
        // editflow-*: an A2D/LLaDA backbone plus the Edit Flows heads (docs/objectives.md, "Edit Flows").
        "editflow-llada": Entry(LLaDAConfiguration.self),
        "editflow-llama": Entry(LlamaConfiguration.self),
        "editflow-qwen2": Entry(LlamaConfiguration.self),
        "editflow-qwen3": Entry(LlamaConfiguration.self),
        "bert": Entry(BertConfiguration.self),
        "gpt2": Entry(GPT2Configuration.self),
        "llada": Entry(LLaDAConfiguration.self),
        "llama": Entry(LlamaConfiguration.self),
        // LLaDA-MoE: sparse top-k SwiGLU experts in a bidirectional OLMoE decoder (docs/dream.md).
        "lladamoe": Entry(LLaDAMoEConfiguration.self),
        "qwen2": Entry(LlamaConfiguration.self),
        "qwen3": Entry(LlamaConfiguration.self),
    ]

    private static let table = EntryTable(builtIn)

    /// Registers (or replaces) the entry for `modelType`; safe from any thread.
    public static func register(_ modelType: String, _ entry: Entry) { table.set(modelType, entry) }

    /// Registers a configuration type under `modelType` (call it once per alias).
    public static func register<C: ModelConfiguration>(_ modelType: String, configuration: C.Type) {
        register(modelType, Entry(configuration))
    }

    /// The entry registered for `modelType`, if any.
    public static func entry(for modelType: String) -> Entry? { table.get(modelType) }

    /// Every registered `model_type`, sorted.
    public static var supportedTypes: [String] { table.keys() }

    /// Decodes a `config.json` into an architecture; `path` names the file in errors.
    public static func architecture(configJSON data: Data, path: String) throws -> any ModelArchitecture {
        try architecture(config: try ConfigJSON.parse(data, path: path), path: path)
    }

    /// Decodes an already parsed `config.json` into an architecture (the file is parsed once).
    public static func architecture(config: JSONValue, path: String) throws -> any ModelArchitecture {
        guard case .object = config else {
            throw ModelError.unreadableConfig(path: path, reason: "the top level is not a JSON object")
        }
        guard let type = config["model_type"]?.stringValue else {
            throw ModelError.unreadableConfig(path: path, reason: "no \"model_type\" string")
        }
        guard let entry = entry(for: type) else { throw ModelError.unknownModelType(type, path: path) }
        do {
            return try entry.decode(config, path)
        } catch let error as DecodingError {
            throw ModelError.unreadableConfig(path: path, reason: describe(error))
        }
    }

    /// A freshly allocated (zeroed) model for an architecture.
    public static func makeModel<S: ComputeScalar>(_ architecture: any ModelArchitecture, as _: S.Type = S.self) -> any LanguageModel<S> {
        architecture.makeModel(as: S.self)
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

/// The registry's entries behind a lock, so registration may happen on any thread.
/// `@unchecked Sendable`: `entries` is only read or written while `lock` is held.
/// (`Synchronization.Mutex` would need macOS 15, above the package's platform.)
private final class EntryTable: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: ModelRegistry.Entry]

    init(_ entries: [String: ModelRegistry.Entry]) { self.entries = entries }

    func get(_ key: String) -> ModelRegistry.Entry? { lock.withLock { entries[key] } }
    func set(_ key: String, _ entry: ModelRegistry.Entry) { lock.withLock { entries[key] = entry } }
    func keys() -> [String] { lock.withLock { entries.keys.sorted() } }
}
