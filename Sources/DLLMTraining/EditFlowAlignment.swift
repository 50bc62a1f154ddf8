/// The blank symbol ε of an alignment (dLLM `BLANK = -1`).
public let alignmentBlank: Int32 = -1

/// Needleman–Wunsch global alignment of x0 and x1 (match 0, substitution 1, gap 1), as dLLM
/// `pipelines/editflow/trainer.py` `align_with_blanks` defines it: ties prefer the diagonal, then
/// "up" (a deletion: blank in z1), then "left" (an insertion: blank in z0). Returns the aligned
/// columns z0, z1 of equal length with ``alignmentBlank`` at gaps, and the alignment cost.
public func alignWithBlanks(_ x0: [Int32], _ x1: [Int32], substitutionCost: Int = 1, gapCost: Int = 1)
    -> (z0: [Int32], z1: [Int32], cost: Int) {
    enum Move: UInt8 { case diagonal, up, left }
    let n = x0.count, m = x1.count, width = m + 1
    var cost = [Int](repeating: 0, count: (n + 1) * width)     // (n+1, m+1)
    var move = [Move](repeating: .diagonal, count: (n + 1) * width)
    for i in stride(from: 1, through: n, by: 1) { cost[i * width] = i * gapCost; move[i * width] = .up }
    for j in stride(from: 1, through: m, by: 1) { cost[j] = j * gapCost; move[j] = .left }
    for i in stride(from: 1, through: n, by: 1) {
        for j in stride(from: 1, through: m, by: 1) {
            let diagonal = cost[(i - 1) * width + j - 1] + (x0[i - 1] == x1[j - 1] ? 0 : substitutionCost)
            let up = cost[(i - 1) * width + j] + gapCost
            let left = cost[i * width + j - 1] + gapCost
            let best = min(diagonal, up, left)
            cost[i * width + j] = best
            move[i * width + j] = best == diagonal ? .diagonal : best == up ? .up : .left
        }
    }
    var z0: [Int32] = [], z1: [Int32] = []
    var i = n, j = m
    while i > 0 || j > 0 {
        switch move[i * width + j] {
        case .diagonal: z0.append(x0[i - 1]); z1.append(x1[j - 1]); i -= 1; j -= 1
        case .up: z0.append(x0[i - 1]); z1.append(alignmentBlank); i -= 1
        case .left: z0.append(alignmentBlank); z1.append(x1[j - 1]); j -= 1
        }
    }
    return (Array(z0.reversed()), Array(z1.reversed()), cost[n * width + m])
}

/// One edit that turns x_t into x1 (dLLM `Edit`): a substitution or deletion of the token at row
/// `position` of x_t, or an insertion after row `position`.
public struct Edit: Equatable, Sendable {
    public enum Kind: Sendable { case substitution, deletion, insertion }
    public var kind: Kind
    public var position: Int
    /// The token a substitution or insertion writes (nil for a deletion).
    public var token: Int32?

    public init(_ kind: Kind, position: Int, token: Int32? = nil) {
        self.kind = kind
        self.position = position
        self.token = token
    }
}

/// The edits still needed to turn the mixed alignment z_t into z1, with positions in x_t (z_t
/// without blanks), as dLLM `build_remaining_edits`: an insertion after the last non-blank row
/// before its column (row 0, BOS, at the start), a deletion or substitution at the column's row.
public func remainingEdits(zt: [Int32], z1: [Int32]) -> [Edit] {
    precondition(zt.count == z1.count, "remainingEdits: z_t and z1 must be columns of one alignment")
    var edits: [Edit] = []
    var rowsBefore = 0   // non-blank columns of z_t before column j
    for (a, b) in zip(zt, z1) {
        defer { if a != alignmentBlank { rowsBefore += 1 } }
        if a == b { continue }
        if a == alignmentBlank {
            edits.append(Edit(.insertion, position: max(rowsBefore - 1, 0), token: b))
        } else if b == alignmentBlank {
            edits.append(Edit(.deletion, position: rowsBefore))
        } else {
            edits.append(Edit(.substitution, position: rowsBefore, token: b))
        }
    }
    return edits
}

/// Applies `edits` (positions in `x`, as ``remainingEdits(zt:z1:)`` gives them) to `x`: per row,
/// a deletion drops it, a substitution replaces it, and insertions after it follow it in order.
public func applyEdits(_ edits: [Edit], to x: [Int32]) -> [Int32] {
    var replaced = x.map { Optional($0) }
    var inserted = [[Int32]](repeating: [], count: x.count)
    var leading: [Int32] = []   // insertions before row 0 when x is empty
    for e in edits {
        switch e.kind {
        case .deletion: replaced[e.position] = nil
        case .substitution: replaced[e.position] = e.token!
        case .insertion:
            if x.isEmpty { leading.append(e.token!) } else { inserted[e.position].append(e.token!) }
        }
    }
    var out = leading
    for i in x.indices {
        if let t = replaced[i] { out.append(t) }
        out += inserted[i]
    }
    return out
}
