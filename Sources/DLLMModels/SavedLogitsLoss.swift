import DLLMCompute

/// Cross-entropy over a training pass's saved (N, V) logits, the body of every architecture's
/// `loss(targets:weights:)` (llm.c `crossentropy_forward`). `losses` (N) and `lse` (N) keep what
/// `crossEntropyBackward` reads.
@_specialize(where S == Float)
@_specialize(where S == Double)
func savedLogitsLoss<S: ComputeScalar>(_ model: String, losses: Buffer<S>, lse: Buffer<S>, logits: Buffer<S>,
                                       targets: [Int32], weights: [S]?, N: Int, V: Int) -> Double {
    precondition(targets.count == N && (weights == nil || weights!.count == N), "\(model): targets/weights must hold B·T values")
    return targets.withUnsafeBufferPointer { t in
        withOptionalPointer(weights) { w in
            crossEntropyForward(losses.pointer, lse.pointer, logits.pointer, t.baseAddress!, w, N: N, V: V)
        }
    }
}
