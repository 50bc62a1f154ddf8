import CBFloat16
@testable import DLLMCompute
import DLLMRandom
import XCTest

/// The packed B operand of the bf16 product, checked element by element against the layout
/// `cbf16_pack_b` documents: panel q, pair t, column c of the panel, half s at
/// `(q·pairs + t)·2·NR + 2c + s` holds bf16(op(B)[2t + s][q·NR + c]), zero past k and n. op(B) is
/// packed from both storage orders: row-major (k, n) rows (activations, `pack_b_panel_rows`) and an
/// (n, k) matrix read transposed (a linear layer's weight, `pack_b_panel_columns`, which transposes
/// 16 × 16 blocks of pair words in registers), on shapes with every kind of tail.
final class BFloat16PackingTests: XCTestCase {
    func testPackedPanelsFollowTheLayoutFromEitherStorageOrder() {
        var rng = SeededGenerator(seed: 31)
        let nr = Int(CBF16_NR)
        // (k, n): whole blocks of 32 k values and NR columns, and odd k, k % 32 ≠ 0, n % 16 ≠ 0, n < 16.
        for (k, n) in [(64, 64), (576, 192), (33, 70), (601, 130), (1059, 83), (48, 21), (31, 5), (2, 1), (1, 3), (95, 200)] {
            // op(B) (k, n) row-major, and the same matrix stored transposed (n, k).
            let b = (0..<(k * n)).map { _ in Float.random(in: -3...3, using: &rng) }
            var bT = [Float](repeating: 0, count: n * k)
            for p in 0..<k { for j in 0..<n { bT[j * k + p] = b[p * n + j] } }
            let count = cbf16_packed_b_count(k, n)
            var fromRows = [UInt16](repeating: 0xABCD, count: count), fromColumns = [UInt16](repeating: 0x1234, count: count)
            bf16PackPanels(.none, k: k, n: n, b, ldb: n, into: &fromRows)
            bf16PackPanels(.transpose, k: k, n: n, bT, ldb: k, into: &fromColumns)
            let pairs = (k + 1) / 2
            var mismatches = 0
            for q in 0..<((n + nr - 1) / nr) {
                for t in 0..<pairs {
                    for c in 0..<nr {
                        for s in 0..<2 {
                            let p = 2 * t + s, j = q * nr + c
                            let want: UInt16 = p < k && j < n ? UInt16(BFloat16Matmul.rounded(b[p * n + j]).bitPattern >> 16) : 0
                            let index = (q * pairs + t) * 2 * nr + 2 * c + s
                            if fromRows[index] != want || fromColumns[index] != want { mismatches += 1 }
                        }
                    }
                }
            }
            XCTAssertEqual(mismatches, 0, "k \(k), n \(n): packed words that differ from the layout")
        }
    }
}
