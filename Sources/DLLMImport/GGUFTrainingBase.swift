import DLLMCompute
import DLLMGGUF
import DLLMJSON
import DLLMModels
import DLLMTokenizers
import Foundation

/// A llama/qwen2 GGUF file as the frozen base of a LoRA training run (`base_quantization: gguf`,
/// docs/qlora.md): its Q4_0, Q4_1 and Q8_0 matrices (block matrices, token embedding, an untied
/// head) stay in the file's blocks — read by ``GGUFQuantizedImport`` and handed to the training
/// kernels as a ``FrozenLlamaBase`` without a float copy — and are dequantised a few rows at a time
/// inside each product, forward and backward through the input. Norms, and matrices of any other
/// type (F16, K-quants, Q5_x), are dequantised into the model's flat buffer, frozen as well.
public enum GGUFTrainingBase {
    /// A path names a GGUF file when it is a regular file ending in `.gguf`.
    public static func isGGUF(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return path.lowercased().hasSuffix(".gguf") && FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            && !isDirectory.boolValue
    }

    /// The model with its frozen quantised base set, and the `config.json` object the metadata implies.
    public static func load(_ file: GGUFFile) throws -> (model: LlamaModel<Float>, config: JSONValue) {
        let imported = try GGUFQuantizedImport.load(file)
        let model = imported.model
        // Without a matrix in those block types the base is float, frozen all the same.
        if let weights = model.quantizedWeights {
            model.frozenBase = FrozenLlamaBase(weights)
            model.quantizedWeights = nil
        }
        return (model, JSONValue(foundationObject: imported.config) ?? .object([]))
    }
}

extension GGUFTokenizerImport {
    /// The file's tokenizer (and chat template) as the data pipeline reads one: its
    /// `tokenizer.json` and `tokenizer_config.json` written into `folder` (created if needed),
    /// then read back by `BPETextTokenizer`.
    public static func textTokenizer(of file: GGUFFile, writingTo folder: URL) throws -> BPETextTokenizer {
        try convert(file.metadata, source: file.path).write(to: folder)
        return try BPETextTokenizer(path: folder.path)
    }
}
