import CBLAS
import RealModule

/// The floating-point types the compute core runs in.
///
/// `Float` is the training type; `Double` runs the very same kernels so that
/// finite-difference gradient checks have a precise reference path.
/// Every kernel is generic over this protocol and `@inlinable`, so callers in
/// other modules get a specialised copy with no generic dispatch in the loops.
public protocol ComputeScalar: Real, BinaryFloatingPoint, FastExponential, VectorReductions, Sendable
where Self.RawSignificand: FixedWidthInteger {
    /// Row-major general matrix multiply `C = alpha·op(A)·op(B) + beta·C` (BLAS `?gemm`).
    static func blasGemm(
        _ transA: Transpose, _ transB: Transpose, _ m: Int, _ n: Int, _ k: Int,
        _ alpha: Self, _ a: UnsafePointer<Self>, _ lda: Int,
        _ b: UnsafePointer<Self>, _ ldb: Int,
        _ beta: Self, _ c: UnsafeMutablePointer<Self>, _ ldc: Int)
}

/// Whether a gemm operand is used as stored or transposed.
public enum Transpose: Sendable {
    case none, transpose

    @usableFromInline var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

extension Float: ComputeScalar {
    @inlinable
    public static func blasGemm(
        _ transA: Transpose, _ transB: Transpose, _ m: Int, _ n: Int, _ k: Int,
        _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
        _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

extension Double: ComputeScalar {
    @inlinable
    public static func blasGemm(
        _ transA: Transpose, _ transB: Transpose, _ m: Int, _ n: Int, _ k: Int,
        _ alpha: Double, _ a: UnsafePointer<Double>, _ lda: Int,
        _ b: UnsafePointer<Double>, _ ldb: Int,
        _ beta: Double, _ c: UnsafeMutablePointer<Double>, _ ldc: Int
    ) {
        cblas_dgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
