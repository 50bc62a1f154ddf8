import DLLMCompute
import XCTest

/// Attention forward against a direct Float64 evaluation of the definition, and its
/// backward against finite differences, for every mask kind and grouped heads.
final class AttentionTests: XCTestCase {
    let B = 2, T = 5, NH = 4, NKV = 2, HD = 3

    func masks() -> [(String, AttentionMask)] {
        var rng = SplitMix(seed: 5)
        let arbitrary = (0..<(B * T * T)).map { i in i % T == 0 || rng.nextDouble() < 0.6 }  // key 0 always allowed
        return [
            ("bidirectional", AttentionMask(.bidirectional, B: B, T: T)),
            ("causal", AttentionMask(.causal, B: B, T: T)),
            ("padding", AttentionMask.padded(.bidirectional, lengths: [T, 3], T: T)),
            ("causal+padding", AttentionMask.padded(.causal, lengths: [2, T], T: T)),
            ("arbitrary", AttentionMask(.bidirectional, B: B, T: T, allowed: arbitrary)),
        ]
    }

    /// out[b,i,h] = Σⱼ softmaxⱼ(q·k/√HD over allowed j) v[j]: the definition, row by row.
    func definition(_ q: [Double], _ k: [Double], _ v: [Double], mask: AttentionMask) -> [Double] {
        var out = [Double](repeating: 0, count: B * T * NH * HD)
        for b in 0..<B { for h in 0..<NH { for i in 0..<T {
            let g = h / (NH / NKV)
            var scores = [Double](repeating: -.infinity, count: T)
            for j in 0..<T where mask.allows(b, i, j) {
                var s = 0.0
                for d in 0..<HD { s += q[((b * T + i) * NH + h) * HD + d] * k[((b * T + j) * NKV + g) * HD + d] }
                scores[j] = s / Double(HD).squareRoot()
            }
            let m = scores.max()!
            if m == -.infinity { continue }
            let e = scores.map { exp($0 - m) }
            let z = e.reduce(0, +)
            for j in 0..<T { for d in 0..<HD {
                out[((b * T + i) * NH + h) * HD + d] += e[j] / z * v[((b * T + j) * NKV + g) * HD + d]
            } }
        } } }
        return out
    }

    func run(_ x: [[Double]], mask: AttentionMask) -> (out: [Double], att: [Double]) {
        var out = [Double](repeating: 0, count: B * T * NH * HD)
        var att = [Double](repeating: 0, count: B * NH * T * T)
        attentionForward(&out, ldo: NH * HD, &att, x[0], ldq: NH * HD, x[1], ldk: NKV * HD, x[2], ldv: NKV * HD,
                         mask: mask, B: B, T: T, NH: NH, NKV: NKV, HD: HD)
        return (out, att)
    }

    func testForwardMatchesDefinitionForEveryMask() {
        var gen = GradientCheck()
        let q = gen.random(B * T * NH * HD), k = gen.random(B * T * NKV * HD), v = gen.random(B * T * NKV * HD)
        for (name, mask) in masks() {
            let fast = run([q, k, v], mask: mask).out
            let slow = definition(q, k, v, mask: mask)
            for i in fast.indices { XCTAssertEqual(fast[i], slow[i], accuracy: 1e-12, "\(name) element \(i)") }
        }
        // Causal: the first query sees only itself, so it outputs v[0] of its group.
        let causal = run([q, k, v], mask: AttentionMask(.causal, B: B, T: T)).out
        for d in 0..<HD { XCTAssertEqual(causal[d], v[d], accuracy: 1e-12) }
    }

    func testBackwardMatchesFiniteDifferencesForEveryMask() {
        for (name, mask) in masks() {
            var gen = GradientCheck()
            let inputs = [gen.random(B * T * NH * HD), gen.random(B * T * NKV * HD), gen.random(B * T * NKV * HD)]
            GradientCheck.check("attention \(name)", inputs: inputs, outputCount: B * T * NH * HD,
                forward: { x in self.run(x, mask: mask).out },
                backward: { x, g in
                    let att = self.run(x, mask: mask).att
                    var dq = [Double](repeating: 0, count: x[0].count), dk = [Double](repeating: 0, count: x[1].count), dv = dk
                    var scratch = [Double](repeating: 0, count: attentionScratchCount(T: self.T))
                    scratch.withUnsafeMutableBufferPointer { scratch in attentionBackward(&dq, &dk, &dv, scratch, g, ldo: self.NH * self.HD, att,
                                      x[0], ldq: self.NH * self.HD, x[1], ldk: self.NKV * self.HD, x[2], ldv: self.NKV * self.HD,
                                      B: self.B, T: self.T, NH: self.NH, NKV: self.NKV, HD: self.HD) }
                    return [dq, dk, dv]
                })
        }
    }

    func testFullyMaskedRowOutputsZerosAndPaddedKeysGetNoGradient() {
        var allowed = [Bool](repeating: true, count: B * T * T)
        for j in 0..<T { allowed[(0 * T + 2) * T + j] = false }  // query 2 of sequence 0 sees nothing
        let mask = AttentionMask(.bidirectional, B: B, T: T, allowed: allowed)
        var gen = GradientCheck()
        let x = [gen.random(B * T * NH * HD), gen.random(B * T * NKV * HD), gen.random(B * T * NKV * HD)]
        let out = run(x, mask: mask).out
        for h in 0..<NH { for d in 0..<HD { XCTAssertEqual(out[((0 * T + 2) * NH + h) * HD + d], 0) } }

        let padded = AttentionMask.padded(.bidirectional, lengths: [3, T], T: T)
        let (_, att) = run(x, mask: padded)
        var dq = [Double](repeating: 0, count: x[0].count), dk = [Double](repeating: 0, count: x[1].count), dv = dk
        var scratch = [Double](repeating: 0, count: attentionScratchCount(T: T))
        let g = gen.random(B * T * NH * HD)
        scratch.withUnsafeMutableBufferPointer { scratch in attentionBackward(&dq, &dk, &dv, scratch, g, ldo: NH * HD, att, x[0], ldq: NH * HD, x[1], ldk: NKV * HD,
                          x[2], ldv: NKV * HD, B: B, T: T, NH: NH, NKV: NKV, HD: HD) }
        for j in 3..<T { for c in 0..<(NKV * HD) {
            XCTAssertEqual(dk[j * NKV * HD + c], 0)
            XCTAssertEqual(dv[j * NKV * HD + c], 0)
        } }
    }
}
