import CBFloat16

/// One linear layer of a group that reads the same input (a block's q, k, v projections, or
/// its gate and up projections): `out (N, OC) = inp (N, C) · weightᵀ + bias` forward, and its
/// gradients backward.
public struct BFloat16Linear {
    public var out: UnsafeMutablePointer<Float>
    /// (OC, C), row-major, as ``bf16LinearForward(_:_:_:_:N:C:OC:)`` takes it.
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

/// ``bf16LinearForward(_:_:_:_:N:C:OC:)`` for every linear of `group` over one input, which is
/// rounded and packed once instead of once per linear (what a fused QKV projection saves). Each
/// output is bit-identical to its own ``bf16LinearForward`` call: the same rounded operands meet
/// in the same kernel.
public func bf16LinearForwardGroup(_ group: [BFloat16Linear], _ inp: UnsafePointer<Float>, N: Int, C: Int) {
    guard N > 0, let widest = group.map(\.OC).max(), widest > 0 else { return }
    for linear in group {
        if let bias = linear.bias {
            for n in 0..<N { (linear.out + n * linear.OC).update(from: bias, count: linear.OC) }
        }
    }
    let packedA = N * cbf16_packed_a_stride(C)
    BFloat16Scratch.with(count: packedA + cbf16_packed_b_count(C, widest)) { scratch in
        let pa = scratch, pb = scratch + packedA  // inp's N rows of C; one weight's panels at a time
        bf16PackRows(.none, m: N, k: C, inp, lda: C, into: pa)
        for linear in group where linear.OC > 0 {
            bf16PackPanels(.transpose, k: C, n: linear.OC, linear.weight, ldb: C, into: pb)
            bf16MultiplyPacked(pa, pb, m: N, n: linear.OC, k: C, beta: linear.bias == nil ? 0 : 1, linear.out, ldc: linear.OC)
        }
    }
}

/// Backward of ``bf16LinearForwardGroup(_:_:N:C:)``: for each linear (`out` now holding dout,
/// `dweight`, `dbias` its gradients), `dinp += dout · W` in the group's order, then
/// `dweight += doutᵀ · inp` with `inp` rounded and packed once for the whole group. Each result is
/// bit-identical to calling ``bf16LinearBackward(_:_:_:_:_:_:N:C:OC:)`` per linear in order.
public func bf16LinearBackwardGroup(
    _ dinp: UnsafeMutablePointer<Float>?, _ group: [(linear: BFloat16Linear, dweight: UnsafeMutablePointer<Float>?, dbias: UnsafeMutablePointer<Float>?)],
    _ inp: UnsafePointer<Float>, N: Int, C: Int
) {
    for (linear, _, dbias) in group {
        bf16LinearBackward(dinp, nil, dbias, linear.out, inp, linear.weight, N: N, C: C, OC: linear.OC)
    }
    let weighted = group.filter { $0.dweight != nil && $0.linear.OC > 0 }
    guard N > 0, C > 0, let tallest = weighted.map(\.linear.OC).max() else { return }
    let packedB = cbf16_packed_b_count(N, C)
    BFloat16Scratch.with(count: packedB + tallest * cbf16_packed_a_stride(N)) { scratch in
        let pb = scratch, pa = scratch + packedB  // inp as (k = N, n = C) panels; one doutᵀ at a time
        bf16PackPanels(.none, k: N, n: C, inp, ldb: C, into: pb)
        for (linear, dweight, _) in weighted {
            // (OC, C) += doutᵀ (OC, N) · inp (N, C)
            bf16PackRows(.transpose, m: linear.OC, k: N, UnsafePointer(linear.out), lda: linear.OC, into: pa)
            bf16MultiplyPacked(pa, pb, m: linear.OC, n: C, k: N, beta: 1, dweight!, ldc: C)
        }
    }
}
