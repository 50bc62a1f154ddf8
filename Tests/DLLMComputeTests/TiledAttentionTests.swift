import DLLMCompute
import XCTest

/// The tiled (FlashAttention-2 style) attention against the full (T, T) attention in fp32,
/// forward and backward, for every mask kind, and its backward against Float64 finite
/// differences with tiles small enough that every row spans several tiles.
final class TiledAttentionTests: XCTestCase {
    /// Every mask kind the objectives build, for `B` sequences of length `T` (`T` even).
    static func masks(B: Int, T: Int) -> [(String, AttentionMask)] {
        var rng = SplitMix(seed: 5)
        let arbitrary = (0..<(B * T * T)).map { i in i % T == 0 || rng.nextDouble() < 0.6 }
        var emptyRow = [Bool](repeating: true, count: B * T * T)
        for j in 0..<T { emptyRow[(0 * T + 1) * T + j] = false }  // query 1 of sequence 0 sees nothing
        let uniforms = (0..<(T * T)).map { _ in rng.nextDouble() }
        let annealed = AttentionAnnealing.allowed(T: T, ratio: 0.3, uniforms: uniforms)
        let lengths = (0..<B).map { b in b == 0 ? T : T / 2 + 1 }
        let pad = lengths.flatMap { len in (0..<T).map { $0 < len } }
        return [
            ("bidirectional", AttentionMask(.bidirectional, B: B, T: T)),
            ("causal", AttentionMask(.causal, B: B, T: T)),
            ("padding", AttentionMask.padded(.bidirectional, lengths: lengths, T: T)),
            ("causal+padding", AttentionMask.padded(.causal, lengths: lengths, T: T)),
            ("arbitrary", AttentionMask(.bidirectional, B: B, T: T, allowed: arbitrary)),
            ("empty row", AttentionMask(.bidirectional, B: B, T: T, allowed: emptyRow)),
            ("annealed+padding", AttentionAnnealing.mask(B: B, T: T, allowed: annealed, keyPadding: pad)),
            ("block diffusion", AttentionMask.blockDiffusion(B: B, L: T / 2, blockSize: 3)),
        ]
    }

    struct Shape { let B: Int, T: Int, NH: Int, NKV: Int, HD: Int }

    static func full<S: ComputeScalar>(_ x: [[S]], _ dout: [S], mask: AttentionMask, _ s: Shape) -> (out: [S], dq: [S], dk: [S], dv: [S]) {
        var out = [S](repeating: 0, count: s.B * s.T * s.NH * s.HD)
        var att = [S](repeating: 0, count: s.B * s.NH * s.T * s.T)
        attentionForward(&out, ldo: s.NH * s.HD, &att, x[0], ldq: s.NH * s.HD, x[1], ldk: s.NKV * s.HD, x[2], ldv: s.NKV * s.HD,
                         mask: mask, B: s.B, T: s.T, NH: s.NH, NKV: s.NKV, HD: s.HD)
        var dq = [S](repeating: 0, count: x[0].count), dk = [S](repeating: 0, count: x[1].count), dv = dk
        var scratch = [S](repeating: 0, count: attentionScratchCount(T: s.T))
        scratch.withUnsafeMutableBufferPointer { scratch in
            attentionBackward(&dq, &dk, &dv, scratch, dout, ldo: s.NH * s.HD, att, x[0], ldq: s.NH * s.HD, x[1], ldk: s.NKV * s.HD,
                              x[2], ldv: s.NKV * s.HD, B: s.B, T: s.T, NH: s.NH, NKV: s.NKV, HD: s.HD)
        }
        return (out, dq, dk, dv)
    }

    static func tiledForward<S: ComputeScalar>(_ x: [[S]], mask: AttentionMask, _ s: Shape, tiles: AttentionTiles) -> (out: [S], lse: [S]) {
        var out = [S](repeating: 0, count: s.B * s.T * s.NH * s.HD)
        var lse = [S](repeating: 0, count: s.B * s.NH * s.T)
        tiledAttentionForward(&out, ldo: s.NH * s.HD, &lse, x[0], ldq: s.NH * s.HD, x[1], ldk: s.NKV * s.HD, x[2], ldv: s.NKV * s.HD,
                              mask: mask, B: s.B, T: s.T, NH: s.NH, NKV: s.NKV, HD: s.HD, tiles: tiles)
        return (out, lse)
    }

    static func tiled<S: ComputeScalar>(_ x: [[S]], _ dout: [S], mask: AttentionMask, _ s: Shape, tiles: AttentionTiles) -> (out: [S], dq: [S], dk: [S], dv: [S]) {
        let (out, lse) = tiledForward(x, mask: mask, s, tiles: tiles)
        var dq = [S](repeating: 0, count: x[0].count), dk = [S](repeating: 0, count: x[1].count), dv = dk
        tiledAttentionBackward(&dq, &dk, &dv, dout, out, ldo: s.NH * s.HD, lse, x[0], ldq: s.NH * s.HD, x[1], ldk: s.NKV * s.HD,
                               x[2], ldv: s.NKV * s.HD, mask: mask, B: s.B, T: s.T, NH: s.NH, NKV: s.NKV, HD: s.HD, tiles: tiles)
        return (out, dq, dk, dv)
    }

    /// T = 300 spans five query tiles and two key tiles of the standard (64, 256) tiling.
    func testMatchesFullAttentionInFloatForEveryMask() {
        let s = Shape(B: 2, T: 300, NH: 4, NKV: 2, HD: 16)
        var gen = GradientCheck()
        let x = [gen.random(s.B * s.T * s.NH * s.HD), gen.random(s.B * s.T * s.NKV * s.HD), gen.random(s.B * s.T * s.NKV * s.HD)]
            .map { $0.map(Float.init) }
        let dout = gen.random(s.B * s.T * s.NH * s.HD).map(Float.init)
        for (name, mask) in Self.masks(B: s.B, T: s.T) {
            let reference = Self.full(x, dout, mask: mask, s)
            let result = Self.tiled(x, dout, mask: mask, s, tiles: .standard)
            for (part, a, b) in [("out", result.out, reference.out), ("dq", result.dq, reference.dq),
                                 ("dk", result.dk, reference.dk), ("dv", result.dv, reference.dv)] {
                var worst: Float = 0
                for i in a.indices { worst = max(worst, abs(a[i] - b[i]) / max(1, abs(b[i]))) }
                XCTAssertLessThanOrEqual(worst, 1e-5, "\(name) \(part)")
            }
        }
    }

    func testBackwardMatchesFiniteDifferencesForEveryMask() {
        let s = Shape(B: 2, T: 8, NH: 4, NKV: 2, HD: 3)
        let tiles = AttentionTiles(queries: 3, keys: 2)
        for (name, mask) in Self.masks(B: s.B, T: s.T) {
            var gen = GradientCheck()
            let inputs = [gen.random(s.B * s.T * s.NH * s.HD), gen.random(s.B * s.T * s.NKV * s.HD), gen.random(s.B * s.T * s.NKV * s.HD)]
            GradientCheck.check("tiled attention \(name)", inputs: inputs, outputCount: s.B * s.T * s.NH * s.HD,
                forward: { x in Self.tiledForward(x, mask: mask, s, tiles: tiles).out },
                backward: { x, g in
                    let r = Self.tiled(x, g, mask: mask, s, tiles: tiles)
                    return [r.dq, r.dk, r.dv]
                })
            // The same inputs through the full attention in Float64: equal to rounding.
            let dout = gen.random(s.B * s.T * s.NH * s.HD)
            let reference = Self.full(inputs, dout, mask: mask, s), result = Self.tiled(inputs, dout, mask: mask, s, tiles: tiles)
            for i in reference.out.indices { XCTAssertEqual(result.out[i], reference.out[i], accuracy: 1e-12, "\(name) out \(i)") }
            for i in reference.dk.indices { XCTAssertEqual(result.dk[i], reference.dk[i], accuracy: 1e-12, "\(name) dk \(i)") }
        }
    }

    func testEmptyRowOutputsZerosAndBlockDiffusionMaskFollowsBD3LM() {
        let s = Shape(B: 2, T: 8, NH: 4, NKV: 2, HD: 3)
        let mask = Self.masks(B: s.B, T: s.T).first { $0.0 == "empty row" }!.1
        var gen = GradientCheck()
        let x = [gen.random(s.B * s.T * s.NH * s.HD), gen.random(s.B * s.T * s.NKV * s.HD), gen.random(s.B * s.T * s.NKV * s.HD)]
        let (out, lse) = Self.tiledForward(x, mask: mask, s, tiles: AttentionTiles(queries: 3, keys: 2))
        for h in 0..<s.NH {
            XCTAssertEqual(lse[h * s.T + 1], .infinity)
            for d in 0..<s.HD { XCTAssertEqual(out[(1 * s.NH + h) * s.HD + d], 0) }
        }
        // L = 4, block 2: x_t query 2 (block 1) sees x_t keys 2, 3 and x_0 keys 4, 5 (block 0 of x_0);
        // x_0 query 6 (block 1) sees x_0 keys 4...7 and no x_t key.
        let bd = AttentionMask.blockDiffusion(B: 1, L: 4, blockSize: 2)
        XCTAssertEqual((0..<8).filter { bd.allows(0, 2, $0) }, [2, 3, 4, 5])
        XCTAssertEqual((0..<8).filter { bd.allows(0, 6, $0) }, [4, 5, 6, 7])
        XCTAssertEqual((0..<8).filter { bd.allows(0, 0, $0) }, [0, 1])
    }
}
