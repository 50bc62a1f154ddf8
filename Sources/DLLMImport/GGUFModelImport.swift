import DLLMCheckpoint
import DLLMCompute
import DLLMGGUF
import DLLMJSON
import DLLMModels
import Foundation

/// A `llama` or `qwen2` GGUF file as a dequantised `LlamaModel<Float>` with Hugging Face
/// tensor names, and as a Hugging Face model folder.
///
/// Each Hugging Face parameter slot of the model's layout is filled from the GGUF tensor
/// of the mapped name (``GGUFTensorNames``), dequantised row by row straight into the
/// flat parameter buffer (bit-exact with gguf-py). For `llama`, q/k rows are read through
/// ``GGUFRotaryPermutation`` to undo llama.cpp's rotary permutation.
public enum GGUFModelImport {
    /// The model and its `config.json` object.
    public static func load(_ file: GGUFFile) throws -> (model: LlamaModel<Float>, config: [String: Any]) {
        let config = try GGUFModelConfig.huggingFaceConfig(file)
        let model = try emptyModel(config: config, file: file)
        try fill(model, from: file)
        return (model, config)
    }

    /// Opens `path` and loads it (see ``load(_:)``).
    public static func load(path: String) throws -> (model: LlamaModel<Float>, config: [String: Any]) {
        try load(try GGUFFile(path: path))
    }

    /// A zeroed model of the configuration's shape, through the same decoder `config.json` goes through.
    static func emptyModel(config: [String: Any], file: GGUFFile) throws -> LlamaModel<Float> {
        let path = file.path + " (config from metadata)"
        guard let json = JSONValue(foundationObject: config) else {
            throw ModelError.unreadableConfig(path: path, reason: "the configuration holds a value JSON cannot represent")
        }
        guard let spec = try ModelRegistry.architecture(config: json, path: path) as? LlamaSpec else {
            preconditionFailure("llama/qwen2 configs decode to the llama family")
        }
        return LlamaModel<Float>(spec: spec)
    }

    /// Dequantises every slot of the model's layout from the file.
    static func fill(_ model: LlamaModel<Float>, from file: GGUFFile) throws {
        let arch = try GGUFModelConfig.architecture(of: file)
        let spec = model.spec
        var used = Set<String>()
        for slot in model.layout.slots {
            let source = try sourceTensor(for: slot, in: file, architecture: arch, headDim: spec.headDim)
            used.insert(source.tensor.name)
            copyRows(of: source.tensor, in: file, into: model.parameters.pointer + slot.offset, headDim: source.permutedHeadDim)
        }
        try rejectUnused(file, used: used, tiedEmbeddings: spec.tiedEmbeddings)
    }

    /// The GGUF tensor that fills a layout slot, after checking it is present, has the slot's
    /// shape and a type this project reads; `permutedHeadDim` is the head dimension when its rows
    /// carry llama.cpp's rotary permutation (llama q/k projections), else nil.
    static func sourceTensor(for slot: TensorSlot, in file: GGUFFile, architecture: String,
                             headDim: Int) throws -> (tensor: GGUFTensorInfo, permutedHeadDim: Int?) {
        guard let ggufName = GGUFTensorNames.ggufName(ofHuggingFace: slot.name) else {
            preconditionFailure("no GGUF name for layout slot \(slot.name)")
        }
        guard let tensor = file.tensor(named: ggufName) else {
            throw GGUFImportError.missingTensor(file: file.path, tensor: ggufName, huggingFaceName: slot.name)
        }
        guard tensor.shape == slot.shape else {
            throw GGUFImportError.shapeMismatch(file: file.path, tensor: ggufName, expected: slot.shape, found: tensor.shape)
        }
        guard tensor.type.canDequantize else {
            throw GGUFError.unsupportedTensorType(file: file.path, tensor: ggufName, type: tensor.type)
        }
        let permuted = GGUFRotaryPermutation.isPermuted(architecture: architecture) && tensor.dims.count == 2
            && (ggufName.hasSuffix(".attn_q.weight") || ggufName.hasSuffix(".attn_k.weight"))
        return (tensor, permuted ? headDim : nil)
    }

    /// Every tensor of the file must have filled a slot; a tied model may still carry the head.
    static func rejectUnused(_ file: GGUFFile, used: Set<String>, tiedEmbeddings: Bool) throws {
        for tensor in file.tensors where !used.contains(tensor.name) {
            if tensor.name == "output.weight" && tiedEmbeddings { continue }
            throw GGUFImportError.unexpectedTensor(file: file.path, tensor: tensor.name)
        }
    }

    /// Dequantises `tensor` into `destination` (row-major, Hugging Face row order); with
    /// `headDim`, row r comes from GGUF row ``GGUFRotaryPermutation/ggufRow(forHuggingFaceRow:headDim:)``.
    static func copyRows(of tensor: GGUFTensorInfo, in file: GGUFFile, into destination: UnsafeMutablePointer<Float>, headDim: Int?) {
        let data = file.data(of: tensor)
        guard let base = data.baseAddress else { return }
        guard let headDim else {
            GGMLDequantize.rows(tensor.type, from: base, count: tensor.elementCount, into: destination)
            return
        }
        let rowLength = tensor.rowLength, bytesPerRow = tensor.bytesPerRow
        for hfRow in 0 ..< tensor.rowCount {
            let ggufRow = GGUFRotaryPermutation.ggufRow(forHuggingFaceRow: hfRow, headDim: headDim)
            GGMLDequantize.rows(tensor.type, from: base + ggufRow * bytesPerRow, count: rowLength,
                                into: destination + hfRow * rowLength)
        }
    }
}
