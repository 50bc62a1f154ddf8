import CBFloat16
import RealModule
/// SwiGLU (Shazeer 2020), LLaMA's MLP gate: `out = silu(gate) ⊙ up`, `silu(g) = g·σ(g)`.
@inlinable
public func swigluForward<S: ComputeScalar>(
    _ out: UnsafeMutablePointer<S>, _ gate: UnsafePointer<S>, _ up: UnsafePointer<S>, count: Int
) {
    parallelChunks(count, minimumPerThread: 4096) { r in
        for i in r { out[i] = swigluOne(gate[i], up[i]) }
    }
}

/// `silu(g)·u` for one element; every SwiGLU forward computes it so.
@inlinable @inline(__always)
func swigluOne<S: ComputeScalar>(_ g: S, _ u: S) -> S { g / (1 + S.fastExp(-g)) * u }

/// Backward of `swigluForward`, accumulating into `dgate` and `dup`.
@inlinable
public func swigluBackward<S: ComputeScalar>(
    _ dgate: UnsafeMutablePointer<S>, _ dup: UnsafeMutablePointer<S>,
    _ dout: UnsafePointer<S>, _ gate: UnsafePointer<S>, _ up: UnsafePointer<S>, count: Int
) {
    parallelChunks(count, minimumPerThread: 4096) { r in
        for i in r { swigluBackwardOne(dgate, dup, dout, i, g: gate[i], u: up[i]) }
    }
}

/// The bfloat16 bits nearest `x`, ties to even, NaN to the quiet NaN 0x7FC0: `cbf16_from_float`'s
/// rounding (c10::BFloat16's `round_to_nearest_even`) for one value, inlined into elementwise loops.
@inlinable @inline(__always)
public func bf16Bits(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    let rounded = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    return bits & 0x7FFF_FFFF > 0x7F80_0000 ? 0x7FC0 : rounded
}

/// The float32 value of bfloat16 `bits` (exact).
@inlinable @inline(__always)
public func bf16Value(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

/// ``swigluForward(_:_:_:count:)`` under `bf16: true`: the gate and up outputs are rounded to
/// bfloat16 first, as autocast's bf16 products return them, and their bits go to `gateBits` and
/// `upBits` when given (the half-size copies a training pass keeps for backward). `out` is float32.
public func swigluForwardBF16(
    _ out: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>,
    keeping gateBits: UnsafeMutablePointer<UInt16>?, _ upBits: UnsafeMutablePointer<UInt16>?, count: Int
) {
    precondition((gateBits == nil) == (upBits == nil), "swigluForwardBF16: keep both gate and up bits or neither")
    parallelChunks(count, minimumPerThread: 4096) { r in
        if let gateBits, let upBits {
            for i in r {
                let gb = bf16Bits(gate[i]), ub = bf16Bits(up[i])
                gateBits[i] = gb; upBits[i] = ub
                out[i] = swigluOne(bf16Value(gb), bf16Value(ub))
            }
        } else {
            for i in r { out[i] = swigluOne(bf16Value(bf16Bits(gate[i])), bf16Value(bf16Bits(up[i]))) }
        }
    }
}

/// Backward of ``swigluForwardBF16(_:_:_:keeping:_:count:)`` from the kept bits, accumulating into
/// `dgate` and `dup`: ``swigluBackward(_:_:_:_:_:count:)`` at the rounded values (the gradient passes
/// the rounding unchanged).
public func swigluBackwardBF16(
    _ dgate: UnsafeMutablePointer<Float>, _ dup: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
    gateBits: UnsafePointer<UInt16>, upBits: UnsafePointer<UInt16>, count: Int
) {
    parallelChunks(count, minimumPerThread: 4096) { r in
        for i in r { swigluBackwardOne(dgate, dup, dout, i, g: bf16Value(gateBits[i]), u: bf16Value(upBits[i])) }
    }
}

/// ``swigluBackwardBF16(_:_:_:gateBits:upBits:count:)`` from float32 gate and up outputs, rounded as
/// they are read (a bf16 pass that did not keep the bits).
public func swigluBackwardBF16(
    _ dgate: UnsafeMutablePointer<Float>, _ dup: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
    gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int
) {
    parallelChunks(count, minimumPerThread: 4096) { r in
        for i in r { swigluBackwardOne(dgate, dup, dout, i, g: bf16Value(bf16Bits(gate[i])), u: bf16Value(bf16Bits(up[i]))) }
    }
}

/// ``swigluBackwardBF16(_:_:_:gateBits:upBits:count:)`` for gradients that only bf16 products read:
/// (N, I) dgate and dup go straight into packed bf16 rows `ld` UInt16s apart (odd `I` padded with
/// a zero), as autocast hands the gate and up products bf16 output gradients. Each value is what
/// accumulating into zeroed float32 buffers and rounding them would give, bit for bit.
public func swigluBackwardBF16(
    rows dgate: UnsafeMutablePointer<UInt16>, _ dup: UnsafeMutablePointer<UInt16>, ld: Int, _ dout: UnsafePointer<Float>,
    gateBits: UnsafePointer<UInt16>, upBits: UnsafePointer<UInt16>, N: Int, I: Int
) {
    precondition(ld >= I + I % 2, "swigluBackwardBF16: row stride \(ld) below \(I) values")
    // Each row's float32 gradients in a per-thread scratch pair (the loop vectorises as the
    // float32 backward's does), then rounded sixteen at a time into their rows.
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * ComputeThreads.count * max(1, I))
    defer { scratch.deallocate() }
    parallelChunks(N, minimumPerThread: max(1, 4096 / max(1, I))) { (thread: Int, rows: Range<Int>) in
        let gs = scratch + 2 * thread * I, us = gs + I
        for n in rows {
            let d = dout + n * I, gb = gateBits + n * I, ub = upBits + n * I
            for j in 0..<I {
                let (dg, du) = swigluGradients(d[j], g: bf16Value(gb[j]), u: bf16Value(ub[j]))
                gs[j] = 0 + dg
                us[j] = 0 + du
            }
            let g = dgate + n * ld, u = dup + n * ld
            cbf16_from_float(gs, g, I)
            cbf16_from_float(us, u, I)
            if I % 2 == 1 { g[I] = 0; u[I] = 0 }
        }
    }
}

/// SwiGLU's backward at gate `g` and up `u` for output gradient `dout`: `dgate = dout·u·σ(g)·(1 +
/// g·(1 − σ(g)))` and `dup = dout·silu(g)`; every SwiGLU backward computes them so.
@inlinable @inline(__always)
func swigluGradients<S: ComputeScalar>(_ dout: S, g: S, u: S) -> (dgate: S, dup: S) {
    let sig = 1 / (1 + S.fastExp(-g))
    return (dout * u * sig * (1 + g * (1 - sig)), dout * (g * sig))
}

/// Element `i` of SwiGLU's backward (``swigluGradients(_:g:u:)``), accumulated into `dgate` and `dup`.
@inlinable @inline(__always)
func swigluBackwardOne<S: ComputeScalar>(_ dgate: UnsafeMutablePointer<S>, _ dup: UnsafeMutablePointer<S>, _ dout: UnsafePointer<S>,
                                         _ i: Int, g: S, u: S) {
    let (dg, du) = swigluGradients(dout[i], g: g, u: u)
    dup[i] += du
    dgate[i] += dg
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
