import CBFloat16

/// One linear layer of a group that reads the same input (a block's q, k, v projections, or
/// its gate and up projections): `out (N, OC) = inp (N, C) · weightᵀ + bias` forward, and its
/// gradients backward.
public struct BFloat16Linear {
    public var out: UnsafeMutablePointer<Float>
    /// (OC, C), row-major, as ``bf16LinearForward(_:_:_:_:N:C:OC:layout:)`` takes it.
    public var weight: UnsafePointer<Float>
    public var bias: UnsafePointer<Float>?
    public var OC: Int

    public init(out: UnsafeMutablePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, OC: Int) {
        self.out = out
        self.weight = weight
        self.bias = bias
        self.OC = OC
    }
}

/// ``bf16LinearForward(_:_:_:_:N:C:OC:layout:)`` for every linear of `group` over one input, which is
/// rounded and packed once instead of once per linear (what a fused QKV projection saves). Each
/// output is bit-identical to its own ``bf16LinearForward`` call: the same rounded operands meet
/// in the same kernel.
public func bf16LinearForwardGroup(_ group: [BFloat16Linear], _ inp: UnsafePointer<Float>, N: Int, C: Int) {
    guard N > 0, let widest = group.map(\.OC).max(), widest > 0 else { return }
    let packedA = bf16PackedRowsCount(N: N, C: C)
    BFloat16Scratch.with(count: packedA + cbf16_packed_b_count(C, widest)) { scratch in
        bf16PackActivation(inp, N: N, C: C, into: scratch)
        forwardPacked(group, scratch, N: N, C: C, panels: scratch + packedA)
    }
}

/// ``bf16LinearForwardGroup(_:_:N:C:)`` from an input already rounded into packed rows
/// (``bf16PackActivation(_:N:C:into:)``): the activation a training pass keeps in bf16.
public func bf16LinearForwardGroup(_ group: [BFloat16Linear], packedInput: UnsafePointer<UInt16>, N: Int, C: Int) {
    guard N > 0, let widest = group.map(\.OC).max(), widest > 0 else { return }
    BFloat16Scratch.with(count: cbf16_packed_b_count(C, widest)) { panels in
        forwardPacked(group, packedInput, N: N, C: C, panels: panels)
    }
}

/// bf16 values a training pass keeps instead of their float32 form (half the bytes): an (N, C)
/// activation as packed rows (``init(rows:width:)``, ``bf16PackActivation(_:N:C:into:)``) or
/// `count` plain values (``init(count:)``, the gate and up outputs ``swigluForwardBF16(_:_:_:keeping:_:count:)``
/// keeps). Zero until written.
public final class BFloat16Rows {
    public let pointer: UnsafeMutablePointer<UInt16>
    public let count: Int
    private let memory: HugePageMemory

    public init(count: Int) {
        self.count = count
        (memory, pointer) = HugePageMemory.values(UInt16.self, count: count, owner: "BFloat16Rows")
    }

    public convenience init(rows N: Int, width C: Int) { self.init(count: bf16PackedRowsCount(N: N, C: C)) }

    deinit { memory.release() }
}

/// UInt16s that `N` rows of `C` values take as packed bf16 rows (``bf16PackActivation(_:N:C:into:)``).
public func bf16PackedRowsCount(N: Int, C: Int) -> Int { N * cbf16_packed_a_stride(C) }

/// Rounds an (N, C) float32 activation into packed bf16 rows (`cbf16_packed_a_stride(C)` apart):
/// what every bf16 product that reads it would pack, so products and backward can take it as is.
public func bf16PackActivation(_ source: UnsafePointer<Float>, N: Int, C: Int, into rows: UnsafeMutablePointer<UInt16>) {
    bf16PackRows(.none, m: N, k: C, source, lda: C, into: rows)
}

/// The group's products from packed input rows `pa`, one weight's panels at a time in `panels`.
private func forwardPacked(_ group: [BFloat16Linear], _ pa: UnsafePointer<UInt16>, N: Int, C: Int, panels pb: UnsafeMutablePointer<UInt16>) {
    for linear in group where linear.OC > 0 {
        if let bias = linear.bias {
            for n in 0..<N { (linear.out + n * linear.OC).update(from: bias, count: linear.OC) }
        }
        bf16PackPanels(.transpose, k: C, n: linear.OC, linear.weight, ldb: C, into: pb)
        bf16MultiplyPacked(pa, pb, m: N, n: linear.OC, k: C, beta: linear.bias == nil ? 0 : 1, linear.out, ldc: linear.OC)
    }
}

/// One linear's gradients in a backward group: `linear.out` holds dout; `dweight` and `dbias`
/// (either may be nil) receive `+=`.
public typealias BFloat16LinearGradients = (linear: BFloat16Linear, dweight: UnsafeMutablePointer<Float>?, dbias: UnsafeMutablePointer<Float>?)

/// Backward of ``bf16LinearForwardGroup(_:_:N:C:)``: for each linear, `dinp += dout · W` in the
/// group's order, then `dweight += doutᵀ · inp` with `inp` rounded and packed once for the whole
/// group. Each result is bit-identical to calling ``bf16LinearBackward(_:_:_:_:_:_:N:C:OC:layout:)`` per
/// linear in order.
public func bf16LinearBackwardGroup(_ dinp: UnsafeMutablePointer<Float>?, _ group: [BFloat16LinearGradients],
                                    _ inp: UnsafePointer<Float>, N: Int, C: Int) {
    backwardGroup(dinp, group, N: N, C: C) { pb in bf16PackPanels(.none, k: N, n: C, inp, ldb: C, into: pb) }
}

/// ``bf16LinearBackwardGroup(_:_:_:N:C:)`` with the input kept as packed bf16 rows
/// (``bf16PackActivation(_:N:C:into:)``): the weight gradients read those rows directly.
public func bf16LinearBackwardGroup(_ dinp: UnsafeMutablePointer<Float>?, _ group: [BFloat16LinearGradients],
                                    packedInput: UnsafePointer<UInt16>, N: Int, C: Int) {
    let ld = cbf16_packed_a_stride(C), nr = Int(CBF16_NR)
    backwardGroup(dinp, group, N: N, C: C) { pb in
        parallelChunks((C + nr - 1) / nr, minimumPerThread: 2) { panels in
            cbf16_pack_b_bf16(packedInput, ld, N, C, panels.lowerBound, panels.upperBound, pb)
        }
    }
}

/// The shared backward: input gradients per linear in order, then the weight gradients against
/// the input as B panels that `packInput` writes.
private func backwardGroup(_ dinp: UnsafeMutablePointer<Float>?, _ group: [BFloat16LinearGradients],
                           N: Int, C: Int, packInput: (UnsafeMutablePointer<UInt16>) -> Void) {
    for (linear, _, dbias) in group {
        if let dinp {  // (N, C) += dout (N, OC) · W (OC, C)
            bf16Gemm(.none, .none, m: N, n: C, k: linear.OC, linear.out, lda: linear.OC, linear.weight, ldb: C, beta: 1, dinp, ldc: C)
        }
        if let dbias { addRows(of: linear.out, N: N, OC: linear.OC, into: dbias) }
    }
    let weighted = group.filter { $0.dweight != nil && $0.linear.OC > 0 }
    guard N > 0, C > 0, let tallest = weighted.map(\.linear.OC).max() else { return }
    let packedB = cbf16_packed_b_count(N, C)
    BFloat16Scratch.with(count: packedB + tallest * cbf16_packed_a_stride(N)) { scratch in
        let pb = scratch, pa = scratch + packedB  // inp as (k = N, n = C) panels; one doutᵀ at a time
        packInput(pb)
        for (linear, dweight, _) in weighted {
            // (OC, C) += doutᵀ (OC, N) · inp (N, C)
            bf16PackRows(.transpose, m: linear.OC, k: N, UnsafePointer(linear.out), lda: linear.OC, into: pa)
            bf16MultiplyPacked(pa, pb, m: linear.OC, n: C, k: N, beta: 1, dweight!, ldc: C)
        }
    }
}
