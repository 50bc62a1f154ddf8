import XCTest
import DLLMCompute
import DLLMOptim
import DLLMRandom

/// `AdamW.step` updates Float parameters sixteen lanes at a time; every element must come out
/// bit for bit as the scalar formula (torch.optim.AdamW's, written out below) gives it, including
/// the ragged ends of each thread's chunk, a range that starts off a lane boundary and a decay mask.
final class AdamWLanesTests: XCTestCase {
    /// The scalar update, in `AdamW.step`'s order of operations.
    func reference(_ p: inout [Float], _ g: [Float], _ m: inout [Float], _ v: inout [Float], range: Range<Int>,
                   step: Int, config c: AdamWConfig, mask: [UInt8]?) {
        let lr = Float(c.learningRate), b1 = Float(c.beta1), b2 = Float(c.beta2), eps = Float(c.epsilon), decay = Float(c.weightDecay)
        let stepSize = lr / (1 - Float.pow(b1, Float(step)))
        let bc2Sqrt = (1 - Float.pow(b2, Float(step))).squareRoot()
        for i in range {
            if decay != 0 && (mask == nil || mask![i] != 0) { p[i] *= 1 - lr * decay }
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
            p[i] -= stepSize * m[i] / (v[i].squareRoot() / bc2Sqrt + eps)
        }
    }

    func testLanesEqualTheScalarFormulaBitForBit() {
        var rng = SeededGenerator(seed: 7)
        let n = 70_003  // odd: ragged chunk ends; large enough for two threads
        func gaussians(_ scale: Float) -> [Float] { (0..<n).map { _ in Float(rng.nextGaussian()) * scale } }
        let mask = (0..<n).map { _ in UInt8(rng.next() % 2) }
        let config = AdamWConfig(learningRate: 3e-3, beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1)
        for (range, useMask, decay) in [(0..<n, false, 0.1), (5..<(n - 3), true, 0.1), (1..<40_000, false, 0.0)] {
            var c = config; c.weightDecay = decay
            var p = gaussians(1), m = gaussians(1e-2), v = gaussians(1e-3).map { $0 * $0 }
            var rp = p, rm = m, rv = v
            let p0 = p
            for step in 1...3 {
                let g = gaussians(step == 2 ? 1e-6 : 0.5)  // tiny gradients: eps matters
                p.withUnsafeMutableBufferPointer { pp in
                    m.withUnsafeMutableBufferPointer { mp in
                        v.withUnsafeMutableBufferPointer { vp in
                            mask.withUnsafeBufferPointer { maskp in
                                AdamW.step(params: pp.baseAddress!, grads: g, m: mp.baseAddress!, v: vp.baseAddress!, range: range,
                                           step: step, config: c, decayMask: useMask ? maskp.baseAddress! : nil)
                            }
                        }
                    }
                }
                reference(&rp, g, &rm, &rv, range: range, step: step, config: c, mask: useMask ? mask : nil)
            }
            let differing = (0..<n).filter { p[$0].bitPattern != rp[$0].bitPattern || m[$0].bitPattern != rm[$0].bitPattern
                || v[$0].bitPattern != rv[$0].bitPattern }
            XCTAssertEqual(differing.count, 0, "range \(range), mask \(useMask), decay \(decay): first differing element \(differing.first ?? -1)")
            // The steps moved every parameter in the range and none outside it.
            XCTAssertTrue(range.allSatisfy { p[$0] != p0[$0] }, "range \(range): a parameter did not move")
            XCTAssertTrue((0..<n).filter { !range.contains($0) }.allSatisfy { p[$0].bitPattern == p0[$0].bitPattern })
        }
    }
}
