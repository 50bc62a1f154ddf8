import DLLMCompute
import DLLMRandom
import XCTest

/// The bfloat16 rounding and the bf16 product (Sources/CBFloat16) against oracles written here:
/// rounding against "the nearer of the two neighbouring bfloat16 values, ties to the even one",
/// the product against a Float64 product of the rounded inputs.
final class BFloat16GemmTests: XCTestCase {
    /// The bfloat16 value nearest to `x` by exhaustive comparison of its two neighbours.
    func nearestBFloat16(_ x: Float) -> Float {
        if x.isNaN || x.isInfinite { return x }
        let below = Float(bitPattern: x.bitPattern & 0xFFFF_0000)  // truncation: toward zero
        let above = Float(bitPattern: (x.bitPattern & 0xFFFF_0000) &+ 0x1_0000)  // one bf16 ulp away from zero
        let dBelow = abs(Double(x) - Double(below)), dAbove = abs(Double(x) - Double(above))
        if dBelow != dAbove { return dBelow < dAbove ? below : above }
        return (below.bitPattern >> 16) & 1 == 0 ? below : above
    }

    func testRoundingIsNearestTiesToEven() {
        XCTAssertEqual(BFloat16Matmul.rounded(1 + 0x1p-8), 1)  // tie between 1 and 1 + 2^-7: even is 1
        XCTAssertEqual(BFloat16Matmul.rounded(1 + 3 * 0x1p-8), 1 + 0x1p-6)  // tie: even is 1 + 2^-6
        XCTAssertEqual(BFloat16Matmul.rounded(1 + 0x1p-8 + 0x1p-20), 1 + 0x1p-7)  // past the tie
        XCTAssertEqual(BFloat16Matmul.rounded(-(1 + 0x1p-8 + 0x1p-20)), -(1 + 0x1p-7))
        XCTAssertEqual(BFloat16Matmul.rounded(.greatestFiniteMagnitude), .infinity)
        XCTAssertEqual(BFloat16Matmul.rounded(.infinity), .infinity)
        XCTAssertTrue(BFloat16Matmul.rounded(.nan).isNaN)
        XCTAssertGreaterThan(BFloat16Matmul.rounded(1e-40), 0, "denormals are kept (as torch does), not flushed")

        // The vectorised path (blocks of 16) and its tail against the oracle.
        var rng = SeededGenerator(seed: 19)
        let count = 16 * 64 + 7
        var values = (0..<count).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
        values[3] = .nan; values[20] = -.infinity; values[40] = 1 + 0x1p-8
        var bits = [UInt16](repeating: 0, count: count)
        BFloat16Matmul.round(values, into: &bits, count: count)
        for i in 0..<count {
            let got = Float(bitPattern: UInt32(bits[i]) << 16), want = nearestBFloat16(values[i])
            if want.isNaN { XCTAssertTrue(got.isNaN, "value \(i)"); continue }
            XCTAssertEqual(got.bitPattern, want.bitPattern, "value \(i): \(values[i])")
        }
    }

    /// bf16Gemm against Float64 sums of the rounded inputs, to float32 accumulation error:
    /// |error| ≤ k · 2⁻²³ · Σ|a·b| (twice the classical γₖ bound of recursive summation).
    func assertMatchesRoundedProduct(_ tA: Transpose, _ tB: Transpose, m: Int, n: Int, k: Int, beta: Float,
                                     file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededGenerator(seed: UInt64(m * 1000 + n * 10 + k))
        let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &rng) }
        let c0 = (0..<(m * n)).map { _ in Float.random(in: -1...1, using: &rng) }
        let lda = tA == .none ? k : m, ldb = tB == .none ? n : k
        var c = c0
        bf16Gemm(tA, tB, m: m, n: n, k: k, a, lda: lda, b, ldb: ldb, beta: beta, &c, ldc: n)
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0, magnitude = 0.0
                for p in 0..<k {
                    let x = Double(BFloat16Matmul.rounded(tA == .none ? a[i * lda + p] : a[p * lda + i]))
                    let y = Double(BFloat16Matmul.rounded(tB == .none ? b[p * ldb + j] : b[j * ldb + p]))
                    sum += x * y
                    magnitude += abs(x * y)
                }
                let want = sum + Double(beta) * Double(c0[i * n + j])
                let bound = Double(k + 1) * 0x1p-23 * (magnitude + abs(Double(c0[i * n + j])))
                let error = abs(Double(c[i * n + j]) - want)
                worst = max(worst, error / bound)
                if error > bound {
                    XCTFail("(\(i), \(j)) of \(tA)/\(tB) m \(m) n \(n) k \(k): \(c[i * n + j]) vs \(want), bound \(bound)", file: file, line: line)
                    return
                }
            }
        }
        XCTAssertLessThanOrEqual(worst, 1, file: file, line: line)
    }

    /// Runs `body` on every kernel this CPU has: the AMX tiles (whole 16-row, 16-pair tiles, the
    /// leftover pairs and rows on `vdpbf16ps`) where present, then with AMX switched off.
    func onEachKernel(_ body: () -> Void) { onEachBFloat16Kernel { _ in body() } }

    func testEveryTranspositionWithOddShapes() {
        onEachKernel {
            for tA in [Transpose.none, .transpose] {
                for tB in [Transpose.none, .transpose] {
                    for beta: Float in [0, 1] {
                        // n = 70: one full 64-column panel and a 6-column tail; k odd: a zero-padded pair; m = 13: a 1-row block.
                        assertMatchesRoundedProduct(tA, tB, m: 13, n: 70, k: 37, beta: beta)
                    }
                }
            }
        }
    }

    /// Shapes with every kind of tail for both kernels: k = 601 (one `vdpbf16ps` pass of 301
    /// pairs; 288 AMX pairs and 13 left over), k = 2501 and 4095 (two `vdpbf16ps` passes of 626 and
    /// 625, or 1,024 and 1,024 pairs), m = 110 and 51 (48-row blocks; 32- and 16-row AMX
    /// blocks plus rows left over, across threads), n = 130 and 83 (panels with 2- and 19-column
    /// ends), k = 1059 (AMX passes past 512 pairs), and products of whole tiles only; a transposed
    /// A of 600 rows packs in 256-row spans that each thread starts mid-span (k = 70: two 32-value
    /// word transposes, then 6 values one by one; k = 48: one transpose and a 16-value block); k = 2048
    /// and 4095 make a 4 KiB or 8 KiB row, which the packed A pads by a cache line.
    func testSeveralKAndRowBlocksAcrossThreads() {
        onEachKernel {
            assertMatchesRoundedProduct(.transpose, .none, m: 40, n: 70, k: 2048, beta: 1)
            assertMatchesRoundedProduct(.none, .none, m: 35, n: 20, k: 4095, beta: 0)
            assertMatchesRoundedProduct(.none, .transpose, m: 13, n: 70, k: 2501, beta: 1)
            assertMatchesRoundedProduct(.transpose, .none, m: 600, n: 40, k: 70, beta: 0)
            assertMatchesRoundedProduct(.transpose, .transpose, m: 600, n: 21, k: 48, beta: 1)
            assertMatchesRoundedProduct(.none, .transpose, m: 110, n: 130, k: 601, beta: 1)
            assertMatchesRoundedProduct(.transpose, .none, m: 110, n: 130, k: 601, beta: 0)
            assertMatchesRoundedProduct(.none, .transpose, m: 51, n: 83, k: 1059, beta: 1)
            assertMatchesRoundedProduct(.transpose, .none, m: 51, n: 83, k: 1059, beta: 0)
            assertMatchesRoundedProduct(.none, .none, m: 32, n: 64, k: 32, beta: 0)
            assertMatchesRoundedProduct(.none, .none, m: 16, n: 16, k: 64, beta: 1)
        }
    }

    /// AMX and `vdpbf16ps` multiply the same rounded inputs and sum in float32, so on a realistic
    /// linear-layer shape they agree to float32 summation error, not just the bf16 bound.
    func testAMXAndVectorKernelGiveTheSameProductToFloat32Rounding() throws {
        try XCTSkipUnless(BFloat16Matmul.hasAMX, "this CPU has no AMX tiles")
        let amxWasOn = BFloat16Matmul.usesAMX
        defer { BFloat16Matmul.usesAMX = amxWasOn }
        let m = 256, n = 576, k = 576
        var rng = SeededGenerator(seed: 2026)
        let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = (0..<(n * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        var viaAMX = [Float](repeating: 0, count: m * n), viaVector = viaAMX
        BFloat16Matmul.usesAMX = true
        bf16Gemm(.none, .transpose, m: m, n: n, k: k, a, lda: k, b, ldb: k, beta: 0, &viaAMX, ldc: n)
        BFloat16Matmul.usesAMX = false
        bf16Gemm(.none, .transpose, m: m, n: n, k: k, a, lda: k, b, ldb: k, beta: 0, &viaVector, ldc: n)
        // Sums of 576 products of magnitude < 1: float32 reordering moves each by well under 1e-4.
        var worst: Float = 0
        for i in viaAMX.indices { worst = max(worst, abs(viaAMX[i] - viaVector[i])) }
        XCTAssertLessThan(worst, 1e-4)
        XCTAssertNotEqual(viaAMX, [Float](repeating: 0, count: m * n))
    }

    /// The linear layer's three products equal the float32 ones over rounded inputs, and the bias
    /// gradient is the float32 row sum.
    func testLinearBackwardMatchesFloatLinearOfRoundedInputs() {
        let N = 9, C = 20, OC = 17
        var rng = SeededGenerator(seed: 7)
        func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1, using: &rng) } }
        let x = random(N * C), w = random(OC * C), dy = random(N * OC), bias = random(OC)
        let xr = x.map(BFloat16Matmul.rounded), wr = w.map(BFloat16Matmul.rounded), dyr = dy.map(BFloat16Matmul.rounded)
        var y = [Float](repeating: 0, count: N * OC), yRef = y
        bf16LinearForward(&y, x, w, bias, N: N, C: C, OC: OC)
        linearForward(&yRef, xr, wr, bias, N: N, C: C, OC: OC)
        var dx = random(N * C), dw = random(OC * C), db = random(OC)
        var dxRef = dx, dwRef = dw, dbRef = db
        bf16LinearBackward(&dx, &dw, &db, dy, x, w, N: N, C: C, OC: OC)
        linearBackward(&dxRef, &dwRef, nil, dyr, xr, wr, N: N, C: C, OC: OC)
        for o in 0..<OC { for n in 0..<N { dbRef[o] += dy[n * OC + o] } }
        for (got, want) in [(y, yRef), (dx, dxRef), (dw, dwRef), (db, dbRef)] {
            for i in got.indices { XCTAssertEqual(got[i], want[i], accuracy: 1e-5 * max(1, abs(want[i]))) }
        }
    }

    /// A (C, OC) `Conv1D` weight gives the bits its (OC, C) transpose gives in the forward and
    /// input-gradient products (the same rounded values reach the same packed layout), and the
    /// transposed weight gradient within float32 rounding (inpᵀ · dout is a product of another
    /// shape than doutᵀ · inp, so its sums may group differently), on every kernel path.
    func testConv1DLayoutEqualsLinearLayoutOfTheTranspose() {
        let N = 37, C = 40, OC = 35
        var rng = SeededGenerator(seed: 11)
        func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1, using: &rng) } }
        let x = random(N * C), w = random(OC * C), dy = random(N * OC), bias = random(OC)
        var wInOut = [Float](repeating: 0, count: C * OC)  // (C, OC)
        for o in 0..<OC { for c in 0..<C { wInOut[c * OC + o] = w[o * C + c] } }
        let dx0 = random(N * C), dw0 = random(OC * C), db0 = random(OC)
        var dw0InOut = [Float](repeating: 0, count: C * OC)
        for o in 0..<OC { for c in 0..<C { dw0InOut[c * OC + o] = dw0[o * C + c] } }
        onEachBFloat16Kernel { kernel in
            var y = [Float](repeating: 0, count: N * OC), yInOut = y
            bf16LinearForward(&y, x, w, bias, N: N, C: C, OC: OC)
            bf16LinearForward(&yInOut, x, wInOut, bias, N: N, C: C, OC: OC, layout: .inOut)
            XCTAssertEqual(yInOut, y, "\(kernel): forward")
            var dx = dx0, dw = dw0, db = db0, dxInOut = dx0, dwInOut = dw0InOut, dbInOut = db0
            bf16LinearBackward(&dx, &dw, &db, dy, x, w, N: N, C: C, OC: OC)
            bf16LinearBackward(&dxInOut, &dwInOut, &dbInOut, dy, x, wInOut, N: N, C: C, OC: OC, layout: .inOut)
            XCTAssertEqual(dxInOut, dx, "\(kernel): input gradient")
            XCTAssertEqual(dbInOut, db, "\(kernel): bias gradient")
            var worst: Float = 0
            for o in 0..<OC { for c in 0..<C { worst = max(worst, abs(dwInOut[c * OC + o] - dw[o * C + c]) / max(1, abs(dw[o * C + c]))) } }
            XCTAssertLessThan(worst, 1e-5, "\(kernel): weight gradient")
            XCTAssertNotEqual(dw, dw0, "\(kernel): the weight gradient accumulated")
        }
    }
}

/// Runs `body` on each bf16 path this CPU has: AMX tiles (when Linux grants them), `vdpbf16ps`
/// (with AVX512_BF16), the fallback of AVX-512 CPUs without it (AVX-512 packers, float32 sgemm
/// over the rounded values) and that of CPUs without AVX-512 (portable packers), passing the
/// path's name; restores the choice afterwards.
func onEachBFloat16Kernel(_ body: (String) -> Void) {
    let amxWasOn = BFloat16Matmul.usesAMX, vectorWasOn = BFloat16Matmul.usesVectorKernel
    let packersWereOn = BFloat16Matmul.usesVectorPackers
    defer {
        BFloat16Matmul.usesAMX = amxWasOn; BFloat16Matmul.usesVectorKernel = vectorWasOn
        BFloat16Matmul.usesVectorPackers = packersWereOn
    }
    var paths: [(amx: Bool, vector: Bool, packers: Bool)] = BFloat16Matmul.hasAMX ? [(true, true, true)] : []
    if BFloat16Matmul.hasVectorKernel { paths.append((false, true, true)) }
    if BFloat16Matmul.hasVectorPackers { paths.append((false, false, true)) }
    paths.append((false, false, false))
    for path in paths {
        BFloat16Matmul.usesAMX = path.amx
        BFloat16Matmul.usesVectorKernel = path.vector
        BFloat16Matmul.usesVectorPackers = path.packers
        XCTAssertEqual(BFloat16Matmul.kernelName.hasPrefix("AMX"), path.amx)
        XCTAssertEqual(BFloat16Matmul.isAvailable, path.vector)
        XCTAssertEqual(BFloat16Matmul.packsOnAVX512, path.packers && BFloat16Matmul.hasVectorPackers)
        body(BFloat16Matmul.kernelName)
    }
}
