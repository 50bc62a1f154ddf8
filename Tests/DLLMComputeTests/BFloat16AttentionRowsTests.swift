import CBFloat16
import XCTest
@testable import DLLMCompute

/// bf16 attention's row passes (Sources/CBFloat16/AttentionRows.c) against the Swift loops they
/// replace, bit for bit, on the AVX-512 path and the portable one: `Float.fastExp`, the scale and
/// maximum, the score gradient, and the packed bf16 rows they write beside.
final class BFloat16AttentionRowsTests: XCTestCase {
    /// Scores as a tile holds them: wide and narrow, exact ties, masked (−∞), tiny, and past
    /// fastExp's clamps on both sides; 37 and 300 columns leave a partial vector and an odd pad.
    static func scores(_ count: Int) -> [Float] {
        var values = (0..<count).map { i -> Float in
            let u = Float((i &* 2_654_435_761) % 10_007) / 10_007  // [0, 1)
            return (u - 0.6) * 60
        }
        let specials: [Float] = [-.infinity, 0, -0.0, 1e-30, -1e-30, 95, -95, 88.7, -87.3, .leastNonzeroMagnitude]
        for (i, v) in specials.enumerated() where 3 * i < count { values[3 * i] = v }
        return values
    }

    func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }

    func rounded(_ x: [Float]) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: x.count)
        BFloat16Matmul.round(x, into: &out, count: x.count)
        return out
    }

    func testExpPassIsFastExpBitForBitAndPacksTheRoundedRow() {
        onEachBFloat16Kernel { kernel in
            for cols in [1, 16, 37, 300] {
                for (scale, shift) in [(Float(1), Float(3.25)), (0.125, -7.5), (0.125, 0)] {
                    let source = Self.scores(cols)
                    var row = source
                    var packed = [UInt16](repeating: 0xFFFF, count: cols + 2)
                    cbf16_attention_exp(&row, cols, scale, shift, &packed)
                    let expected = source.map { Float.fastExp((scale == 1 ? $0 : $0 * scale) - shift) }
                    XCTAssertEqual(bits(row), bits(expected), "\(kernel), cols \(cols), scale \(scale), shift \(shift)")
                    XCTAssertEqual(Array(packed[0..<cols]), rounded(expected), "\(kernel), cols \(cols): packed row")
                    XCTAssertEqual(packed[cols], cols % 2 == 1 ? 0 : 0xFFFF, "\(kernel), cols \(cols): pad to even, nothing past it")
                    XCTAssertEqual(packed[cols + 1], 0xFFFF, "\(kernel), cols \(cols): wrote past the row")
                    if cols >= 37 { XCTAssertTrue(row.contains(0) && row.contains { $0 > 1 }, "\(kernel): the scores cover underflow and growth") }
                }
            }
        }
    }

    func testExpPassWithoutPackedRowOnlyExponentiates() {
        onEachBFloat16Kernel { kernel in
            let source = Self.scores(300)
            var row = source
            cbf16_attention_exp(&row, 300, 0.125, 2, nil)
            XCTAssertEqual(bits(row), bits(source.map { Float.fastExp($0 * 0.125 - 2) }), kernel)
        }
    }

    func testScaleMaxScalesInPlaceAndReturnsTheLargest() {
        onEachBFloat16Kernel { kernel in
            for cols in [1, 37, 300] {
                let source = Self.scores(cols)
                var row = source
                let largest = cbf16_attention_scale_max(&row, cols, 0.125)
                let expected = source.map { $0 * 0.125 }
                XCTAssertEqual(bits(row), bits(expected), "\(kernel), cols \(cols)")
                XCTAssertEqual(largest, Float.maximum(expected, count: cols), "\(kernel), cols \(cols)")
            }
            var masked: [Float] = Array(repeating: -.infinity, count: 21)
            XCTAssertEqual(cbf16_attention_scale_max(&masked, 21, 0.125), -.infinity, "\(kernel): a fully masked row")
            XCTAssertEqual(cbf16_attention_scale_max(&masked, 0, 0.125), -.infinity, "\(kernel): no columns")
        }
    }

    func testScoreGradientIsTheSwiftFormulaBitForBit() {
        onEachBFloat16Kernel { kernel in
            for cols in [5, 37, 300] {
                let p = Self.scores(cols).map { Float.fastExp($0 / 8 - 4) }
                let dP = Self.scores(cols + 11).suffix(cols).map { $0 / 30 }
                let rowsum: Float = 0.37, scale: Float = 0.125
                var d = Array(dP)
                var packed = [UInt16](repeating: 0xFFFF, count: cols + 1)
                cbf16_attention_score_gradient(p, &d, cols, rowsum, scale, &packed)
                let expected = zip(p, dP).map { $0 * ($1 - rowsum) * scale }
                XCTAssertEqual(bits(d), bits(expected), "\(kernel), cols \(cols)")
                XCTAssertEqual(Array(packed[0..<cols]), rounded(expected), "\(kernel), cols \(cols): packed row")
                XCTAssertEqual(packed[cols], cols % 2 == 1 ? 0 : 0xFFFF, "\(kernel), cols \(cols): pad")
            }
        }
    }
}
