import DLLMCompute
import XCTest

/// Every backward kernel against finite differences of its forward, in Float64.
final class OpGradientTests: XCTestCase {
    var gen = GradientCheck()

    func testLinearBothLayoutsWithAndWithoutBias() {
        let N = 3, C = 4, OC = 5
        for layout in [WeightLayout.outIn, .inOut] {
            for withBias in [true, false] {
                let inputs = [gen.random(N * C), gen.random(OC * C), gen.random(OC)]
                GradientCheck.check("linear \(layout) bias=\(withBias)", inputs: inputs, outputCount: N * OC,
                    forward: { x in
                        var out = [Double](repeating: 0, count: N * OC)
                        x[2].withUnsafeBufferPointer { b in
                            linearForward(&out, x[0], x[1], withBias ? b.baseAddress : nil, N: N, C: C, OC: OC, layout: layout)
                        }
                        return out
                    },
                    backward: { x, g in
                        var dx = [Double](repeating: 0, count: N * C), dw = [Double](repeating: 0, count: OC * C)
                        var db = [Double](repeating: 0, count: OC)
                        db.withUnsafeMutableBufferPointer { dbp in
                            linearBackward(&dx, &dw, withBias ? dbp.baseAddress : nil, g, x[0], x[1], N: N, C: C, OC: OC, layout: layout)
                        }
                        return [dx, dw, db]
                    })
            }
        }
    }

    func testEmbeddingWithLearnedPositions() {
        let N = 4, C = 3, V = 5, P = 6
        let ids: [Int32] = [1, 4, 1, 0], pos: [Int32] = [0, 1, 2, 5]
        GradientCheck.check("embedding", inputs: [gen.random(V * C), gen.random(P * C)], outputCount: N * C,
            forward: { x in
                var out = [Double](repeating: 0, count: N * C)
                embeddingForward(&out, ids, x[0], N: N, C: C, V: V, positions: pos, positionTable: x[1], P: P)
                return out
            },
            backward: { _, g in
                var dt = [Double](repeating: 0, count: V * C), dp = [Double](repeating: 0, count: P * C)
                dp.withUnsafeMutableBufferPointer { dpp in
                    embeddingBackward(&dt, g, ids, N: N, C: C, positions: pos, dpositionTable: dpp.baseAddress)
                }
                return [dt, dp]
            })
    }

    func testRMSNorm() {
        let N = 3, C = 6
        GradientCheck.check("rmsnorm", inputs: [gen.random(N * C), gen.random(C)], outputCount: N * C,
            forward: { x in
                var out = [Double](repeating: 0, count: N * C), r = [Double](repeating: 0, count: N)
                rmsnormForward(&out, &r, x[0], x[1], N: N, C: C, eps: 1e-5)
                return out
            },
            backward: { x, g in
                var out = [Double](repeating: 0, count: N * C), r = [Double](repeating: 0, count: N)
                rmsnormForward(&out, &r, x[0], x[1], N: N, C: C, eps: 1e-5)
                var dx = [Double](repeating: 0, count: N * C), dw = [Double](repeating: 0, count: C)
                rmsnormBackward(&dx, &dw, g, x[0], x[1], r, N: N, C: C)
                return [dx, dw]
            })
    }

    func testLayerNorm() {
        let N = 3, C = 6
        GradientCheck.check("layernorm", inputs: [gen.random(N * C), gen.random(C), gen.random(C)], outputCount: N * C,
            forward: { x in
                var out = [Double](repeating: 0, count: N * C), m = [Double](repeating: 0, count: N), r = m
                layernormForward(&out, &m, &r, x[0], x[1], x[2], N: N, C: C, eps: 1e-5)
                return out
            },
            backward: { x, g in
                var out = [Double](repeating: 0, count: N * C), m = [Double](repeating: 0, count: N), r = m
                layernormForward(&out, &m, &r, x[0], x[1], x[2], N: N, C: C, eps: 1e-5)
                var dx = [Double](repeating: 0, count: N * C), dw = [Double](repeating: 0, count: C), db = dw
                db.withUnsafeMutableBufferPointer { dbp in
                    layernormBackward(&dx, &dw, dbp.baseAddress, g, x[0], x[1], m, r, N: N, C: C)
                }
                return [dx, dw, db]
            })
    }

    func testRotaryIsARotationAndItsInverseIsTheBackward() {
        let N = 4, heads = 2, HD = 6, ld = 14  // 2 spare columns check the stride
        let table = RotaryTable<Double>(headDim: HD, maxPositions: 16, theta: 10_000)
        let pos: [Int32] = [0, 3, 7, 15]
        GradientCheck.check("rope", inputs: [gen.random(N * ld)], outputCount: N * ld,
            forward: { x in
                var y = x[0]
                table.apply(&y, positions: pos, N: N, heads: heads, ld: ld)
                return y
            },
            backward: { _, g in
                var d = g
                table.apply(&d, positions: pos, N: N, heads: heads, ld: ld, inverse: true)
                return [d]
            })
        // Position 0 is the identity; norms are preserved at every position.
        var x = gen.random(N * ld)
        let before = x
        table.apply(&x, positions: pos, N: N, heads: heads, ld: ld)
        for i in 0..<(heads * HD) { XCTAssertEqual(x[i], before[i], accuracy: 1e-12) }
        for n in 0..<N {
            let a = (0..<(heads * HD)).reduce(0.0) { $0 + before[n * ld + $1] * before[n * ld + $1] }
            let b = (0..<(heads * HD)).reduce(0.0) { $0 + x[n * ld + $1] * x[n * ld + $1] }
            XCTAssertEqual(a, b, accuracy: 1e-9)
        }
    }

    func testSwiGLU() {
        let n = 10
        GradientCheck.check("swiglu", inputs: [gen.random(n, scale: 2), gen.random(n)], outputCount: n,
            forward: { x in
                var out = [Double](repeating: 0, count: n)
                swigluForward(&out, x[0], x[1], count: n)
                return out
            },
            backward: { x, g in
                var dg = [Double](repeating: 0, count: n), du = dg
                swigluBackward(&dg, &du, g, x[0], x[1], count: n)
                return [dg, du]
            })
    }

    func testGELUBothKinds() {
        let n = 12
        for kind in [GELUKind.tanh, .exact] {
            GradientCheck.check("gelu \(kind)", inputs: [gen.random(n, scale: 2)], outputCount: n,
                forward: { x in
                    var out = [Double](repeating: 0, count: n)
                    geluForward(&out, x[0], count: n, kind: kind)
                    return out
                },
                backward: { x, g in
                    var dx = [Double](repeating: 0, count: n)
                    geluBackward(&dx, g, x[0], count: n, kind: kind)
                    return [dx]
                })
        }
        // Known values: gelu_new(1) and exact gelu(1).
        var out = [Double](repeating: 0, count: 1)
        geluForward(&out, [1.0], count: 1, kind: .tanh)
        XCTAssertEqual(out[0], 0.8411919906082768, accuracy: 1e-12)
        geluForward(&out, [1.0], count: 1, kind: .exact)
        XCTAssertEqual(out[0], 0.8413447460685429, accuracy: 1e-12)
    }

    func testCrossEntropyWithIgnoreIndexAndWeights() {
        let N = 4, V = 5
        let targets: [Int32] = [2, ignoreIndex, 0, 4]
        let weights: [Double] = [0.5, 9, 1.25, 2]
        GradientCheck.check("cross-entropy", inputs: [gen.random(N * V, scale: 2)], outputCount: 1,
            forward: { x in
                var losses = [Double](repeating: 0, count: N), lse = losses
                return [crossEntropyForward(&losses, &lse, x[0], targets, weights, N: N, V: V)]
            },
            backward: { x, g in
                var losses = [Double](repeating: 0, count: N), lse = losses
                crossEntropyForward(&losses, &lse, x[0], targets, weights, N: N, V: V)
                var d = [Double](repeating: 0, count: N * V)
                crossEntropyBackward(&d, x[0], lse, targets, weights, dloss: g[0], N: N, V: V)
                return [d]
            })
        // The ignored row contributes nothing, whatever its weight.
        var losses = [Double](repeating: 0, count: N), lse = losses
        let logits = gen.random(N * V)
        let total = crossEntropyForward(&losses, &lse, logits, targets, weights, N: N, V: V)
        XCTAssertEqual(losses[1], 0)
        XCTAssertEqual(total, 0.5 * losses[0] + 1.25 * losses[2] + 2 * losses[3], accuracy: 1e-12)
        // Uniform logits: CE = log V.
        let uniform = [Double](repeating: 0.3, count: V)
        var l1 = [0.0], s1 = [0.0]
        crossEntropyForward(&l1, &s1, uniform, [Int32(3)], nil, N: 1, V: V)
        XCTAssertEqual(l1[0], log(Double(V)), accuracy: 1e-12)
    }
}
