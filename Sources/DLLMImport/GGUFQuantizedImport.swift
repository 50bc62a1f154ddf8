import DLLMCompute
import DLLMGGUF
import DLLMModels
import Foundation

/// A llama/qwen2 GGUF file as a `LlamaModel<Float>` whose Q4_0, Q4_1 and Q8_0 matrices stay
/// quantized, read from the mapped file and copied as they are into one buffer on huge pages
/// (``QuantizedLlamaWeights/packed()``), for the quantized inference kernels. Everything else (norms, F32/F16 or other block types)
/// is dequantised into the model's flat buffer as ``GGUFModelImport`` does; the flat buffer's
/// slots of quantized matrices are never written, so they cost no memory.
///
/// llama q/k matrices are stored with llama.cpp's rotary row permutation; they are un-permuted by
/// copying whole block rows (``GGUFRotaryPermutation``), which is exact. A tied model's embedding
/// is also its head.
public enum GGUFQuantizedImport {
    /// The block formats kept quantized (the kernels' weight types).
    public static func quantizedType(_ type: GGMLType) -> QuantizedType? {
        switch type {
        case .q4_0: return .q4_0
        case .q4_1: return .q4_1
        case .q8_0: return .q8_0
        default: return nil
        }
    }

    public static func load(_ file: GGUFFile) throws -> (model: LlamaModel<Float>, config: [String: Any]) {
        let config = try GGUFModelConfig.huggingFaceConfig(file)
        let model = try GGUFModelImport.emptyModel(config: config, file: file)
        let arch = try GGUFModelConfig.architecture(of: file)
        let spec = model.spec
        var weights = QuantizedLlamaWeights(layers: spec.layers)
        var used = Set<String>()
        for slot in model.layout.slots {
            let (tensor, headDim) = try GGUFModelImport.sourceTensor(for: slot, in: file, architecture: arch, headDim: spec.headDim)
            let ggufName = tensor.name
            used.insert(ggufName)
            let bytes = file.data(of: tensor)
            if let role = model.matrixRole(ofSlotAt: slot.offset), let type = quantizedType(tensor.type),
               tensor.dims.count == 2, tensor.rowLength % quantizedBlockSize == 0, let base = bytes.baseAddress {
                var matrix = try QuantizedMatrix(type: type, rows: tensor.rowCount, cols: tensor.rowLength, data: base,
                                                 byteCount: bytes.count, owner: file, name: "\(file.path): \(ggufName)")
                if let headDim {
                    matrix = matrix.permutingRows((0..<matrix.rows).map {
                        GGUFRotaryPermutation.ggufRow(forHuggingFaceRow: $0, headDim: headDim)
                    })
                }
                weights.set(matrix, for: role)
                if role == .embedding && spec.tiedEmbeddings { weights.set(matrix, for: .head) }
            } else {
                GGUFModelImport.copyRows(of: tensor, in: file, into: model.parameters.pointer + slot.offset, headDim: headDim)
            }
        }
        try GGUFModelImport.rejectUnused(file, used: used, tiedEmbeddings: spec.tiedEmbeddings)
        // One resident buffer on huge pages instead of the mapping's 4 KiB pages (and the file's
        // mapping is released once nothing else holds it).
        model.quantizedWeights = weights.packed()
        return (model, config)
    }

    /// Opens `path` and loads it (see ``load(_:)``).
    public static func load(path: String) throws -> (model: LlamaModel<Float>, config: [String: Any]) {
        try load(try GGUFFile(path: path))
    }
}
