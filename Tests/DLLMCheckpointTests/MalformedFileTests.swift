import XCTest
@testable import DLLMCheckpoint

/// Every malformed input is a `SafeTensorsError` naming the file (and tensor), never a crash.
final class MalformedFileTests: XCTestCase {
    private let origin = "bad.safetensors"
    private let f32Entry = #""x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#

    private func open(_ data: Data) throws -> SafeTensorsFile { try SafeTensorsFile(data: data, origin: origin) }

    private func invalidEntryDetail(_ header: String, blob: [UInt8] = [0, 0, 0, 0], file: StaticString = #filePath, line: UInt = #line) -> String? {
        guard case let .invalidTensorEntry(reported, tensor, detail)? = caughtSafeTensorsError(try open(makeFile(header, blob: blob)), file: file, line: line) else {
            XCTFail("expected invalidTensorEntry", file: file, line: line)
            return nil
        }
        XCTAssertEqual(reported, origin, file: file, line: line)
        XCTAssertEqual(tensor, "x", file: file, line: line)
        return detail
    }

    func testFileShorterThanEightBytes() {
        XCTAssertThrowsSafeTensorsError(.fileTooSmall(file: origin, size: 0), try open(Data()))
        XCTAssertThrowsSafeTensorsError(.fileTooSmall(file: origin, size: 7), try open(Data([2, 0, 0, 0, 0, 0, 0])))
    }

    func testHeaderLengthLargerThanFile() {
        let data = makeFile("{}", declaredLength: 100)
        XCTAssertThrowsSafeTensorsError(.headerExceedsFile(file: origin, headerLength: 100, fileSize: 10), try open(data))
    }

    func testAbsurdHeaderLengthIsRejectedBeforeAllocating() {
        XCTAssertThrowsSafeTensorsError(
            .headerTooLarge(file: origin, headerLength: UInt64.max, limit: 100_000_000), try open(makeFile("{}", declaredLength: .max)))
        XCTAssertThrowsSafeTensorsError(
            .headerTooLarge(file: origin, headerLength: 100_000_001, limit: 100_000_000),
            try open(makeFile("{}", declaredLength: 100_000_001)))
    }

    func testHeaderNotUTF8() {
        XCTAssertThrowsSafeTensorsError(.headerNotUTF8(file: origin), try open(makeFile(headerBytes: [0x7B, 0xFF, 0x7D])))
        // Overlong "/" and a lone surrogate inside a string are invalid UTF-8 too.
        XCTAssertThrowsSafeTensorsError(.headerNotUTF8(file: origin), try open(makeFile(headerBytes: [0x7B, 0x22, 0xC0, 0xAF, 0x22, 0x7D])))
        XCTAssertThrowsSafeTensorsError(.headerNotUTF8(file: origin), try open(makeFile(headerBytes: [0x22, 0xED, 0xA0, 0x80, 0x22])))
    }

    func testHeaderNotJSON() {
        for text in [#"{"x":"#, "", "{x}", "{} trailing", #"{"a":tru}"#, #"{"a":"\ud800"}"#, #"{"a":01}"#, "{\"a\":\"\u{1}\"}"] {
            guard case let .headerNotJSON(file, detail)? = caughtSafeTensorsError(try open(makeFile(text))) else {
                XCTFail("expected headerNotJSON for \(text)")
                continue
            }
            XCTAssertEqual(file, origin)
            XCTAssertFalse(detail.isEmpty)
        }
    }

    func testDeeplyNestedHeaderIsAnErrorNotAStackOverflow() {
        let text = String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        guard case .headerNotJSON? = caughtSafeTensorsError(try open(makeFile(text))) else { return XCTFail() }
        let nested = #"{"x":"# + String(repeating: "{\"a\":", count: 100) + "1" + String(repeating: "}", count: 101)
        guard case .headerNotJSON? = caughtSafeTensorsError(try open(makeFile(nested))) else { return XCTFail() }
    }

    func testHeaderNotAnObject() {
        for text in ["[1,2]", #""x""#, "42", "null"] {
            XCTAssertThrowsSafeTensorsError(.headerNotObject(file: origin), try open(makeFile(text)))
        }
    }

    func testMissingDType() {
        XCTAssertEqual(invalidEntryDetail(#"{"x":{"shape":[1],"data_offsets":[0,4]}}"#), #"missing "dtype""#)
    }

    func testMissingShape() {
        XCTAssertEqual(invalidEntryDetail(#"{"x":{"dtype":"F32","data_offsets":[0,4]}}"#), #"missing "shape""#)
    }

    func testMissingDataOffsets() {
        XCTAssertEqual(invalidEntryDetail(#"{"x":{"dtype":"F32","shape":[1]}}"#), #"missing "data_offsets""#)
    }

    func testWrongJSONTypesInEntry() {
        let headers = [
            #"{"x":"F32"}"#,
            #"{"x":[1]}"#,
            #"{"x":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}"#,
            #"{"x":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}"#,
            #"{"x":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}"#,
            #"{"x":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}"#,
            #"{"x":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#,
            #"{"x":{"dtype":"F32","shape":[null],"data_offsets":[0,4]}}"#,
            #"{"x":{"dtype":"F32","shape":[1],"data_offsets":{"begin":0,"end":4}}}"#,
            #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}}"#,
            #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#,
            #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4,4]}}"#,
            #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999]}}"#,
        ]
        for header in headers {
            XCTAssertNotNil(invalidEntryDetail(header), header)
        }
    }

    func testUnknownDType() {
        XCTAssertThrowsSafeTensorsError(
            .unknownDType(file: origin, tensor: "x", dtype: "F8_E4M3"),
            try open(makeFile(#"{"x":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}"#, blob: [0, 0, 0, 0])))
        XCTAssertThrowsSafeTensorsError(
            .unknownDType(file: origin, tensor: "x", dtype: "f32"),
            try open(makeFile(#"{"x":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}"#, blob: [0, 0, 0, 0])))
    }

    func testNegativeDimension() {
        XCTAssertThrowsSafeTensorsError(
            .negativeDimension(file: origin, tensor: "x", shape: [-1, -4]),
            try open(makeFile(#"{"x":{"dtype":"F32","shape":[-1,-4],"data_offsets":[0,16]}}"#, blob: Array(repeating: 0, count: 16))))
    }

    func testShapeOverflow() {
        // The element count overflows…
        XCTAssertThrowsSafeTensorsError(
            .shapeOverflow(file: origin, tensor: "x", shape: [4_611_686_018_427_387_904, 4]),
            try open(makeFile(#"{"x":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#, blob: [0, 0, 0, 0])))
        // …or only the byte count does.
        XCTAssertThrowsSafeTensorsError(
            .shapeOverflow(file: origin, tensor: "x", shape: [4_611_686_018_427_387_904]),
            try open(makeFile(#"{"x":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}}"#, blob: [0, 0, 0, 0])))
    }

    func testShapeDisagreesWithByteCount() {
        XCTAssertThrowsSafeTensorsError(
            .sizeMismatch(file: origin, tensor: "x", expectedBytes: 8, actualBytes: 4),
            try open(makeFile(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, blob: [0, 0, 0, 0])))
        XCTAssertThrowsSafeTensorsError(
            .sizeMismatch(file: origin, tensor: "x", expectedBytes: 2, actualBytes: 4),
            try open(makeFile(#"{"x":{"dtype":"BF16","shape":[],"data_offsets":[0,4]}}"#, blob: [0, 0, 0, 0])))
    }

    func testOffsetsOutsideTheBlob() {
        XCTAssertThrowsSafeTensorsError(
            .invalidOffsets(file: origin, tensor: "x", begin: 0, end: 8, blobSize: 4),
            try open(makeFile(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, blob: [0, 0, 0, 0])))
        XCTAssertThrowsSafeTensorsError(
            .invalidOffsets(file: origin, tensor: "x", begin: -4, end: 0, blobSize: 4),
            try open(makeFile(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, blob: [0, 0, 0, 0])))
    }

    func testEndBeforeBegin() {
        XCTAssertThrowsSafeTensorsError(
            .invalidOffsets(file: origin, tensor: "x", begin: 4, end: 0, blobSize: 4),
            try open(makeFile(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, blob: [0, 0, 0, 0])))
    }

    func testOverlappingTensors() {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        XCTAssertThrowsSafeTensorsError(
            .overlappingTensors(file: origin, tensor: "b", other: "a"), try open(makeFile(header, blob: Array(repeating: 0, count: 8))))
        let same = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}"#
        XCTAssertThrowsSafeTensorsError(
            .overlappingTensors(file: origin, tensor: "b", other: "a"), try open(makeFile(same, blob: [0, 0, 0, 0])))
    }

    func testHoleBetweenTensors() {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[6,10]}}"#
        XCTAssertThrowsSafeTensorsError(
            .holeInData(file: origin, offset: 4, length: 2), try open(makeFile(header, blob: Array(repeating: 0, count: 10))))
    }

    func testUnusedBytesAfterTheLastTensor() {
        XCTAssertThrowsSafeTensorsError(
            .holeInData(file: origin, offset: 4, length: 3), try open(makeFile("{\(f32Entry)}", blob: Array(repeating: 0, count: 7))))
        XCTAssertThrowsSafeTensorsError(.holeInData(file: origin, offset: 0, length: 1), try open(makeFile("{}", blob: [1])))
    }

    func testDuplicateTensorNames() {
        // JSONSerialization would silently keep one of them; the header parser refuses.
        XCTAssertThrowsSafeTensorsError(
            .duplicateTensor(file: origin, tensor: "x"), try open(makeFile("{\(f32Entry),\(f32Entry)}", blob: [0, 0, 0, 0])))
        // Also when spelled differently in JSON ("\u0078" is "x").
        XCTAssertThrowsSafeTensorsError(
            .duplicateTensor(file: origin, tensor: "x"),
            try open(makeFile("{\(f32Entry),\"\\u0078\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", blob: [0, 0, 0, 0])))
        // A duplicated field inside an entry is malformed JSON for our purposes.
        let field = #"{"x":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}"#
        guard case .headerNotJSON? = caughtSafeTensorsError(try open(makeFile(field, blob: [0, 0, 0, 0]))) else { return XCTFail() }
    }

    func testMetadataValuesMustBeStrings() {
        XCTAssertThrowsSafeTensorsError(
            .invalidMetadata(file: origin, key: "epoch", detail: "the value is a number 3, expected a string"),
            try open(makeFile(#"{"__metadata__":{"format":"pt","epoch":3},"# + f32Entry + "}", blob: [0, 0, 0, 0])))
        guard case .invalidMetadata(origin, "__metadata__", _)? = caughtSafeTensorsError(
            try open(makeFile(#"{"__metadata__":["pt"],"# + f32Entry + "}", blob: [0, 0, 0, 0])))
        else { return XCTFail() }
    }

    func testMissingTensor() throws {
        let file = try open(makeFile("{\(f32Entry)}", blob: [0, 0, 0x80, 0x3F]))
        XCTAssertNil(file.info("y"))
        let missing = SafeTensorsError.tensorNotFound(file: origin, tensor: "y")
        XCTAssertThrowsSafeTensorsError(missing, try file.rawBytes("y"))
        XCTAssertThrowsSafeTensorsError(missing, try file.floats("y"))
        XCTAssertThrowsSafeTensorsError(missing, try file.doubles("y"))
        XCTAssertThrowsSafeTensorsError(missing, try file.int64s("y"))
        var buffer = [Float](repeating: 0, count: 1)
        XCTAssertThrowsSafeTensorsError(missing, try buffer.withUnsafeMutableBufferPointer { try file.read("y", into: $0) })
        XCTAssertEqual(try file.floats("x"), [1])
    }

    func testCountMismatchInReadInto() throws {
        let file = try open(makeFile("{\(f32Entry)}", blob: [0, 0, 0x80, 0x3F]))
        var buffer = [Float](repeating: 7, count: 3)
        XCTAssertThrowsSafeTensorsError(
            .countMismatch(file: origin, tensor: "x", expected: 1, actual: 3),
            try buffer.withUnsafeMutableBufferPointer { try file.read("x", into: $0) })
        XCTAssertEqual(buffer, [7, 7, 7], "nothing written on error")
        var empty: [Double] = []
        XCTAssertThrowsSafeTensorsError(
            .countMismatch(file: origin, tensor: "x", expected: 1, actual: 0),
            try empty.withUnsafeMutableBufferPointer { try file.read("x", into: $0) })
    }

    func testInt64sRejectsFloatingDTypes() throws {
        let file = try open(makeFile("{\(f32Entry)}", blob: [0, 0, 0, 0]))
        XCTAssertThrowsSafeTensorsError(
            .unsupportedConversion(file: origin, tensor: "x", dtype: .F32, target: "Int64"), try file.int64s("x"))
    }

    func testUnreadableFile() {
        let path = "/nonexistent-dllm-dir/model.safetensors"
        guard case .cannotRead(path, _)? = caughtSafeTensorsError(try SafeTensorsFile(contentsOf: URL(fileURLWithPath: path))) else {
            return XCTFail()
        }
    }

    func testOnlyRegularFilesAreRead() throws {
        for path in ["/dev/zero", FileManager.default.temporaryDirectory.path] {
            XCTAssertThrowsSafeTensorsError(
                .cannotRead(file: path, reason: "not a regular file"), try SafeTensorsFile(contentsOf: URL(fileURLWithPath: path)))
        }
        // Symbolic links (as in the Hugging Face cache) are followed.
        let link = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-link-\(UUID().uuidString).safetensors")
        try FileManager.default.createSymbolicLink(
            at: link, withDestinationURL: Fixtures.directory.appendingPathComponent("python_mixed.safetensors"))
        defer { try? FileManager.default.removeItem(at: link) }
        XCTAssertEqual(try SafeTensorsFile(contentsOf: link).tensorNames.count, 12)
    }

    func testLenientWhereThePythonPackageIsLenient() throws {
        // Whitespace around the JSON, unknown extra fields, an empty header and zero-size tensors are fine.
        let header = " \n{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":[1]},"
            + #""z":{"dtype":"F16","shape":[0,5],"data_offsets":[4,4]}}"# + "\n\t "
        let file = try open(makeFile(header, blob: [0, 0, 0x80, 0x3F]))
        XCTAssertEqual(file.tensorNames, ["x", "z"])
        XCTAssertEqual(try file.floats("z"), [])
        XCTAssertEqual(try open(makeFile("{}")).tensorNames, [])
    }

    func testErrorDescriptionsNameFileTensorAndRemedy() {
        let errors: [SafeTensorsError] = [
            .sizeMismatch(file: "w.safetensors", tensor: "layer.0", expectedBytes: 8, actualBytes: 4),
            .missingShard(file: "idx.json", shard: "model-00002-of-00002.safetensors", tensor: "layer.0"),
            .unknownDType(file: "w.safetensors", tensor: "layer.0", dtype: "F8_E5M2"),
        ]
        for error in errors {
            XCTAssertTrue(error.description.contains("layer.0"), error.description)
            XCTAssertTrue(error.description.contains(".safetensors") || error.description.contains("idx.json"))
            XCTAssertTrue(error.description.contains(". "), "explains what to do: \(error.description)")
        }
    }
}
