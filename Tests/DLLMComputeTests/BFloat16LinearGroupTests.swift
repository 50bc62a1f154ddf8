import DLLMCompute
import DLLMRandom
import XCTest

/// The grouped bf16 linears (one packing of a shared input for q, k, v or gate, up) give every
/// output and gradient bit for bit what one `bf16LinearForward` / `bf16LinearBackward` per linear
/// gives, on both kernels, with a bias on some, widths that are not multiples of a tile, and more
/// rows than one thread's share.
final class BFloat16LinearGroupTests: XCTestCase {
    /// An owned float buffer (the kernels take raw pointers).
    final class Floats {
        let pointer: UnsafeMutablePointer<Float>, count: Int
        init(_ values: [Float]) {
            count = values.count
            pointer = .allocate(capacity: max(1, count))
            pointer.initialize(from: values, count: count)
        }
        deinit { pointer.deallocate() }
        var bits: [UInt32] { (0..<count).map { pointer[$0].bitPattern } }
        func copy() -> Floats { Floats(Array(UnsafeBufferPointer(start: pointer, count: count))) }
    }

    func testGroupedLinearsEqualOneCallEach() {
        let N = 150, C = 72, widths = [40, 24, 24]
        var rng = SeededGenerator(seed: 42)
        func random(_ count: Int) -> Floats { Floats((0..<count).map { _ in Float.random(in: -1...1, using: &rng) }) }
        let inp = random(N * C)
        let weights = widths.map { random($0 * C) }
        let biases = [random(widths[0]), nil, random(widths[2])]
        let douts = widths.map { random(N * $0) }
        let dinp0 = random(N * C), dweights0 = widths.map { random($0 * C) }, dbiases0 = widths.map { random($0) }
        onEachBFloat16Kernel { kernel in
            // One call per linear, in order: the reference.
            let outs = widths.map { Floats([Float](repeating: .nan, count: N * $0)) }
            let dinp = dinp0.copy(), dweights = dweights0.map { $0.copy() }, dbiases = dbiases0.map { $0.copy() }
            for i in widths.indices {
                bf16LinearForward(outs[i].pointer, inp.pointer, weights[i].pointer, biases[i].map { UnsafePointer($0.pointer) }, N: N, C: C, OC: widths[i])
                bf16LinearBackward(dinp.pointer, dweights[i].pointer, biases[i] == nil ? nil : dbiases[i].pointer,
                                   douts[i].pointer, inp.pointer, weights[i].pointer, N: N, C: C, OC: widths[i])
            }
            // The group.
            let groupOuts = widths.map { Floats([Float](repeating: .nan, count: N * $0)) }
            let groupDinp = dinp0.copy(), groupDweights = dweights0.map { $0.copy() }, groupDbiases = dbiases0.map { $0.copy() }
            bf16LinearForwardGroup(widths.indices.map {
                BFloat16Linear(out: groupOuts[$0].pointer, weight: weights[$0].pointer, bias: biases[$0].map { UnsafePointer($0.pointer) }, OC: widths[$0])
            }, inp.pointer, N: N, C: C)
            bf16LinearBackwardGroup(groupDinp.pointer, widths.indices.map { i in
                (linear: BFloat16Linear(out: douts[i].pointer, weight: weights[i].pointer, bias: nil, OC: widths[i]),
                 dweight: Optional(groupDweights[i].pointer), dbias: biases[i] == nil ? nil : Optional(groupDbiases[i].pointer))
            }, inp.pointer, N: N, C: C)
            for i in widths.indices {
                XCTAssertEqual(groupOuts[i].bits, outs[i].bits, "\(kernel): output \(i)")
                XCTAssertEqual(groupDweights[i].bits, dweights[i].bits, "\(kernel): weight gradient \(i)")
                XCTAssertEqual(groupDbiases[i].bits, dbiases[i].bits, "\(kernel): bias gradient \(i)")
                XCTAssertNotEqual(groupDweights[i].bits, dweights0[i].bits, "\(kernel): weight gradient \(i) was accumulated")
                XCTAssertFalse(groupOuts[i].bits.contains(Float.nan.bitPattern), "\(kernel): output \(i) written")
            }
            XCTAssertEqual(groupDinp.bits, dinp.bits, "\(kernel): input gradient")
            XCTAssertEqual(groupDbiases[1].bits, dbiases0[1].bits, "no bias, no bias gradient")
        }
    }
}
