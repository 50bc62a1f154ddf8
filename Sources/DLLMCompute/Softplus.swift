import RealModule

/// `out = softplus(x) = log(1 + eˣ)`, linear above `threshold` (PyTorch `nn.Softplus` with
/// β = 1 and its default threshold 20).
@inlinable
public func softplusForward<S: ComputeScalar>(_ out: UnsafeMutablePointer<S>, _ x: UnsafePointer<S>, count: Int, threshold: S = 20) {
    for i in 0..<count {
        let v = x[i]
        out[i] = v > threshold ? v : S.log(onePlus: S.exp(v))
    }
}

/// Backward of ``softplusForward(_:_:count:threshold:)``: `dx += dout·σ(x)` (`dout` above the
/// threshold), mirroring PyTorch `softplus_backward`.
@inlinable
public func softplusBackward<S: ComputeScalar>(_ dx: UnsafeMutablePointer<S>, _ dout: UnsafePointer<S>, _ x: UnsafePointer<S>,
                                               count: Int, threshold: S = 20) {
    for i in 0..<count {
        let v = x[i]
        if v > threshold {
            dx[i] += dout[i]
        } else {
            let z = S.exp(v)
            dx[i] += dout[i] * z / (z + 1)
        }
    }
}
