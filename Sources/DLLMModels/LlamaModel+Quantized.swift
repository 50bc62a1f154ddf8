import DLLMCompute

extension LlamaModel where S == Float {
    /// Quantized copies of this model's fp32 matrices: every block matrix as `type`, the
    /// embedding and head as `tableType` (nil keeps them fp32). The fp32 buffer is left as it is;
    /// assign the result to `quantizedWeights` to run inference on it.
    public func quantizedCopy(_ type: QuantizedType, tableType: QuantizedType? = .q8_0) throws -> QuantizedLlamaWeights {
        let p = parameters.pointer
        let C = spec.hidden, QD = spec.heads * spec.headDim, KVD = spec.kvHeads * spec.headDim, I = spec.intermediate
        func matrix(_ offset: Int, _ rows: Int, _ cols: Int, _ t: QuantizedType) throws -> QuantizedMatrix {
            try QuantizedMatrix.quantizing(p + offset, rows: rows, cols: cols, as: t)
        }
        let layers = try offsets.layers.map { w in
            QuantizedLlamaWeights.Layer(q: try matrix(w.q, QD, C, type), k: try matrix(w.k, KVD, C, type), v: try matrix(w.v, KVD, C, type),
                                        o: try matrix(w.o, C, QD, type), gate: try matrix(w.gate, I, C, type),
                                        up: try matrix(w.up, I, C, type), down: try matrix(w.down, C, I, type))
        }
        guard let tableType else { return QuantizedLlamaWeights(layers: layers) }
        let embedding = try matrix(offsets.embedding, spec.vocab, C, tableType)
        let head = spec.tiedEmbeddings ? embedding : try matrix(offsets.head, spec.vocab, C, tableType)
        return QuantizedLlamaWeights(layers: layers, embedding: embedding, head: head)
    }
}
