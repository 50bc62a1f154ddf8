import DLLMCompute

/// `out (N, OC) = inp (N, C) · W + bias` for the inference path: `linearForward`
/// (OpenBLAS) for many rows, a direct kernel for a few (autoregressive decoding
/// feeds one row per sequence), where sgemm would spend most of its time packing
/// the weight matrix for a product it uses once.
func inferenceLinear<S: ComputeScalar>(
    _ out: UnsafeMutablePointer<S>,
    _ inp: UnsafePointer<S>, _ weight: UnsafePointer<S>, _ bias: UnsafePointer<S>?,
    N: Int, C: Int, OC: Int, layout: WeightLayout = .outIn
) {
    if N > fewRowsLimit {
        linearForward(out, inp, weight, bias, N: N, C: C, OC: OC, layout: layout)
    } else {
        fewRowsLinearForward(out, inp, weight, bias, N: N, C: C, OC: OC, layout: layout)
    }
}

/// Largest row count `inferenceLinear` hands to the direct kernel.
let fewRowsLimit = 4

/// The direct kernel: each weight row (or column block) is read once and applied to
/// all `N` input rows while it is in cache; output columns are split across threads.
/// `.outIn`: `out[n, o] = dot(inp[n], W[o])`. `.inOut`: `out[n] += inp[n, c] · W[c]` row by row.
func fewRowsLinearForward<S: ComputeScalar>(
    _ out: UnsafeMutablePointer<S>,
    _ inp: UnsafePointer<S>, _ weight: UnsafePointer<S>, _ bias: UnsafePointer<S>?,
    N: Int, C: Int, OC: Int, layout: WeightLayout
) {
    switch layout {
    case .outIn:
        parallelChunks(OC, minimumPerThread: 256) { cols in
            for o in cols {
                let w = weight + o * C
                let b = bias?[o] ?? 0
                for n in 0..<N { out[n * OC + o] = S.dot(inp + n * C, w, count: C) + b }
            }
        }
    case .inOut:
        parallelChunks(OC, minimumPerThread: 256) { cols in
            for n in 0..<N {
                let y = out + n * OC
                for o in cols { y[o] = bias?[o] ?? 0 }
            }
            for c in 0..<C {
                let w = weight + c * OC
                for n in 0..<N {
                    let x = inp[n * C + c]
                    let y = out + n * OC
                    for o in cols { y[o] += x * w[o] }
                }
            }
        }
    }
}
