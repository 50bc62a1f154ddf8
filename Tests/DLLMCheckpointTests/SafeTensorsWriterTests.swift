import XCTest
@testable import DLLMCheckpoint

final class SafeTensorsWriterTests: TemporaryDirectoryTestCase {
    private func sampleWriter() throws -> SafeTensorsWriter {
        var writer = SafeTensorsWriter(metadata: ["format": "pt", "note": "a \"quoted\"\n/é"])
        let weights: [Float] = [1, -2.5, 0.25, 65504, 0x1p-24, -0.0]
        try weights.withUnsafeBufferPointer { values in
            try writer.add("w.f32", shape: [2, 3], values: values, as: .F32)
            try writer.add("w.f16", shape: [3, 2], values: values, as: .F16)
            try writer.add("w.bf16", shape: [6], values: values, as: .BF16)
        }
        try [Double.pi, -1e-300].withUnsafeBufferPointer { try writer.add("w.f64", shape: [2], values: $0, as: .F64) }
        try [Float(3.5)].withUnsafeBufferPointer { try writer.add("scalar", shape: [], values: $0, as: .F32) }
        try writer.add("empty", dtype: .F32, shape: [0, 4], bytes: Data())
        try writer.add("ids", dtype: .I64, shape: [3], bytes: Data([UInt8](littleEndian: [Int64(-1), 1 << 53 + 1, 7])))
        try writer.add("small", dtype: .I8, shape: [2], bytes: Data([0x80, 0x7F]))
        try writer.add("mask", dtype: .BOOL, shape: [2], bytes: Data([1, 0]))
        return writer
    }

    func testRoundTripThroughDiskIsByteForByteStable() throws {
        let writer = try sampleWriter()
        let url = temporary.appendingPathComponent("round.safetensors")
        try writer.write(to: url)
        let onDisk = try Data(contentsOf: url)
        XCTAssertEqual(onDisk, writer.serialized(), "write(to:) streams exactly serialized()")

        let file = try SafeTensorsFile(contentsOf: url)
        XCTAssertEqual(file.metadata, ["format": "pt", "note": "a \"quoted\"\n/é"])
        XCTAssertEqual(try file.floats("w.f32"), [1, -2.5, 0.25, 65504, 0x1p-24, -0.0])
        XCTAssertEqual(try file.floats("w.f16"), [1, -2.5, 0.25, 65504, 0x1p-24, 0])
        XCTAssertEqual(try file.floats("w.bf16"), [1, -2.5, 0.25, 65536, 0x1p-24, 0])  // 65504 rounds in BF16
        XCTAssertEqual(try file.doubles("w.f64"), [Double.pi, -1e-300])
        XCTAssertEqual(try file.floats("w.f64"), [Float(Double.pi), -0.0])
        XCTAssertEqual(try file.floats("scalar"), [3.5])
        XCTAssertEqual(file.info("scalar")?.shape, [])
        XCTAssertEqual(file.info("scalar")?.elementCount, 1)
        XCTAssertEqual(file.info("empty")?.elementCount, 0)
        XCTAssertEqual(try file.floats("empty"), [])
        XCTAssertEqual(try file.int64s("ids"), [-1, 1 << 53 + 1, 7])
        XCTAssertEqual(try file.int64s("small"), [-128, 127])
        XCTAssertEqual(try file.floats("small"), [-128, 127])
        XCTAssertEqual(try file.int64s("mask"), [1, 0])
        XCTAssertEqual(try file.doubles("mask"), [1, 0])

        // Rebuild from what was read, in a different order: identical bytes.
        var again = SafeTensorsWriter(metadata: file.metadata)
        for name in file.tensorNames.reversed() {
            let info = try XCTUnwrap(file.info(name))
            try again.add(name, dtype: info.dtype, shape: info.shape, bytes: file.rawBytes(name))
        }
        XCTAssertEqual(again.serialized(), onDisk)
    }

    func testInfoDescribesAbsoluteByteRanges() throws {
        let data = try sampleWriter().serialized()
        let file = try SafeTensorsFile(data: data, origin: "mem")
        let info = try XCTUnwrap(file.info("ids"))
        XCTAssertEqual(info.dtype, .I64)
        XCTAssertEqual(info.byteRange.lowerBound, 8 + file.headerLength)  // I64 comes first
        XCTAssertEqual(data.subdata(in: info.byteRange), try file.rawBytes("ids"))
    }

    func testHeaderLayoutMatchesThePythonPackage() throws {
        var writer = SafeTensorsWriter(metadata: ["z": "1", "a": "2"])
        try writer.add("b", dtype: .F32, shape: [1], bytes: Data(count: 4))
        try writer.add("a", dtype: .F32, shape: [1], bytes: Data(count: 4))
        try writer.add("c", dtype: .I64, shape: [], bytes: Data(count: 8))
        try writer.add("d", dtype: .BOOL, shape: [2], bytes: Data([1, 0]))
        let data = writer.serialized()
        let length = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        XCTAssertEqual(length % 8, 0)
        let header = String(decoding: data[8..<(8 + length)], as: UTF8.self)
        XCTAssertEqual(header, #"{"__metadata__":{"a":"2","z":"1"},"c":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"#
            + #""a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]},"#
            + #""d":{"dtype":"BOOL","shape":[2],"data_offsets":[16,18]}}"# + "     ")
        XCTAssertEqual(data.count, 8 + length + 18)
    }

    func testEmptyWriter() throws {
        let data = SafeTensorsWriter().serialized()
        XCTAssertEqual(data, makeFile("{}      "))
        XCTAssertEqual(try SafeTensorsFile(data: data, origin: "empty").tensorNames, [])
    }

    func testWriterRejectsInvalidInput() throws {
        let origin = "<SafeTensorsWriter>"
        var writer = SafeTensorsWriter()
        XCTAssertNoThrow(try writer.add("x", dtype: .F32, shape: [1], bytes: Data(count: 4)))
        XCTAssertThrowsSafeTensorsError(.duplicateTensor(file: origin, tensor: "x"),
                                        try writer.add("x", dtype: .F32, shape: [1], bytes: Data(count: 4)))
        XCTAssertThrowsSafeTensorsError(.invalidTensorName(file: origin, tensor: "__metadata__"),
                                        try writer.add("__metadata__", dtype: .U8, shape: [], bytes: Data(count: 1)))
        XCTAssertThrowsSafeTensorsError(.negativeDimension(file: origin, tensor: "n", shape: [2, -1]),
                                        try writer.add("n", dtype: .F32, shape: [2, -1], bytes: Data()))
        XCTAssertThrowsSafeTensorsError(.shapeOverflow(file: origin, tensor: "o", shape: [Int.max, 2]),
                                        try writer.add("o", dtype: .U8, shape: [Int.max, 2], bytes: Data()))
        XCTAssertThrowsSafeTensorsError(.sizeMismatch(file: origin, tensor: "s", expectedBytes: 12, actualBytes: 8),
                                        try writer.add("s", dtype: .F32, shape: [3], bytes: Data(count: 8)))
        let values: [Float] = [1, 2]
        try values.withUnsafeBufferPointer { values in
            XCTAssertThrowsSafeTensorsError(.countMismatch(file: origin, tensor: "c", expected: 3, actual: 2),
                                            try writer.add("c", shape: [3], values: values, as: .F16))
            XCTAssertThrowsSafeTensorsError(.unsupportedConversion(file: origin, tensor: "i", dtype: .I32, target: "Float"),
                                            try writer.add("i", shape: [2], values: values, as: .I32))
        }
        XCTAssertEqual(writer.tensorNames, ["x"], "failed adds leave the writer unchanged")
    }

    func testDoubleAndOtherSourceTypes() throws {
        var writer = SafeTensorsWriter()
        let doubles: [Double] = [1 + 0x1p-11 + 0x1p-40, -3, 1e10]
        try doubles.withUnsafeBufferPointer { values in
            try writer.add("h", shape: [3], values: values, as: .F16)
            try writer.add("b", shape: [3], values: values, as: .BF16)
            try writer.add("f", shape: [3], values: values, as: .F32)
            try writer.add("d", shape: [3], values: values, as: .F64)
        }
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        let halves: [Float16] = [0.5, -1, 2048]
        try halves.withUnsafeBufferPointer { try writer.add("g", shape: [3], values: $0, as: .F16) }
        #endif
        let file = try SafeTensorsFile(data: writer.serialized(), origin: "mem")
        XCTAssertEqual(try file.rawBytes("h"), Data([UInt8](littleEndian: [UInt16(0x3C01), 0xC200, 0x7C00])))
        XCTAssertEqual(try file.floats("f"), [Float(doubles[0]), -3, 1e10])
        XCTAssertEqual(try file.doubles("d"), doubles)
        XCTAssertEqual(try file.floats("b")[1], -3)
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        XCTAssertEqual(try file.floats("g"), [0.5, -1, 2048])
        var out = [Float16](repeating: 0, count: 3)
        try out.withUnsafeMutableBufferPointer { try file.read("d", into: $0) }
        XCTAssertEqual(out.map(\.bitPattern), [0x3C01, 0xC200, 0x7C00])  // generic destination path
        #endif
    }

    func testReadIntoConvertsEveryDTypeForFloatAndDouble() throws {
        let writer = try sampleWriter()
        let file = try SafeTensorsFile(data: writer.serialized(), origin: "mem")
        for name in file.tensorNames {
            let info = try XCTUnwrap(file.info(name))
            var floats = [Float](repeating: .nan, count: info.elementCount)
            var doubles = [Double](repeating: .nan, count: info.elementCount)
            try floats.withUnsafeMutableBufferPointer { try file.read(name, into: $0) }
            try doubles.withUnsafeMutableBufferPointer { try file.read(name, into: $0) }
            XCTAssertEqual(floats, doubles.map { Float($0) }, name)
        }
    }

    func testAtomicWriteReplacesAnExistingFileAndLeavesNoTemporary() throws {
        let url = temporary.appendingPathComponent("model.safetensors")
        try Data(repeating: 0xAB, count: 10_000).write(to: url)
        let writer = try sampleWriter()
        try writer.write(to: url)
        XCTAssertEqual(try Data(contentsOf: url), writer.serialized())
        XCTAssertEqual(try contents(of: temporary), ["model.safetensors"])
        // Writing again over our own file works as well.
        try SafeTensorsWriter().write(to: url)
        XCTAssertEqual(try SafeTensorsFile(contentsOf: url).tensorNames, [])
        XCTAssertEqual(try contents(of: temporary), ["model.safetensors"])
    }

    func testFailedWriteReportsTheFileAndLeavesNothing() throws {
        let url = temporary.appendingPathComponent("missing-dir/model.safetensors")
        guard case .cannotWrite(url.path, _)? = caughtSafeTensorsError(try SafeTensorsWriter().write(to: url)) else {
            return XCTFail()
        }
        XCTAssertEqual(try contents(of: temporary), [])
    }
}
