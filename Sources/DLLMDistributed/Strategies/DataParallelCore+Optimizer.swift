import DLLMCompute
import DLLMOptim

/// The optimizer side shared by the data-parallel strategies: the global norm of a
/// gradient spread over ranks, and AdamW over the chunks this rank owns.
extension DataParallelCore {
    /// Global L2 norm of the rank-averaged gradient: each rank sums the squares of the
    /// chunks it owns (of the reduced gradient shard when there is one), the partial
    /// sums are added over ranks. The gradients hold sums over ranks, so the mean is 1/W of them.
    func gradientNorm() -> Double {
        var local = 0.0
        for seg in map.segments {
            let owned = seg.owned(by: comm.rank)
            if let gradShard {
                local += GradientClipping.sumOfSquares(gradShard.pointer + seg.shardOffset, range: 0..<owned.count)
            } else {
                local += GradientClipping.sumOfSquares(model.gradients.pointer, range: owned)
            }
        }
        return comm.allReduceSum([local])[0].squareRoot() / Double(comm.worldSize)
    }

    /// AdamW on every element (DDP: full moments, full gradients), after scaling the
    /// gradients by `clip / W`.
    func fullAdamWStep(step: Int, learningRate: Double, config: AdamWConfig, clip: Double) {
        let n = model.parameterCount
        let g = model.gradients.pointer
        let scale = Float(clip / Double(comm.worldSize))
        if scale != 1 { for i in 0..<n { g[i] *= scale } }
        decayMask.withUnsafeBufferPointer { mask in
            AdamW.step(params: model.parameters.pointer, grads: UnsafePointer(g), m: m.pointer, v: v.pointer, range: 0..<n,
                       step: step, config: config, learningRate: learningRate, decayMask: mask.baseAddress)
        }
    }

    /// AdamW on the chunks this rank owns, with sharded moments; gradients come from
    /// the gradient shard (ZeRO-2, FSDP) or the full buffer (ZeRO-1), parameters from
    /// the parameter shard (FSDP) or the full buffer (ZeRO-1/2).
    func shardedAdamWStep(step: Int, learningRate: Double, config: AdamWConfig, clip: Double) {
        let scale = Float(clip / Double(comm.worldSize))
        let p = model.parameters.pointer, g = model.gradients.pointer
        for seg in map.segments {
            let owned = seg.owned(by: comm.rank)
            let n = owned.count
            let grads = gradShard.map { $0.pointer + seg.shardOffset } ?? (g + owned.lowerBound)
            if scale != 1 { for i in 0..<n { grads[i] *= scale } }
            let params = paramShard.map { $0.pointer + seg.shardOffset } ?? (p + owned.lowerBound)
            decayMask.withUnsafeBufferPointer { mask in
                AdamW.step(params: params, grads: UnsafePointer(grads), m: m.pointer + seg.shardOffset, v: v.pointer + seg.shardOffset,
                           range: 0..<n, step: step, config: config, learningRate: learningRate,
                           decayMask: mask.baseAddress.map { $0 + seg.shardOffset })
            }
        }
    }
}
