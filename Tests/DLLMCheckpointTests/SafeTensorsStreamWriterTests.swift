import XCTest
@testable import DLLMCheckpoint

/// The streaming writer against the in-memory one: same tensors, same values, same
/// metadata give the same bytes, whatever pieces the values arrive in; a tensor given
/// too many or too few values fails with the tensor's name and leaves no file behind.
final class SafeTensorsStreamWriterTests: TemporaryDirectoryTestCase {
    /// Four tensors of mixed float dtypes (so the dtype-then-name order is exercised),
    /// with values from a fixed recurrence; a scalar and an empty tensor among them.
    let tensors: [(name: String, dtype: SafeTensorsDType, shape: [Int])] = [
        ("model.layers.10.w", .F32, [3, 70_001]), ("model.layers.2.w", .BF16, [50_000]),
        ("lm_head.weight", .F16, [7, 9]), ("b.f64", .F64, [5]), ("scalar", .F32, []), ("empty", .F32, [0, 3]),
    ]

    func values(_ index: Int) -> [Float] {
        let count = tensors[index].shape.reduce(1, *)
        var state = UInt32(truncatingIfNeeded: 2_654_435_761 &* UInt32(index + 1))
        return (0..<count).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return (Float(state >> 8) / Float(1 << 24) - 0.5) * 70_000  // spans F16 overflow and BF16 rounding
        }
    }

    func inMemoryBytes(metadata: [String: String]) throws -> Data {
        var writer = SafeTensorsWriter(metadata: metadata)
        for (i, t) in tensors.enumerated() {
            try values(i).withUnsafeBufferPointer { try writer.add(t.name, shape: t.shape, values: $0, as: t.dtype) }
        }
        return writer.serialized()
    }

    func streamWriter(metadata: [String: String]) throws -> SafeTensorsStreamWriter {
        try SafeTensorsStreamWriter(tensors: tensors.map { .init(name: $0.name, dtype: $0.dtype, shape: $0.shape) }, metadata: metadata)
    }

    func testStreamedBytesEqualTheInMemoryWriterForAnyPieceSize() throws {
        for metadata in [[:], ["format": "pt", "rank": "1"]] {
            let expected = try inMemoryBytes(metadata: metadata)
            let writer = try streamWriter(metadata: metadata)
            XCTAssertEqual(writer.fileOrder.map { tensors[$0].name },
                           ["b.f64", "empty", "model.layers.10.w", "scalar", "model.layers.2.w", "lm_head.weight"])
            for piece in [7, 999, 1 << 15, 1 << 20] {
                let url = temporary.appendingPathComponent("stream-\(piece).safetensors")
                var asked: [Int] = []
                try writer.write(to: url) { index, sink in
                    asked.append(index)
                    let all = values(index)
                    try all.withUnsafeBufferPointer { buffer in
                        for start in stride(from: 0, to: all.count, by: piece) {
                            try sink.append(UnsafeBufferPointer(rebasing: buffer[start..<min(all.count, start + piece)]))
                        }
                    }
                    XCTAssertEqual(sink.written, all.count)
                }
                XCTAssertEqual(asked, writer.fileOrder)
                XCTAssertEqual(try Data(contentsOf: url), expected, "metadata \(metadata), pieces of \(piece)")
            }
        }
    }

    func testZerosAreAppendedAsValues() throws {
        let writer = try SafeTensorsStreamWriter(tensors: [.init(name: "pad", dtype: .BF16, shape: [70_000])])
        let url = temporary.appendingPathComponent("zeros.safetensors")
        try writer.write(to: url) { _, sink in
            try [Float(1.5)].withUnsafeBufferPointer { try sink.append($0) }
            try sink.appendZeros(69_999)
        }
        let file = try SafeTensorsFile(contentsOf: url)
        XCTAssertEqual(try file.floats("pad"), [1.5] + [Float](repeating: 0, count: 69_999))
    }

    func testWrongValueCountsFailNamingTheTensorAndLeaveNoFile() throws {
        let writer = try streamWriter(metadata: [:])
        let url = temporary.appendingPathComponent("bad.safetensors")
        for extra in [-1, 1] {
            XCTAssertThrowsError(try writer.write(to: url) { index, sink in
                var all = values(index)
                if tensors[index].name == "lm_head.weight" {
                    if extra < 0 { all.removeLast() } else { all.append(0) }
                }
                try all.withUnsafeBufferPointer { try sink.append($0) }
            }) { error in
                guard case let SafeTensorsError.countMismatch(file, tensor, expected, actual) = error else {
                    return XCTFail("unexpected error \(error)")
                }
                XCTAssertEqual(file, url.path)
                XCTAssertEqual(tensor, "lm_head.weight")
                XCTAssertEqual(expected, 63)
                XCTAssertEqual(actual, 63 + extra)
            }
            let left = try FileManager.default.contentsOfDirectory(atPath: temporary.path)
            XCTAssertEqual(left, [], "no target and no temporary file after a failed write")
        }
    }

    func testInvalidTensorsAreRejectedUpFront() {
        XCTAssertThrowsError(try SafeTensorsStreamWriter(tensors: [.init(name: "a", dtype: .F32, shape: [1]), .init(name: "a", dtype: .F32, shape: [2])]))
        XCTAssertThrowsError(try SafeTensorsStreamWriter(tensors: [.init(name: "ids", dtype: .I64, shape: [1])]))
        XCTAssertThrowsError(try SafeTensorsStreamWriter(tensors: [.init(name: "n", dtype: .F32, shape: [-1])]))
        XCTAssertThrowsError(try SafeTensorsStreamWriter(tensors: [.init(name: "__metadata__", dtype: .F32, shape: [1])]))
    }
}
