import Foundation
import XCTest
@testable import DLLMGGUF

/// Every supported ggml type against gguf-py `quants.dequantize`, bit for bit.
final class GGUFDequantizeTests: XCTestCase {
    private func reference(_ name: String) throws -> [UInt32] {
        let data = try Data(contentsOf: Fixtures.directory.appendingPathComponent("quant_\(name).f32"))
        XCTAssertEqual(data.count % 4, 0)
        return data.withUnsafeBytes { raw in
            (0 ..< data.count / 4).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
        }
    }

    private func check(_ type: GGMLType, file: StaticString = #filePath, line: UInt = #line) throws {
        let gguf = try GGUFFile(path: Fixtures.path("quant_\(type.name).gguf"))
        XCTAssertEqual(gguf.tensors.map(\.name), ["weight", "random"], file: file, line: line)
        var bits: [UInt32] = []
        for tensor in gguf.tensors {
            XCTAssertEqual(tensor.type, type, file: file, line: line)
            let values = try gguf.dequantize(tensor)
            XCTAssertEqual(values.count, tensor.elementCount, file: file, line: line)
            bits += values.map(\.bitPattern)
        }
        let expected = try reference(type.name)
        XCTAssertEqual(bits.count, expected.count, file: file, line: line)
        let mismatches = zip(bits, expected).enumerated().filter { $0.element.0 != $0.element.1 }
        XCTAssertTrue(mismatches.isEmpty, "\(type.name): \(mismatches.count) of \(expected.count) values differ, first at "
                      + "\(mismatches.first.map { "\($0.offset): \(Float(bitPattern: $0.element.0)) vs \(Float(bitPattern: $0.element.1))" } ?? "")",
                      file: file, line: line)
    }

    func testF32() throws { try check(.f32) }
    func testF16() throws { try check(.f16) }
    func testBF16() throws { try check(.bf16) }
    func testQ8_0() throws { try check(.q8_0) }
    func testQ4_0() throws { try check(.q4_0) }
    func testQ4_1() throws { try check(.q4_1) }
    func testQ5_0() throws { try check(.q5_0) }
    func testQ5_1() throws { try check(.q5_1) }
    func testQ4_K() throws { try check(.q4_K) }
    func testQ5_K() throws { try check(.q5_K) }
    func testQ6_K() throws { try check(.q6_K) }

    /// Row-wise dequantisation of part of a tensor equals the same rows of the whole.
    func testRowsOfATensor() throws {
        let gguf = try GGUFFile(path: Fixtures.path("quant_Q6_K.gguf"))
        let tensor = try XCTUnwrap(gguf.tensor(named: "random"))
        let whole = try gguf.dequantize(tensor)
        let data = gguf.data(of: tensor)
        var secondRow = [Float](repeating: 0, count: tensor.rowLength)
        secondRow.withUnsafeMutableBufferPointer { out in
            GGMLDequantize.rows(.q6_K, from: data.baseAddress! + tensor.bytesPerRow, count: tensor.rowLength, into: out.baseAddress!)
        }
        XCTAssertEqual(secondRow.map(\.bitPattern), whole[tensor.rowLength...].map(\.bitPattern))
    }

    func testUnsupportedTypeNamesTensorAndType() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-gguf-q2k-\(UUID().uuidString).gguf")
        defer { try? FileManager.default.removeItem(at: directory) }
        var b = GGUFBytes()
        b.header(tensors: 1, entries: 0)
        b.tensorInfo("blk.3.ffn_down.weight", dims: [256, 1], type: GGMLType.q2_K.rawValue, offset: 0)
        b.pad()
        b.raw([UInt8](repeating: 0, count: GGMLType.q2_K.bytesPerBlock))
        try Data(b.bytes).write(to: directory)
        let gguf = try GGUFFile(path: directory.path)
        XCTAssertThrowsError(try gguf.dequantize(gguf.tensors[0])) { error in
            XCTAssertEqual(error as? GGUFError, .unsupportedTensorType(file: directory.path, tensor: "blk.3.ffn_down.weight", type: .q2_K))
            XCTAssertTrue("\(error)".contains("blk.3.ffn_down.weight") && "\(error)".contains("Q2_K"))
        }
    }
}
