import CQuantKernels
import DLLMCompute
import Foundation

/// Keys and values of every layer for `B` sequences, one slot per absolute position
/// (Fast-dLLM's `past_key_values`, laid out llm.c-style in flat buffers), plus the
/// scratch the inference forward reuses from call to call.
///
/// Keys are stored after rotary, so a slot is valid for any later query. A cache made with
/// `halfCopy` also keeps every key and value as IEEE half (llama.cpp's f16 KV cache), which the
/// decoding attention reads instead of the fp32 slots: half the bytes streamed per token. Which slots
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
    /// L × (B, capacity, NKV·HD) IEEE half copies of `keys` and `values` (empty without `halfCopy`),
    /// written by ``store(layer:keys:ldk:values:ldv:B:Tq:queryStart:)`` beside the fp32 slots.
    let halfKeys: [QuantizedStorage], halfValues: [QuantizedStorage]
    /// Reusable per-call buffers, grown on demand.
    var scratch: [Buffer<S>] = []
    /// The model's matrices transposed to (C, OC), the layout sgemm multiplies fastest when
    /// few rows share a product; built by the first forward (a snapshot of the weights then:
    /// make a new cache after changing parameters).
    var transposedWeights: [Buffer<S>] = []

    /// `halfCopy`: also keep keys and values as IEEE half for the decoding attention (Float caches only).
    public init(layers: Int, batch: Int, capacity: Int, width: Int, halfCopy: Bool = false) {
        precondition(layers > 0 && batch > 0 && capacity > 0 && width > 0, "KVCache: sizes must be positive")
        self.layers = layers
        B = batch
        self.capacity = capacity
        self.width = width
        keys = (0..<layers).map { _ in Buffer(count: batch * capacity * width) }
        values = (0..<layers).map { _ in Buffer(count: batch * capacity * width) }
        let halfBytes = halfCopy && S.self == Float.self ? batch * capacity * width * MemoryLayout<UInt16>.stride : 0
        halfKeys = halfBytes > 0 ? (0..<layers).map { _ in QuantizedStorage(count: halfBytes) } : []
        halfValues = halfBytes > 0 ? (0..<layers).map { _ in QuantizedStorage(count: halfBytes) } : []
    }

    /// Layer `l`'s half keys and values, (B, capacity, NKV·HD) each, or nil without a half copy.
    func halfCache(layer l: Int) -> HalfKeyValues? {
        guard !halfKeys.isEmpty else { return nil }
        return HalfKeyValues(keys: UnsafePointer(halfKeys[l].pointer.assumingMemoryBound(to: UInt16.self)),
                             values: UnsafePointer(halfValues[l].pointer.assumingMemoryBound(to: UInt16.self)))
    }

    /// Pointer to the key of slot `t` of row `b` in `layer`, (NKV·HD). (Writing through it bypasses the half copy.)
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

    /// Writes the new keys `k` (B·Tq, ldk) and values `v` (B·Tq, ldv), columns `0 ..< width`, into
    /// slots `queryStart[b] + i` of `layer` (and into the half copy when there is one).
    func store(layer: Int, keys k: UnsafePointer<S>, ldk: Int, values v: UnsafePointer<S>, ldv: Int,
               B: Int, Tq: Int, queryStart: [Int]) {
        store(keys[layer].pointer, halfKeys.isEmpty ? nil : halfKeys[layer], k, ld: ldk, B: B, Tq: Tq, queryStart: queryStart)
        store(values[layer].pointer, halfValues.isEmpty ? nil : halfValues[layer], v, ld: ldv, B: B, Tq: Tq, queryStart: queryStart)
    }

    private func store(_ base: UnsafeMutablePointer<S>, _ half: QuantizedStorage?, _ rows: UnsafePointer<S>, ld: Int,
                       B: Int, Tq: Int, queryStart: [Int]) {
        let halfBase = half?.pointer.assumingMemoryBound(to: UInt16.self)
        for b in 0..<B {
            precondition(queryStart[b] >= 0 && queryStart[b] + Tq <= capacity,
                         "KVCache: slots \(queryStart[b])..<\(queryStart[b] + Tq) beyond capacity \(capacity)")
            for i in 0..<Tq {
                let slot = (b * capacity + queryStart[b] + i) * width, source = rows + (b * Tq + i) * ld
                (base + slot).update(from: source, count: width)
                if let halfBase {  // only Float caches have one (see init)
                    cqk_f32_to_f16_row(UnsafeRawPointer(source).assumingMemoryBound(to: Float.self), halfBase + slot, Int32(width))
                }
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

/// False when `DLLM_KV_HALF=0`: quantized models keep no half copy of their cache (for A/B benchmarks).
let useHalfKeyValueCache = ProcessInfo.processInfo.environment["DLLM_KV_HALF"] != "0"

/// One layer's IEEE half keys and values, (B, capacity, NKV·HD) each (``KVCache/halfCache(layer:)``).
public struct HalfKeyValues {
    public let keys: UnsafePointer<UInt16>
    public let values: UnsafePointer<UInt16>

    public init(keys: UnsafePointer<UInt16>, values: UnsafePointer<UInt16>) {
        self.keys = keys
        self.values = values
    }
}
