import DLLMCompute

/// Keys and values of every layer for `B` sequences, one slot per absolute position
/// (Fast-dLLM's `past_key_values`, laid out llm.c-style in flat buffers), plus the
/// scratch the inference forward reuses from call to call.
///
/// Keys are stored after rotary, so a slot is valid for any later query. Which slots
/// hold current values is the caller's bookkeeping: a prefix cache trusts slots
/// before the block, a dual cache every slot outside it, autoregressive decoding
/// every slot before the next token.
// @unchecked Sendable: a cache may move between threads, but only the one forward using it at a
// time writes its buffers, `scratch` and `transposedWeights` (callers never share one concurrently).
public final class KVCache<S: ComputeScalar>: @unchecked Sendable {
    public let layers: Int
    public let B: Int
    public let capacity: Int
    /// Width of one slot: NKV·HD.
    public let width: Int
    /// L × (B, capacity, NKV·HD)
    let keys: [Buffer<S>]
    /// L × (B, capacity, NKV·HD)
    let values: [Buffer<S>]
    /// Reusable per-call buffers, grown on demand.
    var scratch: [Buffer<S>] = []
    /// The model's matrices transposed to (C, OC), the layout sgemm multiplies fastest when
    /// few rows share a product; built by the first forward (a snapshot of the weights then:
    /// make a new cache after changing parameters).
    var transposedWeights: [Buffer<S>] = []

    public init(layers: Int, batch: Int, capacity: Int, width: Int) {
        precondition(layers > 0 && batch > 0 && capacity > 0 && width > 0, "KVCache: sizes must be positive")
        self.layers = layers
        B = batch
        self.capacity = capacity
        self.width = width
        keys = (0..<layers).map { _ in Buffer(count: batch * capacity * width) }
        values = (0..<layers).map { _ in Buffer(count: batch * capacity * width) }
    }

    /// Pointer to the key of slot `t` of row `b` in `layer`, (NKV·HD).
    public func key(layer: Int, row b: Int, slot t: Int) -> UnsafeMutablePointer<S> {
        keys[layer].pointer + (b * capacity + t) * width
    }

    /// Pointer to the value of slot `t` of row `b` in `layer`, (NKV·HD).
    public func value(layer: Int, row b: Int, slot t: Int) -> UnsafeMutablePointer<S> {
        values[layer].pointer + (b * capacity + t) * width
    }

    /// Scratch buffer number `index` with room for at least `count` scalars.
    func workspace(_ index: Int, count: Int) -> UnsafeMutablePointer<S> {
        while scratch.count <= index { scratch.append(Buffer(count: 0)) }
        if scratch[index].count < count { scratch[index] = Buffer(count: count) }
        return scratch[index].pointer
    }

    /// Writes `rows` (B·Tq, ld) of new keys or values, columns `column ..< column + width`,
    /// into slots `queryStart[b] + i` of `layer`.
    func store(_ target: [Buffer<S>], layer: Int, _ rows: UnsafePointer<S>, ld: Int, column: Int = 0,
               B: Int, Tq: Int, queryStart: [Int]) {
        let base = target[layer].pointer
        for b in 0..<B {
            precondition(queryStart[b] >= 0 && queryStart[b] + Tq <= capacity,
                         "KVCache: slots \(queryStart[b])..<\(queryStart[b] + Tq) beyond capacity \(capacity)")
            for i in 0..<Tq {
                (base + (b * capacity + queryStart[b] + i) * width).update(from: rows + (b * Tq + i) * ld + column, count: width)
            }
        }
    }
}

/// `dst (cols, rows) = srcᵀ` for a row-major `src (rows, cols)`, in cache-sized tiles.
func transpose<S: ComputeScalar>(_ dst: UnsafeMutablePointer<S>, _ src: UnsafePointer<S>, rows: Int, cols: Int) {
    let tile = 32
    parallelChunks((rows + tile - 1) / tile) { blocks in
        for rb in blocks {
            let r0 = rb * tile, r1 = min(rows, r0 + tile)
            for c0 in stride(from: 0, to: cols, by: tile) {
                let c1 = min(cols, c0 + tile)
                for r in r0..<r1 {
                    for c in c0..<c1 { dst[c * rows + r] = src[r * cols + c] }
                }
            }
        }
    }
}
