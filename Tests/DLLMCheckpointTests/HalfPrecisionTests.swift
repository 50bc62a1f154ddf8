import XCTest
@testable import DLLMCheckpoint

final class HalfPrecisionTests: XCTestCase {
    func testF16ToFloatKnownValues() {
        let cases: [(UInt16, Float)] = [
            (0x0000, 0), (0x3C00, 1), (0xC000, -2), (0x3555, 0.333251953125), (0x7BFF, 65504),
            (0x0400, 0x1p-14), (0x0001, 0x1p-24), (0x03FF, 1023 * 0x1p-24), (0x8001, -0x1p-24),
            (0x7C00, .infinity), (0xFC00, -.infinity),
        ]
        for (bits, value) in cases {
            XCTAssertEqual(HalfPrecision.float(fromF16: bits), value, "F16 0x\(String(bits, radix: 16))")
        }
        XCTAssertEqual(HalfPrecision.float(fromF16: 0x8000).bitPattern, (-0.0 as Float).bitPattern)
        XCTAssertTrue(HalfPrecision.float(fromF16: 0x7E00).isNaN)
        XCTAssertTrue(HalfPrecision.float(fromF16: 0x7C01).isNaN)
        XCTAssertTrue(HalfPrecision.float(fromF16: 0xFE00).isNaN)
    }

    func testFloatToF16KnownValuesAndTies() {
        let cases: [(Float, UInt16)] = [
            (0, 0x0000), (-0.0, 0x8000), (1, 0x3C00), (-2, 0xC000), (65504, 0x7BFF),
            (65519.996, 0x7BFF), (65520, 0x7C00), (-65520, 0xFC00), (1e6, 0x7C00),
            (.infinity, 0x7C00), (-.infinity, 0xFC00), (.greatestFiniteMagnitude, 0x7C00),
            (1 + 0x1p-11, 0x3C00),                // tie between 0x3C00 (even) and 0x3C01
            (1 + 3 * 0x1p-11, 0x3C02),            // tie between 0x3C01 and 0x3C02 (even)
            (1 + 0x1p-11 + 0x1p-23, 0x3C01),      // just above a tie
            (0x1p-14, 0x0400), (0x1p-15, 0x0200), (0x1p-24, 0x0001),
            (0x1p-25, 0x0000),                    // tie between 0 (even) and the smallest subnormal
            (3 * 0x1p-25, 0x0002),                // tie between 0x0001 and 0x0002 (even)
            (0x1p-25 + 0x1p-40, 0x0001), (0x1p-26, 0x0000), (-0x1p-26, 0x8000),
            (0x1p-14 - 0x1p-25, 0x0400),          // largest-subnormal/normal tie rounds up to even 0x0400
            (.leastNonzeroMagnitude, 0x0000), (-Float.leastNormalMagnitude, 0x8000),
        ]
        for (value, bits) in cases {
            XCTAssertEqual(HalfPrecision.f16(from: value), bits, "\(value) as Float")
            XCTAssertEqual(HalfPrecision.f16(from: Double(value)), bits, "\(value) as Double")
        }
    }

    func testNaNBecomesQuietNaNKeepingSign() {
        let signaling = Float(bitPattern: 0x7F80_0001)
        XCTAssertEqual(HalfPrecision.f16(from: Float.nan), 0x7E00)
        XCTAssertEqual(HalfPrecision.f16(from: -Float.nan), 0xFE00)
        XCTAssertEqual(HalfPrecision.f16(from: signaling), 0x7E00)
        XCTAssertEqual(HalfPrecision.bf16(from: Float.nan), 0x7FC0)
        XCTAssertEqual(HalfPrecision.bf16(from: -Float.nan), 0xFFC0)
        XCTAssertEqual(HalfPrecision.bf16(from: signaling), 0x7FC0)  // truncation would give infinity
        XCTAssertEqual(HalfPrecision.f16(from: Double.nan), 0x7E00)
        XCTAssertEqual(HalfPrecision.bf16(from: -Double.nan), 0xFFC0)
        XCTAssertEqual(HalfPrecision.bf16(from: Double(bitPattern: 0x7FF0_0000_0000_0001)), 0x7FC0)
    }

    func testF16RoundTripsEveryBitPattern() {
        for bits in UInt16.min...UInt16.max {
            let value = HalfPrecision.float(fromF16: bits)
            if bits & 0x7C00 == 0x7C00 && bits & 0x03FF != 0 {
                XCTAssertTrue(value.isNaN)
                continue
            }
            XCTAssertEqual(HalfPrecision.f16(from: value), bits, "0x\(String(bits, radix: 16))")
            XCTAssertEqual(HalfPrecision.f16(from: Double(value)), bits)
            XCTAssertEqual(HalfPrecision.bf16(from: value) & 0x8000, bits & 0x8000)
        }
    }

    func testBF16RoundTripsEveryBitPattern() {
        for bits in UInt16.min...UInt16.max {
            let value = HalfPrecision.float(fromBF16: bits)
            XCTAssertEqual(value.bitPattern, UInt32(bits) << 16)
            if value.isNaN { continue }
            XCTAssertEqual(HalfPrecision.bf16(from: value), bits)
            XCTAssertEqual(HalfPrecision.bf16(from: Double(value)), bits)
        }
    }

    /// Around every midpoint between adjacent F16 values: the float path, the independent
    /// `Double` path and (where available) Swift's own `Float16` must agree.
    func testF16RoundingAgreesWithIndependentImplementations() {
        var checked = 0
        func check(_ value: Float) {
            let viaFloat = HalfPrecision.f16(from: value)
            XCTAssertEqual(viaFloat, HalfPrecision.f16(from: Double(value)), "\(value)")
            #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
            if !value.isNaN { XCTAssertEqual(viaFloat, Float16(value).bitPattern, "\(value)") }
            #endif
            checked += 1
        }
        for bits in UInt16(0)..<0x7BFF {
            let low = HalfPrecision.float(fromF16: bits), high = HalfPrecision.float(fromF16: bits + 1)
            let middle = (low + high) / 2  // exact: one more bit than F16 has
            for value in [middle.nextDown, middle, middle.nextUp, low, high] {
                check(value)
                check(-value)
            }
        }
        var state: UInt32 = 12345
        for _ in 0..<200_000 {
            state = state &* 1_664_525 &+ 1_013_904_223
            check(Float(bitPattern: state))
        }
        XCTAssertGreaterThan(checked, 500_000)
    }

    func testBF16KnownValuesAndTies() {
        let cases: [(Float, UInt16)] = [
            (0, 0x0000), (-0.0, 0x8000), (1, 0x3F80), (-2, 0xC000),
            (1 + 0x1p-8, 0x3F80),               // tie to even (down)
            (1 + 3 * 0x1p-8, 0x3F82),           // tie to even (up)
            (1 + 0x1p-8 + 0x1p-23, 0x3F81),     // just above a tie
            (.greatestFiniteMagnitude, 0x7F80), // rounds up to infinity
            (.infinity, 0x7F80), (-.infinity, 0xFF80),
            (Float(bitPattern: 0x0001_0000), 0x0001),  // float subnormal stays subnormal
            (Float(bitPattern: 0x0000_8000), 0x0000),  // tie to even zero
            (Float(bitPattern: 0x0001_8000), 0x0002),  // tie to even 2
        ]
        for (value, bits) in cases {
            XCTAssertEqual(HalfPrecision.bf16(from: value), bits, "\(value) as Float")
            XCTAssertEqual(HalfPrecision.bf16(from: Double(value)), bits, "\(value) as Double")
        }
    }

    func testBF16FloatAndDoublePathsAgree() {
        var state: UInt32 = 987_654_321
        for _ in 0..<300_000 {
            state = state &* 1_664_525 &+ 1_013_904_223
            let value = Float(bitPattern: state)
            guard !value.isNaN else { continue }
            XCTAssertEqual(HalfPrecision.bf16(from: value), HalfPrecision.bf16(from: Double(value)), "\(state)")
        }
    }

    /// Narrowing a Double must round once: via Float these would hit an exact tie and round to even.
    func testDoubleNarrowingRoundsOnce() {
        XCTAssertEqual(HalfPrecision.f16(from: 1 + 0x1p-11 + 0x1p-40 as Double), 0x3C01)
        XCTAssertEqual(HalfPrecision.f16(from: Float(1 + 0x1p-11 + 0x1p-40 as Double)), 0x3C00)
        XCTAssertEqual(HalfPrecision.bf16(from: 1 + 0x1p-8 + 0x1p-40 as Double), 0x3F81)
        XCTAssertEqual(HalfPrecision.f16(from: 0x1p-25 + 0x1p-60 as Double), 0x0001)
        XCTAssertEqual(HalfPrecision.f16(from: 65520 - 0x1p-30 as Double), 0x7BFF)
        XCTAssertEqual(HalfPrecision.f16(from: 1e300 as Double), 0x7C00)
        XCTAssertEqual(HalfPrecision.bf16(from: 1e300 as Double), 0x7F80)
        XCTAssertEqual(HalfPrecision.bf16(from: 1e-300 as Double), 0x0000)
        XCTAssertEqual(HalfPrecision.f16(from: Double.leastNonzeroMagnitude), 0x0000)
    }

    func testBulkConversionsMatchScalarsOnUnalignedMemory() {
        let count = 4099
        var state: UInt32 = 42
        let floats: [Float] = (0..<count).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(bitPattern: state & 0xBFFF_FFFF)  // finite, mixed magnitudes
        }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 2 * count + 1, alignment: 16)
        defer { raw.deallocate() }
        let odd = raw + 1
        var back = [Float](repeating: 0, count: count)
        floats.withUnsafeBufferPointer { source in
            HalfPrecision.convertFloatToF16(source.baseAddress!, odd, count: count)
            for i in 0..<count {
                XCTAssertEqual(odd.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self), HalfPrecision.f16(from: floats[i]))
            }
            back.withUnsafeMutableBufferPointer { HalfPrecision.convertF16ToFloat(odd, $0.baseAddress!, count: count) }
            for i in 0..<count {
                XCTAssertEqual(back[i], HalfPrecision.float(fromF16: HalfPrecision.f16(from: floats[i])))
            }
            HalfPrecision.convertFloatToBF16(source.baseAddress!, odd, count: count)
            for i in 0..<count {
                XCTAssertEqual(odd.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self), HalfPrecision.bf16(from: floats[i]))
            }
            back.withUnsafeMutableBufferPointer { HalfPrecision.convertBF16ToFloat(odd, $0.baseAddress!, count: count) }
            for i in 0..<count {
                XCTAssertEqual(back[i], HalfPrecision.float(fromBF16: HalfPrecision.bf16(from: floats[i])))
            }
        }
    }
}
