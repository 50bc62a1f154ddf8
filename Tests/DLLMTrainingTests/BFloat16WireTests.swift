import DLLMDistributed
import XCTest

/// The bf16 sum that MPI applies to gradients on a bfloat16 wire (`BFloat16Wire.accumulate`),
/// against bit patterns worked out by hand: round to nearest, ties to even, overflow to
/// infinity, NaN from opposite infinities.
final class BFloat16WireTests: XCTestCase {
    func testSumsRoundToNearestEven() {
        // (incoming, accumulated, expected) as bfloat16 bits.
        let cases: [(UInt16, UInt16, UInt16, String)] = [
            (0x3F80, 0x3B80, 0x3F80, "1 + 2^-8: a tie between 1 and 1 + 2^-7 goes to the even 1"),
            (0x3F80, 0x3BC0, 0x3F81, "1 + 1.5·2^-8: three quarters of a step rounds up"),
            (0x3F81, 0x3B80, 0x3F82, "(1 + 2^-7) + 2^-8: a tie goes up to the even 1 + 2^-6"),
            (0x4000, 0xC000, 0x0000, "2 + (−2) = +0"),
            (0x3F80, 0x4000, 0x4040, "1 + 2 = 3 exactly"),
            (0x7F7F, 0x7F7F, 0x7F80, "the largest finite twice overflows to +infinity"),
        ]
        for (incoming, accumulated, expected, what) in cases {
            var a = [incoming], b = [accumulated]
            BFloat16Wire.accumulate(&a, into: &b, count: 1)
            XCTAssertEqual(b[0], expected, "\(what): got 0x\(String(b[0], radix: 16))")
        }
        var infinities: [UInt16] = [0x7F80], negative: [UInt16] = [0xFF80]
        BFloat16Wire.accumulate(&infinities, into: &negative, count: 1)
        XCTAssertGreaterThan(negative[0] & 0x7FFF, 0x7F80, "+inf + −inf is a NaN")
    }

    func testOnlyCountElementsAreTouched() {
        var incoming: [UInt16] = [0x3F80, 0x3F80, 0x3F80]
        var accumulated: [UInt16] = [0x3F80, 0x3F80, 0x1234]
        BFloat16Wire.accumulate(&incoming, into: &accumulated, count: 2)
        XCTAssertEqual(accumulated, [0x4000, 0x4000, 0x1234])
    }
}
