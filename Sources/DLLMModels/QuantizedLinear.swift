import CQuantKernels
import DLLMCompute

/// Quantized weights of a LLaMA-family model for the inference path; a matrix left nil
/// is read from the model's fp32 buffer. Shapes follow the flat buffer's (out, in) matrices.
public struct QuantizedLlamaWeights: Sendable {
    public struct Layer: Sendable {
        public var q, k, v, o, gate, up, down: QuantizedMatrix?
        public init(q: QuantizedMatrix? = nil, k: QuantizedMatrix? = nil, v: QuantizedMatrix? = nil, o: QuantizedMatrix? = nil,
                    gate: QuantizedMatrix? = nil, up: QuantizedMatrix? = nil, down: QuantizedMatrix? = nil) {
            self.q = q; self.k = k; self.v = v; self.o = o; self.gate = gate; self.up = up; self.down = down
        }
    }

    /// One entry per block.
    public var layers: [Layer]
    /// Token embedding (vocab, hidden): rows are looked up and dequantised one by one.
    public var embedding: QuantizedMatrix?
    /// Output head (vocab, hidden); the embedding itself for tied models.
    public var head: QuantizedMatrix?

    public init(layers: [Layer], embedding: QuantizedMatrix? = nil, head: QuantizedMatrix? = nil) {
        self.layers = layers
        self.embedding = embedding
        self.head = head
    }

    /// Bytes of every distinct matrix (the tied head counted once).
    public var byteCount: Int {
        var total = layers.reduce(0) { sum, l in
            sum + [l.q, l.k, l.v, l.o, l.gate, l.up, l.down].reduce(0) { $0 + ($1?.byteCount ?? 0) }
        }
        total += embedding?.byteCount ?? 0
        if let head, head.data != embedding?.data { total += head.byteCount }
        return total
    }
}

extension QuantizedLlamaWeights {
    /// A copy whose matrices all live in one ``QuantizedStorage`` advised for huge pages, in the order a
    /// forward reads them (layer by layer q, k, v, o, gate, up, down; then embedding and head, a tied
    /// head stored once). Decoding streams every matrix once per token; from a mapped file of 4 KiB
    /// pages that costs a TLB miss per page and stops the hardware prefetchers at each page boundary
    /// (measured: a 66 MB Q4_1 product ~8% faster from huge pages, one thread). Bytes are copied as they
    /// are, so every product is unchanged.
    public func packed() -> QuantizedLlamaWeights {
        var order: [QuantizedMatrix] = []
        var offsets: [UnsafeRawPointer: Int] = [:]
        var total = 0
        func reserve(_ m: QuantizedMatrix?) {
            guard let m, offsets[m.data] == nil else { return }
            offsets[m.data] = total
            order.append(m)
            total += (m.byteCount + 63) / 64 * 64
        }
        for l in layers { for m in [l.q, l.k, l.v, l.o, l.gate, l.up, l.down] { reserve(m) } }
        reserve(embedding)
        reserve(head)
        let storage = QuantizedStorage(count: total, hugePages: true)
        for m in order { (storage.pointer + offsets[m.data]!).copyMemory(from: m.data, byteCount: m.byteCount) }
        func place(_ m: QuantizedMatrix?) -> QuantizedMatrix? {
            guard let m else { return nil }
            // The shape and byte count are the source matrix's, already checked.
            return try! QuantizedMatrix(type: m.type, rows: m.rows, cols: m.cols, data: storage.pointer + offsets[m.data]!,
                                        byteCount: m.byteCount, owner: storage)
        }
        return QuantizedLlamaWeights(
            layers: layers.map { l in
                Layer(q: place(l.q), k: place(l.k), v: place(l.v), o: place(l.o), gate: place(l.gate), up: place(l.up), down: place(l.down))
            },
            embedding: place(embedding), head: place(head))
    }
}

/// Scratch of ``quantizedLinear``: room for the quantised activation rows (decode) or the
/// dequantised matrix (prefill).
func quantizedLinearScratchBytes(_ m: QuantizedMatrix, N: Int) -> Int {
    if N > fewRowsLimit { return m.rows * m.cols * MemoryLayout<Float>.stride }
    return N * (m.cols / quantizedBlockSize) * Int(cqk_block_bytes(cqk_activation_type(m.type.rawValue)))
}

/// `out (N, M.rows) = inp (N, M.cols) · Mᵀ + bias` with a quantized `M`.
///
/// Few rows (decoding): the input rows are quantised to Q8_0/Q8_1 blocks and multiplied block
/// against block by the CQuantKernels dot products, the matrix rows split across threads (as
/// ggml's `ggml_compute_forward_mul_mat` does with `vec_dot`). Many rows (prefill): the matrix is
/// dequantised into `scratch` and multiplied by sgemm, which is faster once its packing is shared by
/// enough rows.
func quantizedLinear(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ m: QuantizedMatrix,
                     _ bias: UnsafePointer<Float>?, N: Int, scratch: UnsafeMutableRawPointer) {
    let OC = m.rows, C = m.cols
    if N > fewRowsLimit {
        let w = scratch.assumingMemoryBound(to: Float.self)  // (OC, C)
        m.dequantize(into: w)
        linearForward(out, inp, w, bias, N: N, C: C, OC: OC, layout: .outIn)
        return
    }
    let activationType = cqk_activation_type(m.type.rawValue)
    cqk_quantize_rows(activationType, inp, C, scratch, Int32(N), Int32(C))
    let isa = QuantizedKernels.isa
    parallelRows(OC, minimumPerThread: 64) { rows in
        let status = cqk_matmul_rows(isa, m.type.rawValue, m.data, m.rowBytes, Int32(rows.lowerBound), Int32(rows.upperBound),
                                     Int32(C), scratch, Int32(N), out, OC)
        precondition(status == 0, "quantizedLinear: kernel path \(isa) cannot multiply \(m.type)")
    }
    if let bias {
        for n in 0..<N {
            let y = out + n * OC
            for o in 0..<OC { y[o] += bias[o] }
        }
    }
}

/// One product of a ``quantizedLinearGroup``: `out (N, matrix.rows) = inp · matrixᵀ + bias`.
struct QuantizedProduct {
    var out: UnsafeMutablePointer<Float>
    var matrix: QuantizedMatrix
    var bias: UnsafePointer<Float>?
}

/// Scratch of ``quantizedLinearGroup``: the largest of its products'.
func quantizedLinearGroupScratchBytes(_ parts: [QuantizedProduct], N: Int) -> Int {
    parts.map { quantizedLinearScratchBytes($0.matrix, N: N) }.max() ?? 0
}

/// Several products of one input (Q, K, V; gate, up) as ``quantizedLinear`` each, but for few rows
/// the input is quantised once and the matrices' rows are split across threads as one range, so a
/// single parallel region serves them all (decoding runs ~210 products per token; each region costs
/// a wake-up and a join). Products whose matrices differ in type or width run one by one.
func quantizedLinearGroup(_ parts: [QuantizedProduct], _ inp: UnsafePointer<Float>, N: Int, scratch: UnsafeMutableRawPointer) {
    guard let first = parts.first?.matrix else { return }
    guard N <= fewRowsLimit, parts.allSatisfy({ $0.matrix.type == first.type && $0.matrix.cols == first.cols }) else {
        for p in parts { quantizedLinear(p.out, inp, p.matrix, p.bias, N: N, scratch: scratch) }
        return
    }
    let C = first.cols, wtype = first.type.rawValue
    cqk_quantize_rows(cqk_activation_type(wtype), inp, C, scratch, Int32(N), Int32(C))
    let total = parts.reduce(0) { $0 + $1.matrix.rows }
    let isa = QuantizedKernels.isa
    parallelRows(total, minimumPerThread: 64) { range in
        var start = 0
        for p in parts {
            let lo = max(range.lowerBound - start, 0), hi = min(range.upperBound - start, p.matrix.rows)
            if lo < hi {
                let status = cqk_matmul_rows(isa, wtype, p.matrix.data, p.matrix.rowBytes, Int32(lo), Int32(hi),
                                             Int32(C), scratch, Int32(N), p.out, p.matrix.rows)
                precondition(status == 0, "quantizedLinearGroup: kernel path \(isa) cannot multiply \(p.matrix.type)")
            }
            start += p.matrix.rows
        }
    }
    for p in parts {
        guard let bias = p.bias else { continue }
        let OC = p.matrix.rows
        for n in 0..<N {
            let y = p.out + n * OC
            for o in 0..<OC { y[o] += bias[o] }
        }
    }
}

/// Which quantizable matrix of a LLaMA-family model a parameter slot holds.
public enum LlamaMatrixRole: Hashable, Sendable {
    case embedding, head
    case q(layer: Int), k(layer: Int), v(layer: Int), o(layer: Int), gate(layer: Int), up(layer: Int), down(layer: Int)
}

extension QuantizedLlamaWeights {
    /// An empty set (every matrix fp32) for `layers` blocks.
    public init(layers: Int) { self.init(layers: Array(repeating: Layer(), count: layers)) }

    /// Stores `matrix` as the matrix `role`.
    public mutating func set(_ matrix: QuantizedMatrix, for role: LlamaMatrixRole) {
        switch role {
        case .embedding: embedding = matrix
        case .head: head = matrix
        case let .q(l): layers[l].q = matrix
        case let .k(l): layers[l].k = matrix
        case let .v(l): layers[l].v = matrix
        case let .o(l): layers[l].o = matrix
        case let .gate(l): layers[l].gate = matrix
        case let .up(l): layers[l].up = matrix
        case let .down(l): layers[l].down = matrix
        }
    }
}

extension LlamaModel {
    /// The matrix the layout slot at `offset` holds, or nil (norms, biases); with tied embeddings
    /// the embedding slot is also the head (see ``LlamaSpec/tiedEmbeddings``).
    public func matrixRole(ofSlotAt offset: Int) -> LlamaMatrixRole? {
        if offset == offsets.embedding { return .embedding }
        if !spec.tiedEmbeddings && offset == offsets.head { return .head }
        for (l, w) in offsets.layers.enumerated() {
            switch offset {
            case w.q: return .q(layer: l)
            case w.k: return .k(layer: l)
            case w.v: return .v(layer: l)
            case w.o: return .o(layer: l)
            case w.gate: return .gate(layer: l)
            case w.up: return .up(layer: l)
            case w.down: return .down(layer: l)
            default: continue
            }
        }
        return nil
    }
}
