import CQuantKernels
import DLLMCompute
import DLLMRandom
@testable import DLLMModels
import XCTest

/// The CQuantKernels dot products on every path this CPU runs (scalar, AVX2, AVX-512, AVX-512 VNNI)
/// against a Swift reference written from the block formats' definitions, and against
/// dequantise-then-dot within the activation's quantisation error.
final class QuantizedKernelTests: XCTestCase {
    /// The paths to check: all four on x86 (a path the CPU lacks is reported and skipped).
    var paths: [Int32] {
        (Int32(CQK_ISA_SCALAR)...Int32(CQK_ISA_AVX512VNNI)).filter { isa in
            let ok = cqk_isa_supported(isa) != 0
            if !ok { print("QuantizedKernelTests: this CPU has no \(String(cString: cqk_isa_name(isa))) path") }
            return ok
        }
    }

    /// Random weight blocks of `type`: random quants (every nibble / int8 value), scales `scale`
    /// (and Q4_1 offsets in ±scale·8), or all scales 1 when `unitScales`.
    func randomBlocks(_ type: QuantizedType, blocks: Int, rng: inout SeededGenerator, unitScales: Bool = false) -> [UInt8] {
        var bytes = [UInt8]()
        for _ in 0..<blocks {
            let d = unitScales ? Float(1) : Float(rng.nextUniform() * 0.02 + 0.001)
            func half(_ f: Float) { let h = cqk_f32_to_f16(f); bytes += [UInt8(h & 0xff), UInt8(h >> 8)] }
            half(d)
            switch type {
            case .q4_0: for _ in 0..<16 { bytes.append(UInt8(truncatingIfNeeded: rng.next())) }
            case .q4_1:
                half(unitScales ? 0 : Float(rng.nextUniform() - 0.5) * d * 16)
                for _ in 0..<16 { bytes.append(UInt8(truncatingIfNeeded: rng.next())) }
            case .q8_0: for _ in 0..<32 { bytes.append(UInt8(bitPattern: Int8(truncatingIfNeeded: rng.next() % 255) &- 127)) }
            }
        }
        return bytes
    }

    func activationBytes(_ type: QuantizedType, _ x: [Float]) -> [UInt8] {
        let at = cqk_activation_type(type.rawValue)
        var out = [UInt8](repeating: 0, count: x.count / 32 * Int(cqk_block_bytes(at)))
        cqk_quantize_rows(at, x, x.count, &out, 1, Int32(x.count))
        return out
    }

    /// Integer quants of element j of a weight block, and the block's (d, m); from the format definitions.
    func weightQuant(_ type: QuantizedType, _ w: [UInt8], block i: Int, element j: Int) -> Int {
        let base = i * type.blockBytes
        switch type {
        case .q4_0:
            let byte = w[base + 2 + j % 16]
            return Int(j < 16 ? byte & 0x0f : byte >> 4) - 8
        case .q4_1:
            let byte = w[base + 4 + j % 16]
            return Int(j < 16 ? byte & 0x0f : byte >> 4)
        case .q8_0:
            return Int(Int8(bitPattern: w[base + 2 + j]))
        }
    }

    func half(_ bytes: [UInt8], _ at: Int) -> Double { Double(cqk_f16_to_f32(UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8)) }

    func float(_ bytes: [UInt8], _ at: Int) -> Double {
        Double(Float(bitPattern: UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24))
    }

    /// Σ_blocks (d·dₐ·Σ q·qₐ [+ m·sₐ]) in Float64, the integer sums exact; also Σ|terms| for the tolerance.
    func reference(_ type: QuantizedType, _ w: [UInt8], _ a: [UInt8], blocks: Int) -> (value: Double, magnitude: Double) {
        var sum = 0.0, magnitude = 0.0
        for i in 0..<blocks {
            var sumi = 0
            let ab = type == .q4_1 ? i * 40 : i * 34, aq = type == .q4_1 ? ab + 8 : ab + 2
            for j in 0..<32 { sumi += weightQuant(type, w, block: i, element: j) * Int(Int8(bitPattern: a[aq + j])) }
            let da = type == .q4_1 ? float(a, ab) : half(a, ab)
            var term = half(w, i * type.blockBytes) * da * Double(sumi)
            if type == .q4_1 { term += half(w, i * type.blockBytes + 2) * float(a, ab + 4) }
            sum += term
            magnitude += abs(term)
        }
        return (sum, magnitude)
    }

    func dot(_ type: QuantizedType, isa: Int32, _ w: [UInt8], _ a: [UInt8], blocks: Int) -> Float {
        switch type {
        case .q4_0: return cqk_dot_q4_0_q8_0(isa, w, a, Int32(blocks))
        case .q4_1: return cqk_dot_q4_1_q8_1(isa, w, a, Int32(blocks))
        case .q8_0: return cqk_dot_q8_0_q8_0(isa, w, a, Int32(blocks))
        }
    }

    func testEveryPathMatchesTheReference() {
        var rng = SeededGenerator(seed: 11)
        for type in QuantizedType.allCases {
            for blocks in [1, 2, 3, 18, 48] {  // odd counts exercise the AVX-512 tail
                let w = randomBlocks(type, blocks: blocks, rng: &rng)
                let x = (0..<(blocks * 32)).map { _ in Float(rng.nextUniform() * 2 - 1) * (rng.next() % 7 == 0 ? 10 : 1) }
                let a = activationBytes(type, x)
                let ref = reference(type, w, a, blocks: blocks)
                let scalar = dot(type, isa: Int32(CQK_ISA_SCALAR), w, a, blocks: blocks)
                for isa in paths {
                    let got = dot(type, isa: isa, w, a, blocks: blocks)
                    // Float32 accumulation of `blocks` terms in some order: a few ulps of Σ|terms| each.
                    let tolerance = ref.magnitude * 1e-6 * Double(blocks + 2)
                    let name = "\(type) × \(blocks) blocks on \(String(cString: cqk_isa_name(isa)))"
                    XCTAssertEqual(Double(got), ref.value, accuracy: tolerance, name)
                    XCTAssertEqual(Double(got), Double(scalar), accuracy: tolerance, name + " vs scalar")
                }
            }
        }
    }

    /// With unit scales (and zero offsets) every result is an integer below 2²⁴: exact on every path.
    func testIntegerSumsAreExact() {
        var rng = SeededGenerator(seed: 12)
        for type in QuantizedType.allCases {
            let blocks = 7
            let w = randomBlocks(type, blocks: blocks, rng: &rng, unitScales: true)
            // Activations that quantise with scale 1: integers in −127...127 with 127 in every block.
            let x: [Float] = (0..<(blocks * 32)).map { j in j % 32 == 5 ? 127 : Float(Int(rng.next() % 255) - 127) }
            let a = activationBytes(type, x)
            var expected = 0
            for i in 0..<blocks {
                for j in 0..<32 { expected += weightQuant(type, w, block: i, element: j) * Int(x[i * 32 + j]) }
            }
            for isa in paths {
                XCTAssertEqual(dot(type, isa: isa, w, a, blocks: blocks), Float(expected),
                               "\(type) integer sum on \(String(cString: cqk_isa_name(isa)))")
            }
        }
    }

    /// Against the float dot of the dequantised weights and the unquantised activations: the only
    /// difference is the activation's rounding, |x − x̂| ≤ dₐ/2 = max|x_block|/254 per element, so
    /// |error| ≤ Σ_blocks Σ_j |w_j| · max|x_block| / 254 (plus float rounding).
    func testMatchesDequantisedDotWithinActivationRounding() {
        var rng = SeededGenerator(seed: 13)
        for type in QuantizedType.allCases {
            let blocks = 18
            let w = randomBlocks(type, blocks: blocks, rng: &rng)
            let x = (0..<(blocks * 32)).map { _ in Float(rng.nextUniform() * 2 - 1) }
            let a = activationBytes(type, x)
            var wf = [Float](repeating: 0, count: blocks * 32)
            XCTAssertEqual(cqk_dequantize_row(type.rawValue, w, &wf, Int32(wf.count)), 0)
            var exact = 0.0, bound = 0.0
            for i in 0..<blocks {
                let amax = Double((0..<32).map { abs(x[i * 32 + $0]) }.max()!)
                for j in 0..<32 {
                    let k = i * 32 + j
                    exact += Double(wf[k]) * Double(x[k])
                    bound += abs(Double(wf[k])) * amax / 254 * 1.001
                }
            }
            for isa in paths {
                let got = Double(dot(type, isa: isa, w, a, blocks: blocks))
                XCTAssertLessThanOrEqual(abs(got - exact), bound + 1e-5, "\(type) on \(String(cString: cqk_isa_name(isa)))")
            }
            XCTAssertGreaterThan(bound, 0)
        }
    }

    /// The matrix entry point matches the reference per (row, activation row), on a row range. The
    /// VNNI path's four-row panel kernels sum in another order than the one-row dots (per-lane partial
    /// sums, m·s per lane), so both are held to the reference's rounding tolerance, not to each other.
    /// Column counts: 3 blocks (tails only), 7 (one panel step of four Q4_1 blocks + a 3-block tail),
    /// 18 and 48 (SmolLM2's 576 and 1536).
    func testMatmulRowsMatchesTheReference() {
        var rng = SeededGenerator(seed: 14)
        for type in QuantizedType.allCases {
            for blocks in [3, 7, 18, 48] {
                let rows = 13, cols = blocks * 32, N = 3
                let w = randomBlocks(type, blocks: rows * blocks, rng: &rng)
                let x = (0..<(N * cols)).map { _ in Float(rng.nextUniform() - 0.5) }
                let at = cqk_activation_type(type.rawValue)
                let actRow = blocks * Int(cqk_block_bytes(at))
                var acts = [UInt8](repeating: 0, count: N * actRow)
                cqk_quantize_rows(at, x, cols, &acts, Int32(N), Int32(cols))
                for isa in paths {
                    var out = [Float](repeating: -1, count: N * rows)
                    XCTAssertEqual(cqk_matmul_rows(isa, type.rawValue, w, blocks * type.blockBytes, 2, 11, Int32(cols), acts, Int32(N), &out, rows), 0)
                    for n in 0..<N {
                        for r in 0..<rows {
                            let value = out[n * rows + r]
                            if r < 2 || r >= 11 { XCTAssertEqual(value, -1, "row \(r) outside the range was written"); continue }
                            let wr = Array(w[(r * blocks * type.blockBytes)..<((r + 1) * blocks * type.blockBytes)])
                            let ar = Array(acts[(n * actRow)..<((n + 1) * actRow)])
                            let ref = reference(type, wr, ar, blocks: blocks)
                            let tolerance = ref.magnitude * 1e-6 * Double(blocks + 2)
                            XCTAssertEqual(Double(value), ref.value, accuracy: tolerance, "\(type) × \(blocks) (\(n), \(r)) on \(String(cString: cqk_isa_name(isa)))")
                        }
                    }
                }
            }
        }
    }

    /// Half conversions: every finite half survives f16 → f32 → f16, and rounding is to nearest even.
    func testHalfConversions() {
        for h in 0..<UInt16.max where (h & 0x7c00) != 0x7c00 {
            XCTAssertEqual(cqk_f32_to_f16(cqk_f16_to_f32(h)), h, "half \(h)")
        }
        XCTAssertEqual(cqk_f16_to_f32(0x3c00), 1)
        XCTAssertEqual(cqk_f32_to_f16(1 + 1.0 / 2048), 0x3c00)  // tie → even
        XCTAssertEqual(cqk_f32_to_f16(1 + 3.0 / 2048), 0x3c02)  // tie → even (up)
        XCTAssertEqual(cqk_f32_to_f16(70000), 0x7c00)
        XCTAssertEqual(cqk_f16_to_f32(0x0001), Float(5.960464477539063e-8))
    }

    /// Quantising then dequantising stays within each format's rounding step.
    func testQuantiseRoundTrip() throws {
        var rng = SeededGenerator(seed: 15)
        let rows = 4, cols = 64
        let x = (0..<(rows * cols)).map { _ in Float(rng.nextUniform() * 2 - 1) }
        for type in QuantizedType.allCases {
            let m = try x.withUnsafeBufferPointer { try QuantizedMatrix.quantizing($0.baseAddress!, rows: rows, cols: cols, as: type) }
            var back = [Float](repeating: 0, count: rows * cols)
            m.dequantize(into: &back)
            for b in 0..<(rows * cols / 32) {
                let block = x[(b * 32)..<(b * 32 + 32)]
                let range = Double(block.max()! - block.min()!), amax = Double(block.map(abs).max()!)
                let step = type == .q8_0 ? amax / 127 : (type == .q4_1 ? range / 15 : amax / 8)
                for j in 0..<32 {
                    // Half a step of rounding plus the f16 rounding of the scale (2⁻¹¹ of up to 127 steps);
                // Q4_0 clamps the side opposite its extreme to 7 steps, a whole step off.
                let bound = type == .q4_0 ? step * 1.07 : step * 0.57
                XCTAssertLessThanOrEqual(abs(Double(back[b * 32 + j] - x[b * 32 + j])), bound + 1e-7,
                                             "\(type) block \(b) element \(j)")
                }
            }
        }
    }
}
