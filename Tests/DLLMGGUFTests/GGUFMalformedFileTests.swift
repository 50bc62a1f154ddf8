import Foundation
import XCTest
@testable import DLLMGGUF

/// One malformed file per check: each must throw a typed error naming the key or
/// tensor and the byte offset, never crash or allocate what the file claims.
final class GGUFMalformedFileTests: GGUFTestCase {
    /// Asserts the error's text names every one of `parts` (key/tensor and "offset N").
    private func assertNames(_ error: GGUFError, _ parts: String..., file: StaticString = #filePath, line: UInt = #line) {
        for part in parts {
            XCTAssertTrue(error.description.contains(part), "'\(error)' lacks '\(part)'", file: file, line: line)
        }
    }

    func testBadMagic() throws {
        var b = GGUFBytes()
        b.raw(Array("GGML".utf8)); b.u32(3); b.u64(0); b.u64(0)
        let error = try openError(b)
        XCTAssertEqual(error, .badMagic(file: error.fileForTest, found: Array("GGML".utf8)))
        assertNames(error, "offset 0", "GGUF")
    }

    func testUnsupportedVersion() throws {
        var b = GGUFBytes()
        b.header(version: 1, tensors: 0, entries: 0)
        let error = try openError(b)
        XCTAssertEqual(error, .unsupportedVersion(file: error.fileForTest, version: 1, offset: 4))
        assertNames(error, "version 1", "offset 4")
    }

    func testTruncatedHeader() throws {
        var b = GGUFBytes()
        b.header(tensors: 0, entries: 0)
        b.truncate(to: 12)   // half of the tensor count
        let error = try openError(b)
        XCTAssertEqual(error, .truncated(file: error.fileForTest, what: "header tensor count", offset: 8, needed: 8, available: 4))
        assertNames(error, "header tensor count", "offset 8")
    }

    func testEmptyFile() throws {
        let error = try openError(GGUFBytes())
        XCTAssertEqual(error, .truncated(file: error.fileForTest, what: "magic", offset: 0, needed: 4, available: 0))
    }

    func testTruncatedMetadataString() throws {
        var b = GGUFBytes()
        b.header(tensors: 0, entries: 1)
        b.string("general.name"); b.u32(8)
        let lengthOffset = b.count
        b.u64(10); b.raw(Array("Smo".utf8))
        let error = try openError(b)
        XCTAssertEqual(error, .stringTooLong(file: error.fileForTest, what: "value of 'general.name'", length: 10,
                                             offset: lengthOffset, available: 3))
        assertNames(error, "general.name", "offset \(lengthOffset)")
    }

    func testHugeStringLength() throws {
        var b = GGUFBytes()
        b.header(tensors: 0, entries: 1)
        let keyOffset = b.count
        b.u64(1 << 62); b.raw(Array("general.name".utf8))
        let error = try openError(b)
        XCTAssertEqual(error, .stringTooLong(file: error.fileForTest, what: "key of metadata entry 0", length: 1 << 62,
                                             offset: keyOffset, available: 12))
        assertNames(error, "key of metadata entry 0", "offset \(keyOffset)")
    }

    func testHugeArrayCount() throws {
        var b = GGUFBytes()
        b.header(tensors: 0, entries: 1)
        b.string("tokenizer.ggml.tokens"); b.u32(9); b.u32(8)
        let countOffset = b.count
        b.u64(1 << 60); b.string("a")
        let error = try openError(b)
        XCTAssertEqual(error, .countTooLarge(file: error.fileForTest, what: "array length of 'tokenizer.ggml.tokens'",
                                             count: 1 << 60, offset: countOffset, available: 9))
        assertNames(error, "tokenizer.ggml.tokens", "offset \(countOffset)")
    }

    func testHugeMetadataCount() throws {
        var b = GGUFBytes()
        b.header(tensors: 0, entries: UInt64.max)
        let error = try openError(b)
        XCTAssertEqual(error, .countTooLarge(file: error.fileForTest, what: "metadata entry count", count: UInt64.max,
                                             offset: 16, available: 0))
    }

    func testUnknownValueType() throws {
        var b = GGUFBytes()
        b.header(tensors: 0, entries: 1)
        b.string("llama.block_count")
        let typeOffset = b.count
        b.u32(13); b.u32(30)
        let error = try openError(b)
        XCTAssertEqual(error, .unknownValueType(file: error.fileForTest, key: "llama.block_count", type: 13, offset: typeOffset))
        assertNames(error, "llama.block_count", "offset \(typeOffset)", "13")
    }

    func testUnknownArrayElementType() throws {
        var b = GGUFBytes()
        b.header(tensors: 0, entries: 1)
        b.string("x.list"); b.u32(9)
        let typeOffset = b.count
        b.u32(77); b.u64(1); b.u32(0)
        let error = try openError(b)
        XCTAssertEqual(error, .unknownValueType(file: error.fileForTest, key: "x.list", type: 77, offset: typeOffset))
    }

    func testDuplicateKey() throws {
        var b = GGUFBytes()
        b.header(tensors: 0, entries: 2)
        b.stringEntry("general.architecture", "llama")
        let secondOffset = b.count
        b.stringEntry("general.architecture", "qwen2")
        let error = try openError(b)
        XCTAssertEqual(error, .duplicateKey(file: error.fileForTest, key: "general.architecture", offset: secondOffset))
        assertNames(error, "general.architecture", "offset \(secondOffset)")
    }

    func testInvalidAlignment() throws {
        var b = GGUFBytes()
        b.header(tensors: 0, entries: 1)
        b.string("general.alignment")
        let valueOffset = b.count
        b.u32(4); b.u32(48)
        let error = try openError(b)
        XCTAssertEqual(error, .invalidAlignment(file: error.fileForTest, key: "general.alignment", value: "uint32(48)", offset: valueOffset))
    }

    func testTooManyDimensions() throws {
        var b = GGUFBytes()
        b.header(tensors: 1, entries: 0)
        b.string("blk.0.attn_q.weight")
        let dimsOffset = b.count
        b.u32(5); for _ in 0 ..< 5 { b.u64(1) }; b.u32(0); b.u64(0)
        let error = try openError(b)
        XCTAssertEqual(error, .invalidDimensionCount(file: error.fileForTest, tensor: "blk.0.attn_q.weight", count: 5, offset: dimsOffset))
        assertNames(error, "blk.0.attn_q.weight", "offset \(dimsOffset)")
    }

    func testDimensionProductOverflow() throws {
        var b = GGUFBytes()
        b.header(tensors: 1, entries: 0)
        b.string("token_embd.weight")
        let dimsOffset = b.count
        b.u32(2); b.u64(1 << 40); b.u64(1 << 40); b.u32(0); b.u64(0)
        let error = try openError(b)
        XCTAssertEqual(error, .invalidShape(file: error.fileForTest, tensor: "token_embd.weight", dims: [1 << 40, 1 << 40], offset: dimsOffset))
        assertNames(error, "token_embd.weight", "offset \(dimsOffset)")
    }

    func testRowNotWholeBlocks() throws {
        var b = GGUFBytes()
        b.header(tensors: 1, entries: 0)
        b.string("output.weight")
        let dimsOffset = b.count
        b.u32(1); b.u64(33); b.u32(GGMLType.q8_0.rawValue); b.u64(0)
        let error = try openError(b)
        XCTAssertEqual(error, .rowNotWholeBlocks(file: error.fileForTest, tensor: "output.weight", type: .q8_0, ne0: 33, offset: dimsOffset))
    }

    func testUnknownGGMLType() throws {
        var b = GGUFBytes()
        b.header(tensors: 1, entries: 0)
        b.string("blk.1.ffn_up.weight"); b.u32(1); b.u64(32)
        let typeOffset = b.count
        b.u32(99); b.u64(0)
        let error = try openError(b)
        XCTAssertEqual(error, .unknownTensorType(file: error.fileForTest, tensor: "blk.1.ffn_up.weight", type: 99, offset: typeOffset))
        assertNames(error, "blk.1.ffn_up.weight", "offset \(typeOffset)", "99")
    }

    func testMisalignedOffset() throws {
        var b = GGUFBytes()
        b.header(tensors: 1, entries: 0)
        b.string("output_norm.weight"); b.u32(1); b.u64(8); b.u32(GGMLType.f32.rawValue)
        let offsetField = b.count
        b.u64(16)
        b.pad(); b.raw([UInt8](repeating: 0, count: 64))
        let error = try openError(b)
        XCTAssertEqual(error, .misalignedTensor(file: error.fileForTest, tensor: "output_norm.weight", dataOffset: 16,
                                                alignment: 32, offset: offsetField))
        assertNames(error, "output_norm.weight", "offset \(offsetField)")
    }

    func testTensorDataPastEndOfFile() throws {
        var b = GGUFBytes()
        b.header(tensors: 1, entries: 0)
        let infoOffset = b.count
        b.tensorInfo("blk.0.ffn_norm.weight", dims: [64], type: GGMLType.f32.rawValue, offset: 0)
        b.pad()
        let dataStart = b.count
        b.raw([UInt8](repeating: 0, count: 255))  // one byte short of 64 floats
        let error = try openError(b)
        XCTAssertEqual(error, .tensorOutOfBounds(file: error.fileForTest, tensor: "blk.0.ffn_norm.weight",
                                                 start: UInt64(dataStart), byteCount: 256, fileSize: dataStart + 255,
                                                 offset: infoOffset))
        assertNames(error, "blk.0.ffn_norm.weight", "offset \(infoOffset)")
    }

    func testHugeTensorOffset() throws {
        var b = GGUFBytes()
        b.header(tensors: 1, entries: 0)
        let infoOffset = b.count
        b.tensorInfo("t", dims: [8], type: GGMLType.f32.rawValue, offset: UInt64.max - 31)
        b.pad()
        let error = try openError(b)
        guard case let .tensorOutOfBounds(_, tensor, _, _, _, offset) = error else { return XCTFail("\(error)") }
        XCTAssertEqual(tensor, "t")
        XCTAssertEqual(offset, infoOffset)
    }

    func testDuplicateTensorName() throws {
        var b = GGUFBytes()
        b.header(tensors: 2, entries: 0)
        b.tensorInfo("output.weight", dims: [8], type: 0, offset: 0)
        let secondOffset = b.count
        b.tensorInfo("output.weight", dims: [8], type: 0, offset: 32)
        b.pad(); b.raw([UInt8](repeating: 0, count: 64))
        let error = try openError(b)
        XCTAssertEqual(error, .duplicateTensor(file: error.fileForTest, tensor: "output.weight", offset: secondOffset))
    }

    func testTruncatedTensorInfo() throws {
        var b = GGUFBytes()
        b.header(tensors: 1, entries: 0)
        b.tensorInfo("blk.2.attn_k.weight", dims: [64, 64], type: 0, offset: 0)
        let cut = b.count - 6   // inside the data offset field
        b.truncate(to: cut)
        // The tensor count passes its quick check (one record fits in the bytes left) …
        let error = try openError(b)
        XCTAssertEqual(error, .truncated(file: error.fileForTest, what: "data offset of tensor 'blk.2.attn_k.weight'",
                                         offset: cut - 2, needed: 8, available: 2))
        assertNames(error, "blk.2.attn_k.weight", "offset \(cut - 2)")
    }

    func testInvalidUTF8Key() throws {
        var b = GGUFBytes()
        b.header(tensors: 0, entries: 1)
        let keyOffset = b.count
        b.u64(2); b.raw([0xC3, 0x28]); b.u32(0); b.u8(1)
        let error = try openError(b)
        XCTAssertEqual(error, .invalidUTF8(file: error.fileForTest, what: "key of metadata entry 0", offset: keyOffset))
    }

    func testDeeplyNestedArraysAreRejected() throws {
        var b = GGUFBytes()
        b.header(tensors: 0, entries: 1)
        b.string("deep")
        b.u32(9)
        for _ in 0 ..< 20 { b.u32(9); b.u64(1) }
        b.u32(0); b.u64(0)
        let error = try openError(b)
        guard case let .arrayNestingTooDeep(_, key, _) = error else { return XCTFail("\(error)") }
        XCTAssertEqual(key, "deep")
    }

    func testDirectoryIsNotAFile() throws {
        XCTAssertThrowsError(try GGUFFile(path: temporary.path)) { error in
            guard case .cannotRead = error as? GGUFError else { return XCTFail("\(error)") }
        }
    }
}

extension GGUFError {
    /// The file the error names (every case has one).
    var fileForTest: String {
        switch self {
        case let .cannotRead(file, _), let .badMagic(file, _), let .unsupportedVersion(file, _, _),
             let .truncated(file, _, _, _, _), let .countTooLarge(file, _, _, _, _), let .stringTooLong(file, _, _, _, _),
             let .invalidUTF8(file, _, _), let .unknownValueType(file, _, _, _), let .arrayNestingTooDeep(file, _, _),
             let .duplicateKey(file, _, _), let .invalidAlignment(file, _, _, _), let .invalidDimensionCount(file, _, _, _),
             let .invalidShape(file, _, _, _), let .unknownTensorType(file, _, _, _), let .rowNotWholeBlocks(file, _, _, _, _),
             let .misalignedTensor(file, _, _, _, _), let .tensorOutOfBounds(file, _, _, _, _, _),
             let .duplicateTensor(file, _, _), let .unsupportedTensorType(file, _, _), let .foreignTensor(file, _):
            return file
        }
    }
}
