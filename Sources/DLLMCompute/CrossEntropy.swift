import RealModule
/// The label value whose positions carry no loss (PyTorch's `ignore_index` default).
public let ignoreIndex: Int32 = -100

/// Per-token cross-entropy from logits (`F.cross_entropy(reduction="none")`):
/// `losses[n] = logsumexp(logits[n]) − logits[n, targets[n]]`, 0 where
/// `targets[n] == ignoreIndex`. Saves `lse (N)` for backward.
///
/// Returns `Σₙ weights[n]·losses[n]` (weights default to 1), accumulated in Double.
/// Objectives express their normalisation (per token, per sequence, 1/p) as weights.
@inlinable
@discardableResult
public func crossEntropyForward<S: ComputeScalar>(
    _ losses: UnsafeMutablePointer<S>, _ lse: UnsafeMutablePointer<S>,
    _ logits: UnsafePointer<S>, _ targets: UnsafePointer<Int32>, _ weights: UnsafePointer<S>?,
    N: Int, V: Int
) -> Double {
    parallelChunks(N, minimumPerThread: 4) { rows in
        // exp(row − max) goes to a per-thread scratch row so that the exponentials
        // vectorise and the sum is a separate SIMD reduction.
        let scratch = UnsafeMutablePointer<S>.allocate(capacity: V)
        defer { scratch.deallocate() }
        for n in rows {
            let row = logits + n * V
            let maxv = S.maximum(row, count: V)
            for j in 0..<V { scratch[j] = S.fastExp(row[j] - maxv) }
            let l = maxv + S.log(S.sum(scratch, count: V))
            lse[n] = l
            let t = targets[n]
            if t == ignoreIndex {
                losses[n] = 0
            } else {
                precondition(t >= 0 && Int(t) < V, "cross-entropy: target \(t) outside vocabulary of \(V)")
                losses[n] = l - row[Int(t)]
            }
        }
    }
    var total = 0.0
    for n in 0..<N where targets[n] != ignoreIndex {
        total += Double(losses[n]) * (weights.map { Double($0[n]) } ?? 1)
    }
    return total
}

/// Backward of `crossEntropyForward` for `loss = dloss · Σ wₙ·CEₙ`:
/// `dlogits[n] = dloss · wₙ · (softmax(logits[n]) − onehot(targets[n]))`, zero rows
/// where the target is ignored.
///
/// Unlike the other backward kernels this one *writes* rather than accumulates:
/// the logits gradient is where backward starts, and `dlogits` may alias `logits`
/// (llm.c's fused classifier does the same to save a (N, V) buffer).
@inlinable
public func crossEntropyBackward<S: ComputeScalar>(
    _ dlogits: UnsafeMutablePointer<S>,
    _ logits: UnsafePointer<S>, _ lse: UnsafePointer<S>, _ targets: UnsafePointer<Int32>, _ weights: UnsafePointer<S>?,
    dloss: S, N: Int, V: Int
) {
    parallelChunks(N, minimumPerThread: 4) { rows in
        for n in rows {
            let dst = dlogits + n * V
            if !crossEntropyGradientRow(dst, logits + n * V, row: n, lse, targets, weights, dloss: dloss, V: V) {
                for j in 0..<V { dst[j] = 0 }
            }
        }
    }
}

/// Row `n` of ``crossEntropyBackward(_:_:_:_:_:dloss:N:V:)``'s dlogits into `dst` (V values; may be
/// `src` itself): `dloss · wₙ · (softmax(src) − onehot(tₙ))`. Returns false, writing nothing, when
/// the row's target is ignored. The bf16 form (``crossEntropyBackwardBF16``) shares it, so both
/// compute the same values.
@inlinable
func crossEntropyGradientRow<S: ComputeScalar>(
    _ dst: UnsafeMutablePointer<S>, _ src: UnsafePointer<S>, row n: Int,
    _ lse: UnsafePointer<S>, _ targets: UnsafePointer<Int32>, _ weights: UnsafePointer<S>?, dloss: S, V: Int
) -> Bool {
    let t = targets[n]
    if t == ignoreIndex { return false }
    let scale = dloss * (weights?[n] ?? 1)
    let l = lse[n]
    if src == UnsafePointer(dst) {
        // In place through one pointer, so the loop vectorises without alias checks.
        for j in 0..<V { dst[j] = scale * S.fastExp(dst[j] - l) }
    } else {
        for j in 0..<V { dst[j] = scale * S.fastExp(src[j] - l) }
    }
    dst[Int(t)] -= scale
    return true
}
