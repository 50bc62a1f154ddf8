import DLLMCompute

/// Floats of the scratch a frozen quantised product dequantises its tiles into (1 MiB): a tile is
/// `max(8, 262_144 / cols)` rows of the matrix, never the whole matrix unless it is that small.
public let frozenLinearTileFloats = 262_144

/// Rows of `matrix` one tile holds.
func frozenLinearTileRows(_ matrix: FrozenQuantizedMatrix) -> Int {
    min(matrix.rows, max(8, frozenLinearTileFloats / matrix.cols))
}

/// The scratch ``frozenLinearForward`` and ``frozenLinearBackwardInput`` dequantise tiles into;
/// one per caller (it is written by every product).
public final class FrozenLinearScratch: @unchecked Sendable {
    // @unchecked Sendable: used by one product at a time (the training step is sequential).
    private(set) var pointer: UnsafeMutablePointer<Float>
    private(set) var capacity: Int

    public init(floats: Int = frozenLinearTileFloats) {
        capacity = max(floats, 1)
        pointer = .allocate(capacity: capacity)
    }

    deinit { pointer.deallocate() }

    /// At least `floats` floats (grown, never shrunk).
    func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            pointer.deallocate()
            capacity = count
            pointer = .allocate(capacity: count)
        }
        return pointer
    }
}

/// Dequantises rows `r0 ..< r0 + count` of `matrix` into `tile` ((count, cols)), split across threads.
private func dequantizeTile(_ matrix: FrozenQuantizedMatrix, rows r0: Int, count: Int, into tile: UnsafeMutablePointer<Float>) {
    parallelChunks(count, minimumPerThread: 4) { range in
        matrix.dequantizeRows((r0 + range.lowerBound)..<(r0 + range.upperBound), into: tile + range.lowerBound * matrix.cols)
    }
}

/// `out (N, OC) = inp (N, C) · Wᵀ + bias` for a frozen quantised `W` (OC, C), the forward of
/// `torch.nn.functional.linear` over the dequantised weight (bitsandbytes `Linear4bit.forward` on a
/// CPU does the same with a whole dequantised copy). Here `W` is dequantised one tile of rows at a
/// time into `scratch` and each tile's output columns come from one sgemm, so no float copy of the
/// whole matrix exists. Equal to `linearForward` over the dequantised matrix up to the order in
/// which the BLAS sums each dot product.
public func frozenLinearForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ matrix: FrozenQuantizedMatrix,
                                _ bias: UnsafePointer<Float>?, N: Int, scratch: FrozenLinearScratch) {
    let OC = matrix.rows, C = matrix.cols, rowsPerTile = frozenLinearTileRows(matrix)
    let tile = scratch.floats(rowsPerTile * C)  // (R, C)
    var r0 = 0
    while r0 < OC {
        let R = min(rowsPerTile, OC - r0)
        dequantizeTile(matrix, rows: r0, count: R, into: tile)
        // out[:, r0 ..< r0 + R] (N, R) = inp (N, C) · tileᵀ (C, R)
        gemm(.none, .transpose, m: N, n: R, k: C, inp, lda: C, tile, ldb: C, beta: 0, out + r0, ldc: OC)
        r0 += R
    }
    if let bias {
        parallelChunks(N, minimumPerThread: 16) { range in
            for n in range {
                let y = out + n * OC
                for o in 0..<OC { y[o] += bias[o] }
            }
        }
    }
}

/// `dinp (N, C) += dout (N, OC) · W` for a frozen quantised `W` (OC, C): the gradient through the
/// input only (the base is frozen, so there is no weight gradient), tile by tile as in
/// ``frozenLinearForward``: each tile of rows contributes dout[:, tile] · tile.
public func frozenLinearBackwardInput(_ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ matrix: FrozenQuantizedMatrix,
                                      N: Int, scratch: FrozenLinearScratch) {
    let OC = matrix.rows, C = matrix.cols, rowsPerTile = frozenLinearTileRows(matrix)
    let tile = scratch.floats(rowsPerTile * C)  // (R, C)
    var r0 = 0
    while r0 < OC {
        let R = min(rowsPerTile, OC - r0)
        dequantizeTile(matrix, rows: r0, count: R, into: tile)
        // dinp (N, C) += dout[:, r0 ..< r0 + R] (N, R) · tile (R, C)
        gemm(.none, .none, m: N, n: C, k: R, dout + r0, lda: OC, tile, ldb: C, beta: 1, dinp, ldc: C)
        r0 += R
    }
}
