import Foundation
import XCTest
@testable import DLLMGGUF

/// Metadata of every value type, arrays and nested arrays, tensor infos and the data
/// section, against what gguf-py wrote (metadata_expected.json).
final class GGUFMetadataTests: XCTestCase {
    private func expectation() throws -> [String: Any] {
        let data = try Data(contentsOf: Fixtures.directory.appendingPathComponent("metadata_expected.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Builds the GGUFValue the JSON describes: scalars by type name, floats as hex bits,
    /// arrays as {"type", "items"}.
    private func value(type: String, _ json: Any) throws -> GGUFValue {
        func integer<T: FixedWidthInteger>(_ t: T.Type) throws -> T {
            let number = try XCTUnwrap(json as? NSNumber, "\(json) is not a number")
            // Large unsigned values survive only through the decimal string.
            return try XCTUnwrap(T(number.stringValue), "\(number) does not fit \(T.self)")
        }
        switch type {
        case "UINT8": return .uint8(try integer(UInt8.self))
        case "INT8": return .int8(try integer(Int8.self))
        case "UINT16": return .uint16(try integer(UInt16.self))
        case "INT16": return .int16(try integer(Int16.self))
        case "UINT32": return .uint32(try integer(UInt32.self))
        case "INT32": return .int32(try integer(Int32.self))
        case "UINT64": return .uint64(try integer(UInt64.self))
        case "INT64": return .int64(try integer(Int64.self))
        case "FLOAT32": return .float32(Float(bitPattern: try XCTUnwrap(UInt32(json as! String, radix: 16))))
        case "FLOAT64": return .float64(Double(bitPattern: try XCTUnwrap(UInt64(json as! String, radix: 16))))
        case "BOOL": return .bool(try XCTUnwrap(json as? Bool))
        case "STRING": return .string(try XCTUnwrap(json as? String))
        case "ARRAY":
            let array = try XCTUnwrap(json as? [String: Any])
            let itemType = try XCTUnwrap(array["type"] as? String)
            let items = try XCTUnwrap(array["items"] as? [Any])
            return .array(try items.map { try value(type: itemType, $0) })
        default:
            XCTFail("unknown type \(type)")
            return .bool(false)
        }
    }

    func testEveryValueTypeReadsBackEqual() throws {
        let gguf = try GGUFFile(path: Fixtures.path("metadata.gguf"))
        XCTAssertEqual(gguf.version, 3)
        let entries = try XCTUnwrap(try expectation()["entries"] as? [[Any]])
        XCTAssertEqual(gguf.metadata.keys, entries.map { $0[0] as! String })
        for entry in entries {
            let key = entry[0] as! String
            let expected = try value(type: entry[1] as! String, entry[2])
            XCTAssertEqual(gguf.metadata[key], expected, key)
            XCTAssertEqual(gguf.metadata[key]?.typeName, entry[1] as? String, key)
        }
        // Spot checks of the typed accessors.
        XCTAssertEqual(gguf.metadata["test.uint64"]?.int, nil)  // 1.8e19 does not fit Int
        XCTAssertEqual(gguf.metadata["test.int64"]?.int, -9_000_000_000_000_000_000)
        XCTAssertEqual(gguf.metadata["test.array.string"]?.strings, ["a", "", "ünïcode"])
        XCTAssertEqual(gguf.metadata["test.array.nested_int32"]?.array?[0].ints, [1, 2, 3])
    }

    func testTensorInfosAlignmentAndData() throws {
        let gguf = try GGUFFile(path: Fixtures.path("metadata.gguf"))
        let json = try expectation()
        XCTAssertEqual(gguf.alignment, json["alignment"] as? Int)
        XCTAssertEqual(gguf.dataSectionOffset % 64, 0)
        let tensors = try XCTUnwrap(json["tensors"] as? [[String: Any]])
        XCTAssertEqual(gguf.tensors.map(\.name), tensors.map { $0["name"] as! String })
        for (info, expected) in zip(gguf.tensors, tensors) {
            // gguf-py's ReaderTensor.shape is in ggml order (ne[0] first), as `dims` is.
            XCTAssertEqual(info.dims, expected["dims"] as? [Int], info.name)
            XCTAssertEqual(info.type.name, expected["type"] as? String)
            XCTAssertEqual(info.fileOffset, expected["data_offset"] as? Int, info.name)
            XCTAssertEqual(info.fileOffset % 64, 0)
        }
        let threeDims = try XCTUnwrap(gguf.tensor(named: "blk.0.three_dims"))
        XCTAssertEqual(threeDims.dims, [32, 3, 2])
        XCTAssertEqual(threeDims.rowCount, 6)
        let values = try gguf.dequantize(threeDims)
        XCTAssertEqual(values, (0 ..< 192).map { Float($0) / 7 })
        XCTAssertEqual(gguf.data(of: threeDims).count, 192 * 4)
        XCTAssertNil(gguf.tensor(named: "missing"))
    }

    func testVersion2FileReads() throws {
        let v2 = try GGUFFile(path: Fixtures.path("version2.gguf"))
        let v3 = try GGUFFile(path: Fixtures.path("quant_Q8_0.gguf"))
        XCTAssertEqual(v2.version, 2)
        XCTAssertEqual(v3.version, 3)
        XCTAssertEqual(v2.metadata, v3.metadata)
        XCTAssertEqual(v2.tensors, v3.tensors)
        for (a, b) in zip(v2.tensors, v3.tensors) {
            XCTAssertEqual(try v2.dequantize(a).map(\.bitPattern), try v3.dequantize(b).map(\.bitPattern))
        }
    }

    func testTensorInfoOfAnotherFileIsRejected() throws {
        let a = try GGUFFile(path: Fixtures.path("quant_Q8_0.gguf"))
        let b = try GGUFFile(path: Fixtures.path("metadata.gguf"))
        XCTAssertThrowsError(try a.dequantize(b.tensors[0])) { error in
            XCTAssertEqual(error as? GGUFError, .foreignTensor(file: a.path, tensor: "blk.0.three_dims"))
        }
    }
}
