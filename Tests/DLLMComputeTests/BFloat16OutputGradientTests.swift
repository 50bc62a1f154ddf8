import DLLMCompute
import DLLMRandom
import XCTest

/// The LM head's backward from dlogits rounded straight into bf16 rows gives, bit for bit, what
/// float32 dlogits through `bf16LinearBackward` give, on every kernel path: an ignored row, a
/// per-row weight, an odd vocabulary (a padded pair) and a weight gradient in several blocks.
final class BFloat16OutputGradientTests: XCTestCase {
    func testHeadBackwardFromBF16RowsEqualsFloatDlogits() {
        let N = 45, C = 40, V = 251
        var rng = SeededGenerator(seed: 7)
        func random(_ count: Int, _ range: ClosedRange<Float> = -1...1) -> [Float] {
            (0..<count).map { _ in Float.random(in: range, using: &rng) }
        }
        let logits = random(N * V, -4...4), inp = random(N * C), weight = random(V * C)
        let dinp0 = random(N * C), dweight0 = random(V * C), rowWeights = random(N, 0.1...2)
        var targets = (0..<N).map { _ in Int32.random(in: 0..<Int32(V), using: &rng) }
        targets[3] = ignoreIndex
        var lse = [Float](repeating: 0, count: N), losses = [Float](repeating: 0, count: N)
        crossEntropyForward(&losses, &lse, logits, targets, rowWeights, N: N, V: V)
        onEachBFloat16Kernel { kernel in
            var dlogits = logits, dinp = dinp0, dweight = dweight0
            crossEntropyBackward(&dlogits, logits, lse, targets, rowWeights, dloss: 0.5, N: N, V: V)
            bf16LinearBackward(&dinp, &dweight, nil, dlogits, inp, weight, N: N, C: C, OC: V)

            var rows = [UInt16](repeating: 0xFFFF, count: bf16PackedRowsCount(N: N, C: V))
            var packedDinp = dinp0, packedDweight = dweight0
            crossEntropyBackwardBF16(into: &rows, logits, lse, targets, rowWeights, dloss: 0.5, N: N, V: V)
            bf16LinearBackward(&packedDinp, &packedDweight, packedDout: rows, inp, weight, N: N, C: C, OC: V, weightRows: 64)

            XCTAssertEqual(packedDinp.map(\.bitPattern), dinp.map(\.bitPattern), "\(kernel): input gradient")
            XCTAssertEqual(packedDweight.map(\.bitPattern), dweight.map(\.bitPattern), "\(kernel): weight gradient")
            XCTAssertNotEqual(packedDweight.map(\.bitPattern), dweight0.map(\.bitPattern), "\(kernel): weight gradient accumulated")
            let stride = rows.count / N
            XCTAssertTrue(rows[3 * stride..<4 * stride].allSatisfy { $0 == 0 }, "\(kernel): ignored row is zero")
            XCTAssertEqual(rows[V], 0, "\(kernel): the odd vocabulary's pad is zero")
            var first: UInt16 = 0
            BFloat16Matmul.round(dlogits, into: &first, count: 1)
            XCTAssertEqual(rows[0], first, "\(kernel): rows hold the rounded dlogits")
        }
    }

    /// An owned copy of an array (the kernels take raw pointers, and tuples take no array
    /// conversions).
    final class Owned<T> {
        let pointer: UnsafeMutablePointer<T>, count: Int
        init(_ values: [T]) {
            count = values.count
            pointer = .allocate(capacity: max(1, count))
            pointer.initialize(from: values, count: count)
        }
        deinit { pointer.deinitialize(count: count); pointer.deallocate() }
        var array: [T] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
    }

    /// SwiGLU's gradients written straight into bf16 rows, then the gate and up products from them,
    /// give bit for bit the float32 gradients' path: an odd intermediate width (a padded pair), more
    /// rows than one thread's share, weight gradients in blocks of 16 rows, every kernel path.
    func testGateUpFromBF16RowsEqualsFloatGradients() {
        let N = 70, C = 40, I = 37
        var rng = SeededGenerator(seed: 11)
        func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -2...2, using: &rng) } }
        var gateBits = [UInt16](repeating: 0, count: N * I), upBits = gateBits
        BFloat16Matmul.round(random(N * I), into: &gateBits, count: N * I)
        BFloat16Matmul.round(random(N * I), into: &upBits, count: N * I)
        let dout = random(N * I), inp = random(N * C), wg = Owned(random(I * C)), wu = Owned(random(I * C))
        let dinp0 = random(N * C), dwg0 = random(I * C), dwu0 = random(I * C)
        let count = bf16PackedRowsCount(N: N, C: I), ld = count / N
        var packedInput = [UInt16](repeating: 0, count: bf16PackedRowsCount(N: N, C: C))
        onEachBFloat16Kernel { kernel in
            bf16PackActivation(inp, N: N, C: C, into: &packedInput)
            // The float32 path: zeroed gradients accumulated, then the group rounds them.
            let dg = Owned([Float](repeating: 0, count: N * I)), du = Owned([Float](repeating: 0, count: N * I))
            let dwg = Owned(dwg0), dwu = Owned(dwu0)
            var dinp = dinp0
            swigluBackwardBF16(dg.pointer, du.pointer, dout, gateBits: gateBits, upBits: upBits, count: N * I)
            bf16LinearBackwardGroup(&dinp, [
                (linear: BFloat16Linear(out: dg.pointer, weight: wg.pointer, bias: nil, OC: I), dweight: Optional(dwg.pointer), dbias: nil),
                (linear: BFloat16Linear(out: du.pointer, weight: wu.pointer, bias: nil, OC: I), dweight: Optional(dwu.pointer), dbias: nil),
            ], packedInput: packedInput, N: N, C: C)
            // The rows path.
            let gateRows = Owned([UInt16](repeating: 0xFFFF, count: count)), upRows = Owned([UInt16](repeating: 0xFFFF, count: count))
            let rowsDwg = Owned(dwg0), rowsDwu = Owned(dwu0)
            var rowsDinp = dinp0
            swigluBackwardBF16(rows: gateRows.pointer, upRows.pointer, ld: ld, dout, gateBits: gateBits, upBits: upBits, N: N, I: I)
            bf16LinearBackwardGroup(&rowsDinp, [
                (dout: UnsafePointer(gateRows.pointer), weight: UnsafePointer(wg.pointer), dweight: Optional(rowsDwg.pointer), OC: I),
                (dout: UnsafePointer(upRows.pointer), weight: UnsafePointer(wu.pointer), dweight: Optional(rowsDwu.pointer), OC: I),
            ], packedInput: packedInput, N: N, C: C, weightRows: 16)

            var roundedGate = [UInt16](repeating: 0, count: N * I)
            BFloat16Matmul.round(dg.pointer, into: &roundedGate, count: N * I)
            let rows = gateRows.array
            XCTAssertEqual((0..<N).flatMap { n in rows[n * ld..<n * ld + I] }, roundedGate, "\(kernel): gate rows hold the rounded gradients")
            XCTAssertEqual(rows[I], 0, "\(kernel): the odd width's pad is zero")
            XCTAssertEqual(rowsDinp.map(\.bitPattern), dinp.map(\.bitPattern), "\(kernel): input gradient")
            XCTAssertEqual(rowsDwg.array.map(\.bitPattern), dwg.array.map(\.bitPattern), "\(kernel): gate weight gradient")
            XCTAssertEqual(rowsDwu.array.map(\.bitPattern), dwu.array.map(\.bitPattern), "\(kernel): up weight gradient")
            XCTAssertNotEqual(rowsDwu.array.map(\.bitPattern), dwu0.map(\.bitPattern), "\(kernel): up weight gradient accumulated")
        }
    }
}
