import RealModule
/// `out (N, C) = table[ids[n]]`, optionally plus `positions`' rows of a second table
/// (GPT-2's learned positions). Ids are checked: an id outside the table is a
/// programmer error upstream (the data pipeline validates user input).
@inlinable
public func embeddingForward<S: ComputeScalar>(
    _ out: UnsafeMutablePointer<S>,
    _ ids: UnsafePointer<Int32>, _ table: UnsafePointer<S>,
    N: Int, C: Int, V: Int,
    positions: UnsafePointer<Int32>? = nil, positionTable: UnsafePointer<S>? = nil, P: Int = 0
) {
    for n in 0..<N {
        let id = Int(ids[n])
        precondition(id >= 0 && id < V, "embedding: token id \(id) outside vocabulary of \(V)")
        let row = out + n * C
        row.update(from: table + id * C, count: C)
        if let positions, let positionTable {
            let p = Int(positions[n])
            precondition(p >= 0 && p < P, "embedding: position \(p) outside \(P) learned positions")
            let prow = positionTable + p * C
            for c in 0..<C { row[c] += prow[c] }
        }
    }
}

/// Backward of `embeddingForward`: scatters `dout` rows into the table gradients (`+=`).
@inlinable
public func embeddingBackward<S: ComputeScalar>(
    _ dtable: UnsafeMutablePointer<S>, _ dout: UnsafePointer<S>, _ ids: UnsafePointer<Int32>,
    N: Int, C: Int,
    positions: UnsafePointer<Int32>? = nil, dpositionTable: UnsafeMutablePointer<S>? = nil
) {
    for n in 0..<N {
        let drow = dtable + Int(ids[n]) * C
        let g = dout + n * C
        for c in 0..<C { drow[c] += g[c] }
        if let positions, let dpositionTable {
            let prow = dpositionTable + Int(positions[n]) * C
            for c in 0..<C { prow[c] += g[c] }
        }
    }
}
