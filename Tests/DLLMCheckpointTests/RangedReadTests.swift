import XCTest
@testable import DLLMCheckpoint

/// `SafeTensorsFile.read(_:elements:into:)`, the slice read a rank uses to resume
/// only its own shard: equal to the same elements of a full read, in every float dtype,
/// and a range outside the tensor is a typed error.
final class RangedReadTests: XCTestCase {
    func testASliceEqualsTheSameElementsOfAFullRead() throws {
        var writer = SafeTensorsWriter()
        let values: [Float] = (0..<24).map { Float($0) * 0.75 - 7 }
        try values.withUnsafeBufferPointer { v in
            for dtype in [SafeTensorsDType.F32, .F16, .BF16, .F64] { try writer.add("t.\(dtype)", shape: [4, 6], values: v, as: dtype) }
        }
        let file = try SafeTensorsFile(data: writer.serialized(), origin: "memory")
        for dtype in [SafeTensorsDType.F32, .F16, .BF16, .F64] {
            let full = try file.floats("t.\(dtype)")
            for range in [0..<24, 5..<11, 23..<24, 7..<7] {
                var slice = [Float](repeating: .nan, count: range.count)
                try slice.withUnsafeMutableBufferPointer { try file.read("t.\(dtype)", elements: range, into: $0) }
                XCTAssertEqual(slice, Array(full[range]), "\(dtype) \(range)")
            }
        }
        var out = [Float](repeating: 0, count: 4)
        XCTAssertThrowsError(try out.withUnsafeMutableBufferPointer { try file.read("t.F32", elements: 22..<26, into: $0) }) { error in
            XCTAssertTrue("\(error)".contains("t.F32"), "\(error)")
        }
        XCTAssertThrowsError(try out.withUnsafeMutableBufferPointer { try file.read("t.F32", elements: 0..<3, into: $0) })
    }
}
