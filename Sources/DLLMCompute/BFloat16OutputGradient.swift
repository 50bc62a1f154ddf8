import CBFloat16

// The LM head's backward with its output gradient kept in bf16, as autocast keeps it: the head is
// a bf16 `linear`, so the float32 gradient cross-entropy returns is cast to bf16 before the head's
// two products read it. Here cross-entropy's backward rounds each row of dlogits straight into
// packed bf16 rows, which the input-gradient product reads as they are and the weight-gradient
// product transposes from bf16; the float32 (N, V) dlogits are never written, read back or
// rounded twice. Every result is bit-identical to `crossEntropyBackward` followed by
// `bf16LinearBackward` (the same float32 values meet the same rounding and the same kernel).

/// ``crossEntropyBackward(_:_:_:_:_:dloss:N:V:)``'s dlogits rounded to bfloat16 into `rows`: (N, V)
/// packed rows ``bf16PackedRowsCount(N:C:)`` (`cbf16_packed_a_stride(V)` apart), what a bf16
/// product packs its left operand into. `logits` are left as they are.
public func crossEntropyBackwardBF16(
    into rows: UnsafeMutablePointer<UInt16>,
    _ logits: UnsafePointer<Float>, _ lse: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>, _ weights: UnsafePointer<Float>?,
    dloss: Float, N: Int, V: Int
) {
    let ld = cbf16_packed_a_stride(V)
    let threads = ComputeThreads.count
    // One float32 row per thread (stays in L2), rounded into its packed row.
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: threads * max(1, V))
    defer { scratch.deallocate() }
    parallelChunks(N, minimumPerThread: 4) { (thread: Int, range: Range<Int>) in
        let dst = scratch + thread * V
        for n in range {
            let out = rows + n * ld
            guard crossEntropyGradientRow(dst, logits + n * V, row: n, lse, targets, weights, dloss: dloss, V: V) else {
                out.update(repeating: 0, count: ld)
                continue
            }
            cbf16_from_float(dst, out, V)
            if V % 2 == 1 { out[V] = 0 }
        }
    }
}

/// ``bf16LinearBackward(_:_:_:_:_:_:N:C:OC:layout:)`` with `dout` (N, OC) already rounded into packed bf16
/// rows (``crossEntropyBackwardBF16(into:_:_:_:_:dloss:N:V:)``): `dinp += dout · W` reads them as
/// they are, and `dweight += doutᵀ · inp` transposes them from bf16, `weightRows` rows of the
/// weight gradient at a time so the transposed operand's scratch stays small (the LM head's
/// would be as large as dout itself). A group of one (``bf16LinearBackwardGroup(_:_:packedInput:N:C:weightRows:)``)
/// whose input is float32.
public func bf16LinearBackward(
    _ dinp: UnsafeMutablePointer<Float>?, _ dweight: UnsafeMutablePointer<Float>?,
    packedDout: UnsafePointer<UInt16>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
    N: Int, C: Int, OC: Int, weightRows: Int = 4096
) {
    backwardPacked(dinp, [(packedDout, weight, dweight, OC)], N: N, C: C, weightRows: weightRows) { pb in
        bf16PackPanels(.none, k: N, n: C, inp, ldb: C, into: pb)
    }
}

/// One linear of ``bf16LinearBackwardGroup(_:_:packedInput:N:C:weightRows:)``: its output gradient
/// as packed bf16 rows (``bf16PackedRowsCount(N:C:)`` for OC columns), its (OC, C) weight, and
/// where its weight gradient accumulates (nil: none).
public typealias BFloat16PackedGradients = (dout: UnsafePointer<UInt16>, weight: UnsafePointer<Float>,
                                            dweight: UnsafeMutablePointer<Float>?, OC: Int)

/// ``bf16LinearBackwardGroup(_:_:packedInput:N:C:)`` with every output gradient already in packed
/// bf16 rows (``swigluBackwardBF16(rows:_:ld:_:gateBits:upBits:N:I:)``): `dinp += dout · W` per linear
/// in the group's order, then `dweight += doutᵀ · inp` against the input's kept bf16 rows, packed
/// once. Bit-identical to the float32-dout group with those douts rounded.
public func bf16LinearBackwardGroup(_ dinp: UnsafeMutablePointer<Float>?, _ group: [BFloat16PackedGradients],
                                    packedInput: UnsafePointer<UInt16>, N: Int, C: Int, weightRows: Int = 4096) {
    let ldInput = cbf16_packed_a_stride(C), nr = Int(CBF16_NR)
    backwardPacked(dinp, group, N: N, C: C, weightRows: weightRows) { pb in
        parallelChunks((C + nr - 1) / nr, minimumPerThread: 2) { panels in
            cbf16_pack_b_bf16(packedInput, ldInput, N, C, panels.lowerBound, panels.upperBound, pb)
        }
    }
}

/// The shared backward of the packed-dout forms: input gradients per linear in order from the
/// weight's panels, then the weight gradients against the input as B panels that `packInput`
/// writes once, each doutᵀ transposed from bf16 `weightRows` rows at a time. Whole multiples of 16
/// rows per block keep every row on the kernel (AMX tile or vdpbf16ps) it gets in one call.
private func backwardPacked(_ dinp: UnsafeMutablePointer<Float>?, _ group: [BFloat16PackedGradients], N: Int, C: Int,
                            weightRows: Int, packInput: (UnsafeMutablePointer<UInt16>) -> Void) {
    precondition(weightRows > 0 && weightRows % 16 == 0, "bf16LinearBackward: weightRows must be a positive multiple of 16")
    guard N > 0, C > 0 else { return }
    if let dinp {
        for linear in group where linear.OC > 0 {  // (N, C) += dout (N, OC) · W (OC, C)
            BFloat16Scratch.with(count: cbf16_packed_b_count(linear.OC, C)) { pb in
                bf16PackPanels(.none, k: linear.OC, n: C, linear.weight, ldb: C, into: pb)
                bf16MultiplyPacked(linear.dout, pb, m: N, n: C, k: linear.OC, beta: 1, dinp, ldc: C)
            }
        }
    }
    let weighted = group.filter { $0.dweight != nil && $0.OC > 0 }
    guard let tallest = weighted.map(\.OC).max() else { return }
    let block = min(weightRows, tallest), packedB = cbf16_packed_b_count(N, C)
    BFloat16Scratch.with(count: packedB + block * cbf16_packed_a_stride(N)) { scratch in
        let pb = scratch, pa = scratch + packedB  // inp as (k = N, n = C) panels; a block of doutᵀ
        packInput(pb)
        for linear in weighted {  // (OC, C) += doutᵀ (OC, N) · inp (N, C), rows [o0, o0 + rows)
            let ld = cbf16_packed_a_stride(linear.OC)
            for o0 in stride(from: 0, to: linear.OC, by: block) {
                let rows = min(block, linear.OC - o0)
                // Row i of doutᵀ's block, element p: dout[p·ld + o0 + i].
                parallelChunks(rows, minimumPerThread: 64) { range in
                    cbf16_pack_a_bf16(linear.dout + o0, 1, ld, N, range.lowerBound, range.upperBound, pa)
                }
                bf16MultiplyPacked(pa, pb, m: rows, n: C, k: N, beta: 1, linear.dweight! + o0 * C, ldc: C)
            }
        }
    }
}
