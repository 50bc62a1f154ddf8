import DLLMCheckpoint
import DLLMCompute
import DLLMJSON
import DLLMModels
import DLLMRandom
import Foundation

/// What `dllm convert editflow` refuses, naming the file at fault.
public enum EditFlowConversionError: Error, CustomStringConvertible, Equatable {
    /// The source is not an A2D or LLaDA model (dLLM's `EDITFLOW_MAP`).
    case unsupportedModelType(String, path: String)

    public var description: String {
        switch self {
        case let .unsupportedModelType(type, path):
            return "\(path): model_type \"\(type)\" cannot take Edit Flows heads; supported: "
                + EditFlowConverter.baseTypes.joined(separator: ", ") + " (run `dllm convert a2d` on a llama/qwen2/qwen3 model first)."
        }
    }
}

/// `dllm convert editflow IN OUT`: an A2D or LLaDA folder with the Edit Flows heads added, with the
/// semantics of dLLM `pipelines/editflow/convert.py` and `utils.init_editflow_from_src`:
///
/// - every backbone tensor (and the LM head) copied under its own name;
/// - `sub_logits.weight` and `ins_logits.weight` copies of the LM head (the embedding when tied);
/// - `rate_heads.0` freshly initialised, weights ~ N(0, initializer_range²), bias 0 (HF `_init_weights`);
/// - `config.json` the source's with `model_type` `editflow-<base>` (`a2d-qwen3` → `editflow-qwen3`,
///   `llada` → `editflow-llada`), `architectures` and `auto_map` removed;
/// - the tokenizer and generation files copied unchanged.
public enum EditFlowConverter {
    /// Source `model_type`s. dLLM's map has a2d-qwen2, a2d-qwen3 and llada; dllm adds a2d-llama.
    public static let baseTypes = ["a2d-llama", "a2d-qwen2", "a2d-qwen3", "llada"]
    static let copiedFileNames = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
                                  "chat_template.jinja", "chat_template.json"]

    public struct Summary: Sendable {
        public let modelType: String
        public let parameterCount: Int
        public let files: [String]
    }

    @discardableResult
    public static func convert(input: URL, to output: URL, seed: UInt64 = 0, dtype: SafeTensorsDType = .F32) throws -> Summary {
        let configPath = input.appendingPathComponent("config.json").path
        let loaded = try ModelFolder.load(input, as: Float.self, seed: seed)
        let type = loaded.model.architecture.modelType
        guard let spec = loaded.model.architecture as? LlamaSpec, baseTypes.contains(type),
              let newType = EditFlowHeadNames.modelType(forBase: type) else {
            throw EditFlowConversionError.unsupportedModelType(type, path: configPath)
        }
        guard let source = loaded.model as? LlamaModel<Float> else { preconditionFailure("a LlamaSpec makes a LlamaModel") }
        var target = spec
        target.modelType = newType
        target.editFlowHeads = true
        let model = LlamaModel<Float>(spec: target)
        Initialization.initialize(model, seed: seed)
        let head = source.layout.slot(spec.tiedEmbeddings ? spec.names.embedding : spec.names.head)!
        for slot in model.layout.slots {
            let from = EditFlowHeadNames.all.prefix(2).contains(slot.name) ? head : source.layout.slot(slot.name)
            guard let from else { continue }   // the rate head keeps its initialisation
            precondition(from.shape == slot.shape, "EditFlowConverter: \(slot.name) \(from.shape) → \(slot.shape)")
            (model.parameters.pointer + slot.offset).update(from: source.parameters.pointer + from.offset, count: slot.count)
        }
        var config = loaded.configJSON
        config["model_type"] = .string(newType)
        config["architectures"] = nil
        config["auto_map"] = nil
        try ModelFolder.save(model, config: config, to: output, dtype: dtype)
        var files = ["config.json", SafeTensorsCheckpoint.singleFileName]
        for name in copiedFileNames where FileManager.default.fileExists(atPath: input.appendingPathComponent(name).path) {
            try AtomicFile.write(try Data(contentsOf: input.appendingPathComponent(name)), to: output.appendingPathComponent(name))
            files.append(name)
        }
        return Summary(modelType: newType, parameterCount: model.parameterCount, files: files)
    }
}
