import DLLMCompute

/// A training pass's linear layer, `out (N, OC) = inp (N, C) · W + bias` with W laid out per
/// `layout`: BLAS in the model's scalar, or under `bf16: true` (`bf16`, Float models only) the
/// product of bfloat16-rounded inputs with float32 accumulation, as PyTorch's CPU autocast runs
/// `linear` and `addmm` (``bf16LinearForward(_:_:_:_:N:C:OC:layout:)``).
func trainingLinearForward<S: ComputeScalar>(_ out: UnsafeMutablePointer<S>, _ inp: UnsafePointer<S>, _ weight: UnsafePointer<S>,
                                             _ bias: UnsafePointer<S>?, N: Int, C: Int, OC: Int,
                                             layout: WeightLayout = .outIn, bf16: Bool) {
    if bf16 {
        precondition(S.self == Float.self, "bf16 matrix products need a Float model")
        bf16LinearForward(mutableFloats(out), rawFloats(inp), rawFloats(weight), bias.map { rawFloats($0) },
                          N: N, C: C, OC: OC, layout: layout)
    } else {
        linearForward(out, inp, weight, bias, N: N, C: C, OC: OC, layout: layout)
    }
}

/// Backward of ``trainingLinearForward(_:_:_:_:N:C:OC:layout:bf16:)``: accumulates (`+=`) into
/// `dinp`, `dweight` and `dbias` (each nil when not wanted), the two products in bfloat16 under `bf16`.
func trainingLinearBackward<S: ComputeScalar>(_ dinp: UnsafeMutablePointer<S>?, _ dweight: UnsafeMutablePointer<S>?,
                                              _ dbias: UnsafeMutablePointer<S>?, _ dout: UnsafePointer<S>,
                                              _ inp: UnsafePointer<S>, _ weight: UnsafePointer<S>, N: Int, C: Int, OC: Int,
                                              layout: WeightLayout = .outIn, bf16: Bool) {
    if bf16 {
        precondition(S.self == Float.self, "bf16 matrix products need a Float model")
        bf16LinearBackward(dinp.map { mutableFloats($0) }, dweight.map { mutableFloats($0) }, dbias.map { mutableFloats($0) },
                           rawFloats(dout), rawFloats(inp), rawFloats(weight), N: N, C: C, OC: OC, layout: layout)
    } else {
        linearBackward(dinp, dweight, dbias, dout, inp, weight, N: N, C: C, OC: OC, layout: layout)
    }
}
