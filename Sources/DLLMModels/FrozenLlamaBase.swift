import DLLMCompute

/// The frozen, quantised matrices a LLaMA-family model trains over under LoRA (QLoRA, Dettmers et al.
/// 2023): the training forward multiplies by them (``frozenLinearForward``) and backward sends the
/// gradient through their inputs only (``frozenLinearBackwardInput``); they get no weight gradient.
/// A matrix left nil is read from the model's flat fp32 buffer as usual. The flat buffer's slots of
/// the matrices held here are never read or written, so (zero pages from calloc) they cost no memory.
public struct FrozenLlamaBase: Sendable {
    public struct Layer: Sendable {
        public var q, k, v, o, gate, up, down: FrozenQuantizedMatrix?
        public init(q: FrozenQuantizedMatrix? = nil, k: FrozenQuantizedMatrix? = nil, v: FrozenQuantizedMatrix? = nil,
                    o: FrozenQuantizedMatrix? = nil, gate: FrozenQuantizedMatrix? = nil, up: FrozenQuantizedMatrix? = nil,
                    down: FrozenQuantizedMatrix? = nil) {
            self.q = q; self.k = k; self.v = v; self.o = o; self.gate = gate; self.up = up; self.down = down
        }

        /// q, k, v, o, gate, up, down.
        public var all: [FrozenQuantizedMatrix?] { [q, k, v, o, gate, up, down] }
    }

    /// One entry per block.
    public var layers: [Layer]
    /// Token embedding (vocab, hidden): looked-up rows are dequantised one by one; no gradient.
    public var embedding: FrozenQuantizedMatrix?
    /// Output head (vocab, hidden); the embedding itself for tied models.
    public var head: FrozenQuantizedMatrix?
    /// The tile scratch the products share (one training step runs them one after another).
    public let scratch: FrozenLinearScratch

    public init(layers: [Layer], embedding: FrozenQuantizedMatrix? = nil, head: FrozenQuantizedMatrix? = nil) {
        self.layers = layers
        self.embedding = embedding
        self.head = head
        scratch = FrozenLinearScratch()
    }

    /// Bytes of every distinct matrix (a tied head counted once).
    public var byteCount: Int {
        var total = layers.reduce(0) { sum, l in sum + l.all.reduce(0) { $0 + ($1?.byteCount ?? 0) } }
        total += embedding?.byteCount ?? 0
        if let head, head.data != embedding?.data { total += head.byteCount }
        return total
    }

    /// The inference path's quantised matrices (e.g. a GGUF's Q4_1/Q8_0 tensors, already un-permuted
    /// by ``QuantizedLlamaWeights``' importer) as a frozen base, without copying a byte.
    public init(_ weights: QuantizedLlamaWeights) {
        func wrap(_ m: QuantizedMatrix?) -> FrozenQuantizedMatrix? { m.map(FrozenQuantizedMatrix.init) }
        self.init(layers: weights.layers.map {
            Layer(q: wrap($0.q), k: wrap($0.k), v: wrap($0.v), o: wrap($0.o), gate: wrap($0.gate), up: wrap($0.up), down: wrap($0.down))
        }, embedding: wrap(weights.embedding), head: wrap(weights.head))
    }
}

extension LlamaModel where S == Float {
    /// The model's fp32 block matrices quantised into `target` as a frozen base (`base_quantization`,
    /// `load_in_4bit` → nf4). With `tables`, the embedding and head are quantised too (a tied head
    /// is the embedding). The fp32 buffer is left as it is.
    public func frozenBaseCopy(_ target: FrozenQuantizedMatrix.QuantizeTarget, tables: Bool = true) throws -> FrozenLlamaBase {
        let builder = FrozenLlamaBaseBuilder(model: self, target: target, tables: tables)
        for slot in layout.slots where builder.takes(slot) {
            try builder.add(slot, parameters.pointer + slot.offset)
        }
        return builder.base
    }

    /// The flat-buffer ranges of every matrix `base` holds: the fp32 copies a frozen base makes
    /// unnecessary (a caller frees them with DLLMDistributed's `MemoryRelease.discard` so only the
    /// quantised copy stays resident).
    public func floatSlots(heldBy base: FrozenLlamaBase) -> [Range<Int>] {
        let C = spec.hidden, QD = spec.heads * spec.headDim, KVD = spec.kvHeads * spec.headDim, I = spec.intermediate
        var ranges: [Range<Int>] = []
        for (l, w) in offsets.layers.enumerated() {
            let layer = base.layers[l]
            for (m, offset, count) in [(layer.q, w.q, QD * C), (layer.k, w.k, KVD * C), (layer.v, w.v, KVD * C), (layer.o, w.o, C * QD),
                                       (layer.gate, w.gate, I * C), (layer.up, w.up, I * C), (layer.down, w.down, C * I)] where m != nil {
                ranges.append(offset..<(offset + count))
            }
        }
        if base.embedding != nil { ranges.append(offsets.embedding..<(offsets.embedding + spec.vocab * C)) }
        if base.head != nil && !spec.tiedEmbeddings { ranges.append(offsets.head..<(offsets.head + spec.vocab * C)) }
        return ranges
    }
}

extension LlamaModel where S == Float {
    /// Every block matrix, the embedding and the head of this fp32 model as a frozen F32 base over
    /// the flat buffer's own bytes (no copy): LoRA over a float base, with no weight gradients.
    public func frozenFloatBase() -> FrozenLlamaBase {
        let p = UnsafeRawPointer(parameters.pointer)
        let C = spec.hidden, QD = spec.heads * spec.headDim, KVD = spec.kvHeads * spec.headDim, I = spec.intermediate
        func matrix(_ offset: Int, _ rows: Int, _ cols: Int) -> FrozenQuantizedMatrix {
            try! FrozenQuantizedMatrix(format: .ggml(.f32), rows: rows, cols: cols, data: p + offset * 4, byteCount: rows * cols * 4,
                                       owner: parameters)
        }
        let layers = offsets.layers.map { w in
            FrozenLlamaBase.Layer(q: matrix(w.q, QD, C), k: matrix(w.k, KVD, C), v: matrix(w.v, KVD, C), o: matrix(w.o, C, QD),
                                  gate: matrix(w.gate, I, C), up: matrix(w.up, I, C), down: matrix(w.down, C, I))
        }
        let embedding = matrix(offsets.embedding, spec.vocab, C)
        return FrozenLlamaBase(layers: layers, embedding: embedding,
                               head: spec.tiedEmbeddings ? embedding : matrix(offsets.head, spec.vocab, C))
    }
}
