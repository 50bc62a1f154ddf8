import DLLMCheckpoint
import DLLMCompute
import DLLMGGUF
import DLLMRandom
import Foundation
import XCTest
@testable import DLLMModels

/// The frozen quantised base: quantisers against gguf-py and bitsandbytes (fixtures from
/// Tests/Fixtures/generate_frozen_quant_fixtures.py), and the tiled forward / input-backward against
/// the same products over the dequantised matrix.
final class FrozenQuantizedLinearTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent("frozen_quant")

    func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent(name))) }

    func floats(_ name: String) throws -> [Float] {
        let raw = try bytes(name)
        return (0..<(raw.count / 4)).map { i in
            Float(bitPattern: UInt32(raw[4 * i]) | UInt32(raw[4 * i + 1]) << 8 | UInt32(raw[4 * i + 2]) << 16 | UInt32(raw[4 * i + 3]) << 24)
        }
    }

    func storedBytes(_ m: FrozenQuantizedMatrix) -> [UInt8] {
        [UInt8](UnsafeRawBufferPointer(start: m.data, count: m.byteCount))
    }

    func dequantized(_ m: FrozenQuantizedMatrix) -> [Float] {
        var out = [Float](repeating: .nan, count: m.rows * m.cols)
        out.withUnsafeMutableBufferPointer { m.dequantizeRows(0..<m.rows, into: $0.baseAddress!) }
        return out
    }

    // MARK: Quantisers against the references

    func testQ8_0MatchesGGUFPy() throws {
        let x = try floats("input.f32")
        let m = try FrozenQuantizedMatrix.quantizing(x, rows: 5, cols: 512, as: .q8_0)
        XCTAssertEqual(m.format, .ggml(.q8_0))
        XCTAssertEqual(storedBytes(m), try bytes("Q8_0.bin"))
    }

    func testQ4KFallbackIsQ4_1MatchingGGUFPy() throws {
        // 2560 values as (8, 320): 320 is no multiple of 256, so q4_k falls back to Q4_1, whose
        // blocks of 32 along the flat array are the fixture's (5, 512) blocks.
        let x = try floats("input.f32")
        let m = try FrozenQuantizedMatrix.quantizing(x, rows: 8, cols: 320, as: .q4_k)
        XCTAssertEqual(m.format, .ggml(.q4_1))
        XCTAssertEqual(storedBytes(m), try bytes("Q4_1.bin"))
    }

    func testNF4MatchesBitsandbytes() throws {
        let x = try floats("input.f32")
        let m = try FrozenQuantizedMatrix.quantizing(x, rows: 5, cols: 512, as: .nf4)
        XCTAssertEqual(m.format, .nf4)
        let packed = try bytes("nf4_packed.bin"), absmax = try floats("nf4_absmax.f32")
        XCTAssertEqual(absmax.count, 40)
        let stored = storedBytes(m)
        var expected: [UInt8] = []
        for block in 0..<40 {
            let bits = absmax[block].bitPattern
            expected += [UInt8(bits & 0xFF), UInt8(bits >> 8 & 0xFF), UInt8(bits >> 16 & 0xFF), UInt8(bits >> 24)]
            expected += packed[(32 * block)..<(32 * block + 32)]
        }
        XCTAssertEqual(stored.count, expected.count)
        let differing = zip(stored, expected).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
        XCTAssertTrue(differing.isEmpty, "\(differing.count) bytes differ, first at \(differing.first ?? -1)")
        XCTAssertEqual(dequantized(m).map(\.bitPattern), try floats("nf4_dequant.f32").map(\.bitPattern))
    }

    func testQ4KQuantisesWithinFourBitError() throws {
        // gguf-py has no Q4_K quantiser, so the fitted blocks are checked by what they decode to
        // (through DLLMGGUF's dequantiser, itself bit-exact with gguf-py): a small error, exact zeros.
        let x = try floats("input.f32")
        let m = try FrozenQuantizedMatrix.quantizing(x, rows: 5, cols: 512, as: .q4_k)
        XCTAssertEqual(m.format, .ggml(.q4_K))
        XCTAssertEqual(m.byteCount, 5 * 2 * 144)
        let back = dequantized(m)
        for c in 128..<192 { XCTAssertEqual(back[2 * 512 + c], 0, "zero sub-block decodes to exact zeros") }
        // The last step of quantize_row_q4_K_ref: every element is its sub-block's coded grid point
        // nearest it, level = clamp(round((x + dmin·m) / (d·sc)), 0, 15) (grids read from the bytes here).
        for block in 0..<(m.byteCount / 144) {
            let base = m.data + block * 144
            let d = HalfPrecision.float(fromF16: base.loadUnaligned(as: UInt16.self))
            let dmin = HalfPrecision.float(fromF16: base.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            let q = (0..<12).map { base.load(fromByteOffset: 4 + $0, as: UInt8.self) }
            for j in 0..<8 {
                let sc = j < 4 ? q[j] & 63 : (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4)
                let mn = j < 4 ? q[j + 4] & 63 : (q[j + 4] >> 4) | ((q[j] >> 6) << 4)
                let step = d * Float(sc), offset = dmin * Float(mn)
                guard step != 0 else { continue }
                for i in 0..<32 {
                    let e = 256 * block + 32 * j + i
                    let level = min(15, max(0, Int(((x[e] + offset) / step).rounded(.toNearestOrEven))))
                    XCTAssertEqual(back[e], step * Float(level) - offset, accuracy: 1e-6, "element \(e)")
                }
            }
        }
        let err = zip(back, x).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +)
        let energy = x.map { Double($0) * Double($0) }.reduce(0, +)
        XCTAssertLessThan((err / energy).squareRoot(), 0.12)
    }

    // MARK: Tiled products against dequantise-then-float

    /// Naive float products over the dequantised matrix, and the bound 2·γ_C on how far two float
    /// sums of the same C terms can differ (Higham's γ_n = n·u/(1 − n·u) ≈ n·2⁻²⁴, times Σ|terms|).
    func check(_ m: FrozenQuantizedMatrix, N: Int, bias: Bool, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededGenerator(seed: seed)
        let OC = m.rows, C = m.cols
        let w = dequantized(m)
        let x = (0..<(N * C)).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = bias ? (0..<OC).map { _ in Float.random(in: -1...1, using: &rng) } : nil
        let dout = (0..<(N * OC)).map { _ in Float.random(in: -1...1, using: &rng) }
        let dinp0 = (0..<(N * C)).map { _ in Float.random(in: -1...1, using: &rng) }
        let scratch = FrozenLinearScratch(floats: 16)

        var y = [Float](repeating: .nan, count: N * OC)
        y.withUnsafeMutableBufferPointer { out in
            b.withOptionalPointer { frozenLinearForward(out.baseAddress!, x, m, $0, N: N, scratch: scratch) }
        }
        let u = Float(1) / Float(1 << 24)
        for n in 0..<N {
            for o in 0..<OC {
                var sum: Float = 0, magnitude: Float = 0
                for c in 0..<C { sum += x[n * C + c] * w[o * C + c]; magnitude += abs(x[n * C + c] * w[o * C + c]) }
                let expected = sum + (b?[o] ?? 0)
                let bound = 2 * Float(C + 1) * u * (magnitude + abs(b?[o] ?? 0)) + 1e-30
                if abs(y[n * OC + o] - expected) > bound {
                    XCTFail("\(m.format) forward (\(n), \(o)): \(y[n * OC + o]) vs \(expected) (bound \(bound))", file: file, line: line)
                    return
                }
            }
        }

        var dinp = dinp0
        dinp.withUnsafeMutableBufferPointer { frozenLinearBackwardInput($0.baseAddress!, dout, m, N: N, scratch: scratch) }
        for n in 0..<N {
            for c in 0..<C {
                var sum: Float = 0, magnitude: Float = 0
                for o in 0..<OC { sum += dout[n * OC + o] * w[o * C + c]; magnitude += abs(dout[n * OC + o] * w[o * C + c]) }
                let expected = dinp0[n * C + c] + sum
                let bound = 2 * Float(OC + 1) * u * (magnitude + abs(dinp0[n * C + c])) + 1e-30
                if abs(dinp[n * C + c] - expected) > bound {
                    XCTFail("\(m.format) backward (\(n), \(c)): \(dinp[n * C + c]) vs \(expected) (bound \(bound))", file: file, line: line)
                    return
                }
            }
        }
    }

    func randomWeights(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Float.random(in: -0.2...0.2, using: &rng) }
    }

    func testProductsMatchDequantisedFloatForEveryFormat() throws {
        // Odd row counts and batch sizes; (1031, 256) spans two tiles of 1024 rows.
        let cases: [(FrozenQuantizedMatrix.QuantizeTarget, Int, Int, Int)] = [
            (.q8_0, 37, 96, 5), (.q8_0, 1031, 256, 3), (.q4_k, 19, 512, 7), (.q4_k, 23, 160, 4), (.nf4, 29, 192, 3),
        ]
        for (i, (target, rows, cols, N)) in cases.enumerated() {
            let w = randomWeights(rows * cols, seed: UInt64(100 + i))
            let m = try FrozenQuantizedMatrix.quantizing(w, rows: rows, cols: cols, as: target)
            check(m, N: N, bias: i % 2 == 0, seed: UInt64(i))
        }
    }

    func testInferenceMatricesAndGGUFTensorsServeAsBases() throws {
        // Q4_0 as the inference path holds it, wrapped without a copy.
        let w = randomWeights(13 * 64, seed: 7)
        let q4 = try QuantizedMatrix.quantizing(w, rows: 13, cols: 64, as: .q4_0)
        let wrapped = FrozenQuantizedMatrix(q4)
        XCTAssertEqual(wrapped.format, .ggml(.q4_0))
        XCTAssertEqual(wrapped.data, q4.data)
        check(wrapped, N: 3, bias: true, seed: 8)

        // Every ggml type of DLLMGGUF's fixtures, read in place from the file.
        let ggufFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DLLMGGUFTests").appendingPathComponent("Fixtures")
        for type in [GGMLType.q8_0, .q4_1, .q4_K, .q5_K, .q6_K] {
            let file = try GGUFFile(path: ggufFixtures.appendingPathComponent("quant_\(type.name).gguf").path)
            for tensor in file.tensors where tensor.dims.count == 2 {
                let m = try FrozenQuantizedMatrix(tensor: tensor, in: file)
                XCTAssertEqual(m.format, .ggml(type))
                XCTAssertEqual(dequantized(m).map(\.bitPattern), try file.dequantize(tensor).map(\.bitPattern), "\(type) \(tensor.name)")
                check(m, N: 3, bias: false, seed: 9)
            }
        }
    }

    func testBadShapesAndTypesAreTypedErrors() throws {
        let w = randomWeights(3 * 100, seed: 1)
        XCTAssertThrowsError(try FrozenQuantizedMatrix.quantizing(w, rows: 3, cols: 100, as: .nf4)) { error in
            XCTAssertTrue("\(error)".contains("100 columns is not a multiple of the NF4 block size 64"), "\(error)")
        }
        let storage = QuantizedStorage(count: 10)
        XCTAssertThrowsError(try FrozenQuantizedMatrix(format: .ggml(.iq2_XXS), rows: 1, cols: 256, data: storage.pointer, byteCount: 10,
                                                       owner: storage, name: "blk.0.ffn_up.weight")) { error in
            XCTAssertTrue("\(error)".contains("blk.0.ffn_up.weight: type IQ2_XXS has no dequantiser"), "\(error)")
        }
        XCTAssertThrowsError(try FrozenQuantizedMatrix(format: .ggml(.q8_0), rows: 1, cols: 32, data: storage.pointer, byteCount: 10,
                                                       owner: storage, name: "w")) { error in
            XCTAssertTrue("\(error)".contains("needs 34 bytes, has 10"), "\(error)")
        }
    }
}

extension Optional where Wrapped == [Float] {
    func withOptionalPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .none: return body(nil)
        case .some(let array): return array.withUnsafeBufferPointer { body($0.baseAddress) }
        }
    }
}
