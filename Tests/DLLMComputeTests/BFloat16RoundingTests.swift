import DLLMCompute
import XCTest

/// SwiGLU under `bf16: true` (``swigluForwardBF16(_:_:_:keeping:_:count:)`` and both backward forms):
/// the float32 SwiGLU at the gate and up outputs rounded by the products' own rounding
/// (`cbf16_from_float`, ``BFloat16Matmul/round(_:into:count:)``), bit for bit.
final class BFloat16RoundingTests: XCTestCase {
    func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        var values = (0..<count).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001) * 1e-5 - 10
        }
        // Exact ties both ways (1 + 2⁻⁸ rounds down to 1, 1 + 3·2⁻⁸ up to 1 + 2⁻⁶), a bf16 value, zeros.
        values[0] = 1 + 0x1p-8; values[1] = 1 + 3 * 0x1p-8; values[2] = -1.5; values[3] = 0; values[count - 1] = -0.0
        return values
    }

    /// `cbf16_from_float`'s bits, and the values they stand for.
    func rounded(_ x: [Float]) -> (bits: [UInt16], values: [Float]) {
        var bits = [UInt16](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { s in bits.withUnsafeMutableBufferPointer { BFloat16Matmul.round(s.baseAddress!, into: $0.baseAddress!, count: x.count) } }
        return (bits, bits.map { Float(bitPattern: UInt32($0) << 16) })
    }

    func testScalarRoundingMatchesTheKernels() {
        var specials: [Float] = [.nan, -.nan, .infinity, -.infinity, .greatestFiniteMagnitude, .leastNonzeroMagnitude, 0x1p-130, 1 + 0x1p-8]
        specials.append(Float(bitPattern: 0x7F80_0001))  // a signalling NaN
        let all = specials + values(1000, seed: 7)
        XCTAssertEqual(all.map(bf16Bits), rounded(all).bits)
        XCTAssertEqual(bf16Bits(.nan), 0x7FC0)
    }

    func testSwiGLUAtRoundedGateAndUpBitForBit() {
        let count = 3 * 4096 * 4 + 37  // several threads' chunks and a tail
        let gate = values(count, seed: 1), up = values(count, seed: 2), dout = values(count, seed: 3)
        let (gateBits, roundedGate) = rounded(gate), (upBits, roundedUp) = rounded(up)
        // Reference: the float32 kernels on pre-rounded inputs.
        var expected = [Float](repeating: 0, count: count)
        swigluForward(&expected, roundedGate, roundedUp, count: count)
        var expectedDGate = [Float](repeating: 0.5, count: count), expectedDUp = [Float](repeating: 0.25, count: count)
        swigluBackward(&expectedDGate, &expectedDUp, dout, roundedGate, roundedUp, count: count)

        var out = [Float](repeating: .nan, count: count), unkeptOut = out
        var keptGate = [UInt16](repeating: 0xFFFF, count: count), keptUp = keptGate
        swigluForwardBF16(&out, gate, up, keeping: &keptGate, &keptUp, count: count)
        swigluForwardBF16(&unkeptOut, gate, up, keeping: nil, nil, count: count)
        XCTAssertEqual(keptGate, gateBits)
        XCTAssertEqual(keptUp, upBits)
        XCTAssertEqual(out.map(\.bitPattern), expected.map(\.bitPattern))
        XCTAssertEqual(unkeptOut.map(\.bitPattern), expected.map(\.bitPattern))
        var plain = [Float](repeating: 0, count: count)
        swigluForward(&plain, gate, up, count: count)
        XCTAssertNotEqual(plain, out, "rounding changed nothing")

        for fromBits in [true, false] {
            var dgate = [Float](repeating: 0.5, count: count), dup = [Float](repeating: 0.25, count: count)
            if fromBits {
                swigluBackwardBF16(&dgate, &dup, dout, gateBits: keptGate, upBits: keptUp, count: count)
            } else {
                swigluBackwardBF16(&dgate, &dup, dout, gate: gate, up: up, count: count)
            }
            XCTAssertEqual(dgate.map(\.bitPattern), expectedDGate.map(\.bitPattern), "dgate, from bits \(fromBits)")
            XCTAssertEqual(dup.map(\.bitPattern), expectedDUp.map(\.bitPattern), "dup, from bits \(fromBits)")
        }
    }
}
