import CMPI
import DLLMCheckpoint

/// Gradient sums in bfloat16 on the wire (DeepSpeed's `communication_data_type: bf16`, the
/// arithmetic of NCCL's bf16 all-reduce): each rank rounds its float32 gradients to bfloat16
/// (nearest even) before sending, and every partial sum an MPI algorithm forms is the float32
/// sum of two bfloat16 values rounded again. With 2 ranks the result is exactly
/// `bf16(bf16(a) + bf16(b))`; with more, the rounding points follow OpenMPI's algorithm for the
/// message size, which is fixed for a given world size, so a run is reproducible.
public enum BFloat16Wire {
    /// MPI's user reduction over `MPI_UINT16_T` elements holding bfloat16 bits (commutative),
    /// created on first use, which is after `MPI_Init`.
    nonisolated(unsafe) static let sum: MPI_Op = {
        var op: MPI_Op?
        let status = MPI_Op_create({ incoming, accumulated, length, _ in
            guard let incoming, let accumulated, let length else { return }
            BFloat16Wire.accumulate(UnsafePointer(incoming.assumingMemoryBound(to: UInt16.self)),
                                    into: accumulated.assumingMemoryBound(to: UInt16.self), count: Int(length.pointee))
        }, 1, &op)
        precondition(status == dllm_mpi_success() && op != nil, "MPI_Op_create failed for the bf16 sum (\(status))")
        return op!
    }()

    /// `accumulated[i] = bf16(float(incoming[i]) + float(accumulated[i]))`, rounded to nearest
    /// even: one application of the reduction.
    public static func accumulate(_ incoming: UnsafePointer<UInt16>, into accumulated: UnsafeMutablePointer<UInt16>, count: Int) {
        for i in 0..<count {
            let sum = HalfPrecision.float(fromBF16: incoming[i]) + HalfPrecision.float(fromBF16: accumulated[i])
            accumulated[i] = HalfPrecision.bf16(from: sum)
        }
    }
}
