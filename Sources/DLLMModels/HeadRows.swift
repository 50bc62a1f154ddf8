import DLLMCompute

// The head on some rows of a saved training pass (GPT-2, BERT): a masked-diffusion loss reads
// only its masked rows (``LanguageModel/forwardBackwardOnWeightedRows(_:mask:targets:weights:dloss:)``),
// so the final norm and the vocabulary-wide head run on those rows, gathered into their own
// buffer, and backward adds the rows' gradient back where they came from.

/// `logitRows` checked (ascending, distinct, within 0..<N): nil when they are every row.
func checkedLogitRows(_ logitRows: [Int], N: Int, model: String) -> [Int]? {
    precondition(!logitRows.isEmpty && zip(logitRows, logitRows.dropFirst()).allSatisfy { $0 < $1 }
                 && logitRows.first! >= 0 && logitRows.last! < N,
                 "\(model): logit rows must be ascending, distinct and within 0..<\(N)")
    return logitRows.count == N ? nil : logitRows
}

/// The rows of `positions` in each of `B` sequences of `T`: sequence b's position p is row b·T + p.
func logitRows(at positions: Range<Int>, B: Int, T: Int) -> [Int] {
    (0..<B).flatMap { b in positions.map { b * T + $0 } }
}

/// `target` (R, width) = rows `rows` of `source` (·, width).
func gather<S>(rows: [Int], of source: UnsafePointer<S>, width: Int, into target: UnsafeMutablePointer<S>) {
    for (r, n) in rows.enumerated() { (target + r * width).update(from: source + n * width, count: width) }
}

/// Backward of ``gather(rows:of:width:into:)``: `target[rows[r]] += source[r]` for (R, width) `source`.
func scatterAdd<S: ComputeScalar>(rows: [Int], from source: UnsafePointer<S>, width: Int, into target: UnsafeMutablePointer<S>) {
    for (r, n) in rows.enumerated() {
        let from = source + r * width, to = target + n * width
        for c in 0..<width { to[c] += from[c] }
    }
}
