import DLLMCompute
import XCTest

/// Attention with bf16 products (``AttentionPrecision/bfloat16``, what `bf16: true` runs): the full
/// kernel against a Float64 spelling of the same scheme, the tiled kernel against the full one
/// within the bound its different rounding point allows, and both against float32 to show the
/// rounding happened. Runs on each bf16 kernel the CPU has (AMX, then `vdpbf16ps`).
final class BFloat16AttentionTests: XCTestCase {
    typealias Shape = TiledAttentionTests.Shape

    /// bf16(x) widened back: what the products multiply.
    static func r(_ x: Double) -> Double { Double(BFloat16Matmul.rounded(Float(x))) }

    /// For every sequence, query head and query row with an allowed key: the offsets of its query
    /// row in `q` and of the allowed keys' rows in `k` (and `v`, which shares k's layout), and the
    /// Float64 softmax of `scale · q·k` over those keys. The scaffold both Float64 checks below share.
    static func forEachQueryRow(q: [Double], k: [Double], mask: AttentionMask, _ s: Shape,
                                _ body: (_ qi: Int, _ keys: [Int], _ p: [Double]) -> Void) {
        let QD = s.NH * s.HD, KVD = s.NKV * s.HD, group = s.NH / s.NKV, scale = 1 / Double(s.HD).squareRoot()
        for b in 0..<s.B {
            for h in 0..<s.NH {
                let g = h / group
                for i in 0..<s.T {
                    let qi = (b * s.T + i) * QD + h * s.HD
                    let keys = (0..<s.T).filter { mask.allows(b, i, $0) }.map { (b * s.T + $0) * KVD + g * s.HD }
                    if keys.isEmpty { continue }
                    let scores = keys.map { kj in scale * (0..<s.HD).reduce(0) { $0 + q[qi + $1] * k[kj + $1] } }
                    let top = scores.max()!
                    let e = scores.map { Foundation.exp($0 - top) }
                    let sum = e.reduce(0, +)
                    body(qi, keys, e.map { $0 / sum })
                }
            }
        }
    }

    /// The scheme in Float64 (the fixture script's `RoundedMatmul` attention): `S = scale · bf16(Q)·bf16(K)ᵀ`,
    /// masked softmax `P`, `out = bf16(P)·bf16(V)`; backward `dP = bf16(dO)·bf16(V)ᵀ`,
    /// `dV = bf16(P)ᵀ·bf16(dO)`, `dS = scale · P ⊙ (dP − Σ dP⊙P)`, `dQ = bf16(dS)·bf16(K)`,
    /// `dK = bf16(dS)ᵀ·bf16(Q)`. A row with no allowed key has output and gradients 0.
    static func reference(_ x: [[Float]], _ dout: [Float], mask: AttentionMask, _ s: Shape) -> (out: [Double], dq: [Double], dk: [Double], dv: [Double]) {
        let QD = s.NH * s.HD, KVD = s.NKV * s.HD, scale = 1 / Double(s.HD).squareRoot()
        let q = x[0].map { r(Double($0)) }, k = x[1].map { r(Double($0)) }, v = x[2].map { r(Double($0)) }
        let dO = dout.map { r(Double($0)) }
        var out = [Double](repeating: 0, count: s.B * s.T * QD), dq = out
        var dk = [Double](repeating: 0, count: s.B * s.T * KVD), dv = dk
        forEachQueryRow(q: q, k: k, mask: mask, s) { qi, keys, p in
            var dp = [Double](repeating: 0, count: keys.count)
            for (n, kj) in keys.enumerated() {
                for d in 0..<s.HD {
                    out[qi + d] += r(p[n]) * v[kj + d]
                    dv[kj + d] += r(p[n]) * dO[qi + d]
                    dp[n] += dO[qi + d] * v[kj + d]
                }
            }
            let rowDot = zip(p, dp).reduce(0) { $0 + $1.0 * $1.1 }
            for (n, kj) in keys.enumerated() {
                let ds = r(scale * p[n] * (dp[n] - rowDot))
                for d in 0..<s.HD {
                    dq[qi + d] += ds * k[kj + d]
                    dk[kj + d] += ds * q[qi + d]
                }
            }
        }
        return (out, dq, dk, dv)
    }

    static func full(_ x: [[Float]], _ dout: [Float], mask: AttentionMask, _ s: Shape, precision: AttentionPrecision) -> (out: [Float], dq: [Float], dk: [Float], dv: [Float]) {
        var out = [Float](repeating: 0, count: s.B * s.T * s.NH * s.HD)
        var att = [Float](repeating: 0, count: s.B * s.NH * s.T * s.T)
        attentionForward(&out, ldo: s.NH * s.HD, &att, x[0], ldq: s.NH * s.HD, x[1], ldk: s.NKV * s.HD, x[2], ldv: s.NKV * s.HD,
                         mask: mask, B: s.B, T: s.T, NH: s.NH, NKV: s.NKV, HD: s.HD, precision: precision)
        var dq = [Float](repeating: 0, count: x[0].count), dk = [Float](repeating: 0, count: x[1].count), dv = dk
        var scratch = [Float](repeating: 0, count: attentionScratchCount(T: s.T))
        scratch.withUnsafeMutableBufferPointer { scratch in
            attentionBackward(&dq, &dk, &dv, scratch, dout, ldo: s.NH * s.HD, att, x[0], ldq: s.NH * s.HD, x[1], ldk: s.NKV * s.HD,
                              x[2], ldv: s.NKV * s.HD, B: s.B, T: s.T, NH: s.NH, NKV: s.NKV, HD: s.HD, precision: precision)
        }
        return (out, dq, dk, dv)
    }

    static func tiledForward(_ x: [[Float]], mask: AttentionMask, _ s: Shape, tiles: AttentionTiles) -> (out: [Float], lse: [Float]) {
        var out = [Float](repeating: 0, count: s.B * s.T * s.NH * s.HD)
        var lse = [Float](repeating: 0, count: s.B * s.NH * s.T)
        tiledAttentionForward(&out, ldo: s.NH * s.HD, &lse, x[0], ldq: s.NH * s.HD, x[1], ldk: s.NKV * s.HD, x[2], ldv: s.NKV * s.HD,
                              mask: mask, B: s.B, T: s.T, NH: s.NH, NKV: s.NKV, HD: s.HD, tiles: tiles, precision: .bfloat16)
        return (out, lse)
    }

    static func tiledBackward(_ x: [[Float]], _ dout: [Float], out: [Float], lse: [Float], mask: AttentionMask, _ s: Shape,
                              tiles: AttentionTiles) -> (dq: [Float], dk: [Float], dv: [Float]) {
        var dq = [Float](repeating: 0, count: x[0].count), dk = [Float](repeating: 0, count: x[1].count), dv = dk
        tiledAttentionBackward(&dq, &dk, &dv, dout, out, ldo: s.NH * s.HD, lse, x[0], ldq: s.NH * s.HD, x[1], ldk: s.NKV * s.HD,
                               x[2], ldv: s.NKV * s.HD, mask: mask, B: s.B, T: s.T, NH: s.NH, NKV: s.NKV, HD: s.HD, tiles: tiles,
                               precision: .bfloat16)
        return (dq, dk, dv)
    }

    /// Per-element first-order bounds on how far the tiled bf16 backward may sit from the full one,
    /// given the same forward output. Two things differ: the tiled kernel takes D_i = dO_i·O_i
    /// (FlashAttention-2) where the full one takes Σⱼ P_ij·dP_ij (softmax's autograd); with rounded
    /// products they differ by |ΔD_i| ≤ 2⁻⁸·Σ_d |dO_id|·Σⱼ P_ij·|V_jd| (dO and P each rounded once,
    /// 2⁻⁹). And P, recomputed from the log-sum-exp, may round to the other bf16 neighbour (2⁻⁸ of
    /// the element at most), as may dS. So, with scale s:
    /// |ΔdV_j| ≤ 2⁻⁸ Σᵢ P_ij|dO_i|; |ΔdQ_i| ≤ s Σⱼ P_ij (|ΔD_i| + 2⁻⁸|dP_ij − D_i|)|K_j|;
    /// |ΔdK_j| ≤ s Σᵢ P_ij (|ΔD_i| + 2⁻⁸|dP_ij − D_i|)|Q_i|, all in Float64 from the inputs.
    static func tiledBackwardBounds(_ x: [[Float]], _ dout: [Float], mask: AttentionMask, _ s: Shape) -> (dq: [Double], dk: [Double], dv: [Double]) {
        let QD = s.NH * s.HD, KVD = s.NKV * s.HD, scale = 1 / Double(s.HD).squareRoot(), u = 1.0 / 256
        let q = x[0].map(Double.init), k = x[1].map(Double.init), v = x[2].map(Double.init), dO = dout.map(Double.init)
        var dq = [Double](repeating: 0, count: s.B * s.T * QD)
        var dk = [Double](repeating: 0, count: s.B * s.T * KVD), dv = dk
        forEachQueryRow(q: q, k: k, mask: mask, s) { qi, keys, p in
            let dp = keys.map { kj in (0..<s.HD).reduce(0) { $0 + dO[qi + $1] * v[kj + $1] } }
            let D = zip(p, dp).reduce(0) { $0 + $1.0 * $1.1 }
            var deltaD = 0.0
            for d in 0..<s.HD {
                deltaD += abs(dO[qi + d]) * zip(keys, p).reduce(0) { $0 + $1.1 * abs(v[$1.0 + d]) }
            }
            deltaD *= u
            for (n, kj) in keys.enumerated() {
                let dsBound = scale * p[n] * (deltaD + u * abs(dp[n] - D))
                for d in 0..<s.HD {
                    dv[kj + d] += u * p[n] * abs(dO[qi + d])
                    dq[qi + d] += dsBound * abs(k[kj + d])
                    dk[kj + d] += dsBound * abs(q[qi + d])
                }
            }
        }
        return (dq, dk, dv)
    }

    /// Largest |a − b| over the largest |b| (the parity tests' measure).
    static func errorOverLargest<A: BinaryFloatingPoint, B: BinaryFloatingPoint>(_ a: [A], _ b: [B]) -> Double {
        var worst = 0.0, largest = 0.0
        for i in b.indices {
            worst = max(worst, abs(Double(a[i]) - Double(b[i])))
            largest = max(largest, abs(Double(b[i])))
        }
        return worst / max(largest, .leastNormalMagnitude)
    }

    static func inputs(_ s: Shape) -> (x: [[Float]], dout: [Float]) {
        var gen = GradientCheck()
        let x = [gen.random(s.B * s.T * s.NH * s.HD), gen.random(s.B * s.T * s.NKV * s.HD), gen.random(s.B * s.T * s.NKV * s.HD)]
            .map { $0.map(Float.init) }
        return (x, gen.random(s.B * s.T * s.NH * s.HD).map(Float.init))
    }

    /// Only float32 summation order and exp separate the kernel from the Float64 scheme, plus, rarely,
    /// a probability or dS element whose float32 value rounds to the other bfloat16 neighbour than its
    /// Float64 value (one bf16 step, 2⁻⁸ of that element, in one term of a sum): 1e-4 of the largest
    /// element covers both. bf16 against float32 must differ by far more (2⁻⁹ per input rounding).
    func testFullAttentionEqualsTheRoundedSchemeForEveryMask() {
        let s = Shape(B: 2, T: 40, NH: 4, NKV: 2, HD: 16)
        let (x, dout) = Self.inputs(s)
        onEachBFloat16Kernel { kernel in
            for (name, mask) in TiledAttentionTests.masks(B: s.B, T: s.T) {
                let expected = Self.reference(x, dout, mask: mask, s)
                let bf16 = Self.full(x, dout, mask: mask, s, precision: .bfloat16)
                let fp32 = Self.full(x, dout, mask: mask, s, precision: .native)
                for (part, ours, theirs, plain) in [("out", bf16.out, expected.out, fp32.out), ("dq", bf16.dq, expected.dq, fp32.dq),
                                                     ("dk", bf16.dk, expected.dk, fp32.dk), ("dv", bf16.dv, expected.dv, fp32.dv)] {
                    XCTAssertLessThan(Self.errorOverLargest(ours, theirs), 1e-4, "\(kernel), \(name): \(part) vs the rounded scheme")
                    XCTAssertGreaterThan(Self.errorOverLargest(plain, theirs), 1e-3, "\(kernel), \(name): \(part) equals float32: bf16 not applied")
                }
            }
        }
    }

    /// The tiled forward rounds unnormalised probabilities (bf16(p̃)·V / l) where the full one rounds
    /// normalised ones (bf16(p̃/l)·V). Two roundings of at most 2⁻⁹ each move a term by at most
    /// 2⁻⁸·p·|v|, and the p of a row sum to 1, so each output moves by at most 2⁻⁸·max|v|.
    /// The tiled backward, given the same forward output, stays within ``tiledBackwardBounds`` of the
    /// full one (each element; the bounds are first order, so 10 % and 1e-5 are added for the
    /// second-order and float32 terms). T = 300 with (64, 128) tiles spans several query and key tiles.
    func testTiledAttentionMatchesFullWithinTheRoundingOfUnnormalisedProbabilities() {
        let s = Shape(B: 2, T: 160, NH: 4, NKV: 2, HD: 16)
        let (x, dout) = Self.inputs(s)
        let tiles = AttentionTiles(queries: 32, keys: 64)
        let outputBound = Double(x[2].map(abs).max()!) / 256
        let masks = TiledAttentionTests.masks(B: s.B, T: s.T)
        let bounds = masks.map { Self.tiledBackwardBounds(x, dout, mask: $0.1, s) }
        var tightest = 0.0  // largest |difference| / bound seen: how much of the bound the kernels use
        onEachBFloat16Kernel { kernel in
            for ((name, mask), bound) in zip(masks, bounds) {
                let full = Self.full(x, dout, mask: mask, s, precision: .bfloat16)
                let (out, lse) = Self.tiledForward(x, mask: mask, s, tiles: tiles)
                let worst = zip(out, full.out).map { Double(abs($0 - $1)) }.max()!
                XCTAssertLessThanOrEqual(worst, outputBound, "\(kernel), \(name): tiled out vs full, bound 2⁻⁸·max|v|")
                let tiled = Self.tiledBackward(x, dout, out: full.out, lse: lse, mask: mask, s, tiles: tiles)
                for (part, a, b, bound) in [("dq", tiled.dq, full.dq, bound.dq), ("dk", tiled.dk, full.dk, bound.dk),
                                            ("dv", tiled.dv, full.dv, bound.dv)] {
                    let outside = a.indices.filter { Double(abs(a[$0] - b[$0])) > 1.1 * bound[$0] + 1e-5 }
                    XCTAssertTrue(outside.isEmpty, "\(kernel), \(name): tiled \(part) vs full outside the bound at \(outside.count) elements, "
                                  + "first \(outside.first.map { "\(a[$0]) vs \(b[$0]), bound \(bound[$0])" } ?? "")")
                    XCTAssertGreaterThan(Self.errorOverLargest(a, b), 0, "\(kernel), \(name): \(part) identical: tiled path not taken")
                    for i in a.indices where bound[i] > 0 { tightest = max(tightest, Double(abs(a[i] - b[i])) / bound[i]) }
                }
            }
        }
        print("tiled bf16 backward: largest difference / bound \(tightest)")
    }

    /// The single-threaded product attention's tasks run (pack rows, pack panels, multiply): the
    /// sums of ``bf16Gemm`` (the same row blocks on the same kernel; only float32 order may
    /// differ), also over the first columns of panels packed wider, as a key tile's Kᵀ panels serve
    /// a causal diagonal tile.
    func testSingleThreadedProductEqualsBFloat16Gemm() {
        let m = 37, n = 70, k = 45
        var gen = GradientCheck()
        let a = gen.random(m * k).map(Float.init), b = gen.random(k * n).map(Float.init)
        var rows = [UInt16](repeating: 0, count: bf16PackedRowsCount(N: m, C: k))
        var panels = [UInt16](repeating: 0, count: bf16PackedPanelsCount(k: k, n: n))
        onEachBFloat16Kernel { kernel in
            bf16PackRowsOnThisThread(.none, m: m, k: k, a, lda: k, into: &rows)
            bf16PackPanelsOnThisThread(.none, k: k, n: n, b, ldb: n, into: &panels)
            for columns in [n, 50] {
                var expected = [Float](repeating: 0, count: m * columns), ours = expected
                bf16Gemm(.none, .none, m: m, n: columns, k: k, a, lda: k, b, ldb: n, &expected, ldc: columns)
                bf16MultiplyPackedOnThisThread(rows, panels, m: m, n: columns, k: k, beta: 0, &ours, ldc: columns)
                XCTAssertLessThan(Self.errorOverLargest(ours, expected), 1e-6, "\(kernel), \(columns) columns")
                XCTAssertGreaterThan(expected.map(abs).max()!, 1, kernel)
            }
        }
    }
}
