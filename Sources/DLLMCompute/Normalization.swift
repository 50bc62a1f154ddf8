import RealModule
/// RMSNorm (Zhang & Sennrich 2019; HF `LlamaRMSNorm`, LLaDA `RMSLayerNorm`):
/// `out = x · rsqrt(mean(x²) + eps) · weight`. Saves `rstd (N)` for backward.
@inlinable
public func rmsnormForward<S: ComputeScalar>(
    _ out: UnsafeMutablePointer<S>, _ rstd: UnsafeMutablePointer<S>,
    _ inp: UnsafePointer<S>, _ weight: UnsafePointer<S>,
    N: Int, C: Int, eps: S
) {
    parallelChunks(N, minimumPerThread: 64) { rows in
        for n in rows {
            let x = inp + n * C
            let y = out + n * C
            let ss = S.dot(x, x, count: C)
            let r = 1 / S.sqrt(ss / S(C) + eps)
            rstd[n] = r
            for c in 0..<C { y[c] = x[c] * r * weight[c] }
        }
    }
}

/// Backward of `rmsnormForward`, accumulating into `dinp` and `dweight` (nil: a frozen weight):
/// `dx = r·(w⊙dy) − r³/C · x · Σ(w⊙dy⊙x)`, `dw += Σₙ dy⊙x·r`.
@inlinable
public func rmsnormBackward<S: ComputeScalar>(
    _ dinp: UnsafeMutablePointer<S>, _ dweight: UnsafeMutablePointer<S>?,
    _ dout: UnsafePointer<S>, _ inp: UnsafePointer<S>, _ weight: UnsafePointer<S>, _ rstd: UnsafePointer<S>,
    N: Int, C: Int
) {
    parallelChunks(N, minimumPerThread: 64) { rows in
        for n in rows {
            let x = inp + n * C, dy = dout + n * C, dx = dinp + n * C
            let r = rstd[n]
            var dot: S = 0
            for c in 0..<C { dot += weight[c] * dy[c] * x[c] }
            let k = r * r * r * dot / S(C)
            for c in 0..<C { dx[c] += r * weight[c] * dy[c] - k * x[c] }
        }
    }
    guard let dweight else { return }
    for n in 0..<N {
        let x = inp + n * C, dy = dout + n * C
        let r = rstd[n]
        for c in 0..<C { dweight[c] += dy[c] * x[c] * r }
    }
}

/// LayerNorm (Ba et al. 2016; llm.c `layernorm_forward`): `out = (x − μ)·rstd·w + b`,
/// biased variance. Saves `mean (N)` and `rstd (N)`.
@inlinable
public func layernormForward<S: ComputeScalar>(
    _ out: UnsafeMutablePointer<S>, _ mean: UnsafeMutablePointer<S>, _ rstd: UnsafeMutablePointer<S>,
    _ inp: UnsafePointer<S>, _ weight: UnsafePointer<S>, _ bias: UnsafePointer<S>?,
    N: Int, C: Int, eps: S
) {
    parallelChunks(N, minimumPerThread: 64) { rows in
        for n in rows {
            let x = inp + n * C, y = out + n * C
            var m: S = 0
            for c in 0..<C { m += x[c] }
            m /= S(C)
            var v: S = 0
            for c in 0..<C { let d = x[c] - m; v += d * d }
            v /= S(C)
            let r = 1 / S.sqrt(v + eps)
            mean[n] = m
            rstd[n] = r
            for c in 0..<C { y[c] = (x[c] - m) * r * weight[c] + (bias?[c] ?? 0) }
        }
    }
}

/// Backward of `layernormForward` (llm.c `layernorm_backward`), accumulating.
@inlinable
public func layernormBackward<S: ComputeScalar>(
    _ dinp: UnsafeMutablePointer<S>, _ dweight: UnsafeMutablePointer<S>, _ dbias: UnsafeMutablePointer<S>?,
    _ dout: UnsafePointer<S>, _ inp: UnsafePointer<S>, _ weight: UnsafePointer<S>,
    _ mean: UnsafePointer<S>, _ rstd: UnsafePointer<S>,
    N: Int, C: Int
) {
    parallelChunks(N, minimumPerThread: 64) { rows in
        for n in rows {
            let x = inp + n * C, dy = dout + n * C, dx = dinp + n * C
            let m = mean[n], r = rstd[n]
            var dnormMean: S = 0, dnormNormMean: S = 0
            for c in 0..<C {
                let norm = (x[c] - m) * r
                let dnorm = weight[c] * dy[c]
                dnormMean += dnorm
                dnormNormMean += dnorm * norm
            }
            dnormMean /= S(C)
            dnormNormMean /= S(C)
            for c in 0..<C {
                let norm = (x[c] - m) * r
                let dnorm = weight[c] * dy[c]
                dx[c] += (dnorm - dnormMean - norm * dnormNormMean) * r
            }
        }
    }
    for n in 0..<N {
        let x = inp + n * C, dy = dout + n * C
        let m = mean[n], r = rstd[n]
        for c in 0..<C {
            dweight[c] += dy[c] * (x[c] - m) * r
            if let dbias { dbias[c] += dy[c] }
        }
    }
}
