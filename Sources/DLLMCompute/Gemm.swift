import RealModule
/// Row-major `C (m, n) = alpha · op(A) · op(B) + beta · C`, every transposition case.
///
/// `op(A)` is (m, k) and `op(B)` is (k, n); `lda`, `ldb`, `ldc` are the row strides
/// of the matrices *as stored*, so strided views (one head of a (B, T, NH·HD)
/// buffer, say) multiply without copies. A zero-sized product only scales `C`.
@inlinable
public func gemm<S: ComputeScalar>(
    _ transA: Transpose, _ transB: Transpose,
    m: Int, n: Int, k: Int,
    alpha: S = 1, _ a: UnsafePointer<S>, lda: Int,
    _ b: UnsafePointer<S>, ldb: Int,
    beta: S = 0, _ c: UnsafeMutablePointer<S>, ldc: Int
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative dimension")
    if m == 0 || n == 0 { return }
    if k == 0 {
        for i in 0..<m {
            let row = c + i * ldc
            for j in 0..<n { row[j] = beta == 0 ? 0 : beta * row[j] }
        }
        return
    }
    S.blasGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

/// A naive triple loop with the same contract as `gemm`, kept beside the fast one
/// (llm.c keeps its reference kernels too) as the oracle for the BLAS wrapper's tests.
public func referenceGemm<S: ComputeScalar>(
    _ transA: Transpose, _ transB: Transpose,
    m: Int, n: Int, k: Int,
    alpha: S = 1, _ a: UnsafePointer<S>, lda: Int,
    _ b: UnsafePointer<S>, ldb: Int,
    beta: S = 0, _ c: UnsafeMutablePointer<S>, ldc: Int
) {
    for i in 0..<m {
        for j in 0..<n {
            var sum: S = 0
            for p in 0..<k {
                let aip = transA == .none ? a[i * lda + p] : a[p * lda + i]
                let bpj = transB == .none ? b[p * ldb + j] : b[j * ldb + p]
                sum += aip * bpj
            }
            c[i * ldc + j] = alpha * sum + (beta == 0 ? 0 : beta * c[i * ldc + j])
        }
    }
}
