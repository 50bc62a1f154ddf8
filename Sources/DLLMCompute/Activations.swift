import RealModule
/// SwiGLU (Shazeer 2020), LLaMA's MLP gate: `out = silu(gate) ⊙ up`, `silu(g) = g·σ(g)`.
@inlinable
public func swigluForward<S: ComputeScalar>(
    _ out: UnsafeMutablePointer<S>, _ gate: UnsafePointer<S>, _ up: UnsafePointer<S>, count: Int
) {
    parallelChunks(count, minimumPerThread: 4096) { r in
        for i in r {
            let g = gate[i]
            out[i] = g / (1 + S.fastExp(-g)) * up[i]
        }
    }
}

/// Backward of `swigluForward`, accumulating into `dgate` and `dup`.
@inlinable
public func swigluBackward<S: ComputeScalar>(
    _ dgate: UnsafeMutablePointer<S>, _ dup: UnsafeMutablePointer<S>,
    _ dout: UnsafePointer<S>, _ gate: UnsafePointer<S>, _ up: UnsafePointer<S>, count: Int
) {
    parallelChunks(count, minimumPerThread: 4096) { r in
        for i in r {
            let g = gate[i]
            let sig = 1 / (1 + S.fastExp(-g))
            let silu = g * sig
            dup[i] += dout[i] * silu
            dgate[i] += dout[i] * up[i] * sig * (1 + g * (1 - sig))
        }
    }
}

/// The GELU variants checkpoints name in `hidden_act` / `activation_function`.
public enum GELUKind: String, Sendable, Codable {
    /// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` — GPT-2's `gelu_new`.
    case tanh = "gelu_new"
    /// `x·Φ(x)` with the exact error function — BERT's `gelu`.
    case exact = "gelu"
}

@inlinable
public func geluForward<S: ComputeScalar>(
    _ out: UnsafeMutablePointer<S>, _ inp: UnsafePointer<S>, count: Int, kind: GELUKind
) {
    let k = S.sqrt(2 / S.pi)
    parallelChunks(count, minimumPerThread: 4096) { r in
        for i in r {
            let x = inp[i]
            switch kind {
            case .tanh: out[i] = S(0.5) * x * (1 + S.tanh(k * (x + S(0.044715) * x * x * x)))
            case .exact: out[i] = S(0.5) * x * (1 + S.erf(x / S.sqrt(2)))
            }
        }
    }
}

/// Backward of `geluForward`, accumulating into `dinp`.
@inlinable
public func geluBackward<S: ComputeScalar>(
    _ dinp: UnsafeMutablePointer<S>, _ dout: UnsafePointer<S>, _ inp: UnsafePointer<S>, count: Int, kind: GELUKind
) {
    let k = S.sqrt(2 / S.pi)
    parallelChunks(count, minimumPerThread: 4096) { r in
        for i in r {
            let x = inp[i]
            let grad: S
            switch kind {
            case .tanh:
                let u = k * (x + S(0.044715) * x * x * x)
                let t = S.tanh(u)
                let sech2 = 1 - t * t
                grad = S(0.5) * (1 + t) + S(0.5) * x * sech2 * k * (1 + 3 * S(0.044715) * x * x)
            case .exact:
                let cdf = S(0.5) * (1 + S.erf(x / S.sqrt(2)))
                let pdf = S.exp(-x * x / 2) / S.sqrt(2 * S.pi)
                grad = cdf + x * pdf
            }
            dinp[i] += grad * dout[i]
        }
    }
}

/// `out = a + b` elementwise (the residual stream).
@inlinable
public func residualForward<S: ComputeScalar>(
    _ out: UnsafeMutablePointer<S>, _ a: UnsafePointer<S>, _ b: UnsafePointer<S>, count: Int
) {
    for i in 0..<count { out[i] = a[i] + b[i] }
}

/// `dst += src` elementwise.
@inlinable
public func accumulate<S: ComputeScalar>(_ dst: UnsafeMutablePointer<S>, _ src: UnsafePointer<S>, count: Int) {
    for i in 0..<count { dst[i] += src[i] }
}
