import DLLMCompute
import Foundation
import XCTest

/// The BLAS wrapper against the naive reference kernel, every transposition case,
/// with padded (strided) operands and a non-zero beta.
final class GemmTests: XCTestCase {
    func testAllTranspositionCasesMatchReference() {
        var rng = SplitMix(seed: 3)
        let m = 5, n = 7, k = 3
        for ta in [Transpose.none, .transpose] {
            for tb in [Transpose.none, .transpose] {
                // Stored shapes with 2 extra columns of padding to exercise strides.
                let aRows = ta == .none ? m : k, aCols = ta == .none ? k : m
                let bRows = tb == .none ? k : n, bCols = tb == .none ? n : k
                let lda = aCols + 2, ldb = bCols + 2, ldc = n + 2
                let a = (0..<(aRows * lda)).map { _ in Float(rng.nextGaussian()) }
                let b = (0..<(bRows * ldb)).map { _ in Float(rng.nextGaussian()) }
                let c0 = (0..<(m * ldc)).map { _ in Float(rng.nextGaussian()) }
                var fast = c0, slow = c0
                gemm(ta, tb, m: m, n: n, k: k, alpha: 0.5, a, lda: lda, b, ldb: ldb, beta: 2, &fast, ldc: ldc)
                referenceGemm(ta, tb, m: m, n: n, k: k, alpha: 0.5, a, lda: lda, b, ldb: ldb, beta: 2, &slow, ldc: ldc)
                for i in 0..<m {
                    for j in 0..<n {
                        XCTAssertEqual(fast[i * ldc + j], slow[i * ldc + j], accuracy: 1e-5, "case \(ta),\(tb) at (\(i),\(j))")
                    }
                    // padding columns are untouched
                    XCTAssertEqual(fast[i * ldc + n], c0[i * ldc + n])
                }
            }
        }
    }

    func testDoubleGemmUsesDgemm() {
        let a: [Double] = [1, 2, 3, 4]
        let b: [Double] = [5, 6, 7, 8]
        var c = [Double](repeating: 0, count: 4)
        gemm(.transpose, .none, m: 2, n: 2, k: 2, a, lda: 2, b, ldb: 2, &c, ldc: 2)
        let expected: [Double] = [26, 30, 38, 44]  // aᵀ·b for a = [[1,2],[3,4]], b = [[5,6],[7,8]]
        XCTAssertEqual(c, expected)
    }

    func testZeroInnerDimensionScalesC() {
        var c: [Float] = [1, 2, 3, 4]
        let empty: [Float] = [0]
        gemm(.none, .none, m: 2, n: 2, k: 0, empty, lda: 1, empty, ldb: 2, beta: 3, &c, ldc: 2)
        XCTAssertEqual(c, [3, 6, 9, 12])
    }
}

/// The vectorisable exponential against the C library's, over the whole finite range.
final class FastExpTests: XCTestCase {
    func testFloatFastExpIsWithinTwoUlpsOfExpf() {
        var worstUlps: Float = 0
        var x: Float = -87.3
        while x < 88.7 {
            let fast = Float.fastExp(x), libm = Foundation.exp(x)
            let ulps = abs(fast - libm) / libm.ulp
            worstUlps = max(worstUlps, ulps)
            x += 0.0137
        }
        XCTAssertLessThanOrEqual(worstUlps, 2, "worst error \(worstUlps) ulps")
        XCTAssertEqual(Float.fastExp(0), 1)
        XCTAssertEqual(Float.fastExp(-Float.infinity), 0)
        XCTAssertEqual(Float.fastExp(-100), 0)
        XCTAssertTrue(Float.fastExp(88.7).isFinite)
        XCTAssertTrue(Float.fastExp(.nan).isNaN, "a NaN logit propagates instead of trapping")
        // Every power of two the exponent split builds, exactly.
        for n in -125...127 {  // below −87.3 (n = −126) gives 0 by design
            XCTAssertEqual(Float.fastExp(Float(n) * Float(M_LN2)), Foundation.exp(Float(n) * Float(M_LN2)),
                           accuracy: 2 * Foundation.exp(Float(n) * Float(M_LN2)).ulp, "2^\(n)")
        }
    }
}
