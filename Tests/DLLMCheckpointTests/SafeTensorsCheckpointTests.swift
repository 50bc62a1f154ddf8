import XCTest
@testable import DLLMCheckpoint

final class SafeTensorsCheckpointTests: TemporaryDirectoryTestCase {
    /// Five tensors of 40, 24, 64, 8 and 200 bytes as F32.
    private let tensors: [(name: String, shape: [Int], values: [Float])] = [
        ("embed", [2, 5], (0..<10).map { Float($0) / 3 }),
        ("layer.0.w", [6], [1, -1, 0.5, -0.5, 1e-3, 1e3]),
        ("layer.0.b", [4, 4], (0..<16).map { Float($0 * $0) }),
        ("scale", [2], [0.1, 0.2]),
        ("head", [50], (0..<50).map { -Float($0) }),
    ]

    private func write(to directory: URL, dtype: SafeTensorsDType = .F32, maxShardBytes: Int?) throws {
        let arrays = tensors.map(\.values)
        let buffers = arrays.map { array -> UnsafeMutableBufferPointer<Float> in
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: array.count)
            _ = buffer.initialize(from: array)
            return buffer
        }
        defer { buffers.forEach { $0.deallocate() } }
        let list = zip(tensors, buffers).map { (name: $0.name, shape: $0.shape, values: UnsafeBufferPointer($1)) }
        try SafeTensorsCheckpoint.write(list, dtype: dtype, to: directory, maxShardBytes: maxShardBytes)
    }

    private func assertReadsBack(_ checkpoint: SafeTensorsCheckpoint, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(Set(checkpoint.tensorNames), Set(tensors.map(\.name)), file: file, line: line)
        for tensor in tensors {
            var out = [Float](repeating: .nan, count: tensor.values.count)
            try out.withUnsafeMutableBufferPointer { try checkpoint.read(tensor.name, into: $0) }
            XCTAssertEqual(out, tensor.values, tensor.name, file: file, line: line)
            XCTAssertEqual(checkpoint.info(tensor.name)?.shape, tensor.shape, file: file, line: line)
        }
    }

    func testShardedWriteAndRead() throws {
        let directory = temporary.appendingPathComponent("sharded")
        try write(to: directory, maxShardBytes: 100)
        // 40+24 | 64+8 | 200 (oversized, alone)
        XCTAssertEqual(try contents(of: directory), [
            "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
            "model-00003-of-00003.safetensors", "model.safetensors.index.json",
        ])
        let indexData = try Data(contentsOf: directory.appendingPathComponent("model.safetensors.index.json"))
        let index = try XCTUnwrap(JSONSerialization.jsonObject(with: indexData) as? [String: Any])
        XCTAssertEqual((index["metadata"] as? [String: Any])?["total_size"] as? Int, 336)
        XCTAssertEqual(index["weight_map"] as? [String: String], [
            "embed": "model-00001-of-00003.safetensors", "layer.0.w": "model-00001-of-00003.safetensors",
            "layer.0.b": "model-00002-of-00003.safetensors", "scale": "model-00002-of-00003.safetensors",
            "head": "model-00003-of-00003.safetensors",
        ])
        XCTAssertTrue(String(decoding: indexData, as: UTF8.self).hasPrefix("{\n  \"metadata\": {\n    \"total_size\": 336\n  },"))

        let checkpoint = try SafeTensorsCheckpoint(directory: directory)
        try assertReadsBack(checkpoint)
        XCTAssertEqual(checkpoint.tensorNames, ["embed", "layer.0.w", "layer.0.b", "scale", "head"])
        XCTAssertEqual(checkpoint.file(containing: "scale")?.metadata, ["format": "pt"])
        XCTAssertEqual(checkpoint.files.count, 3)
    }

    func testSingleFileWithoutLimitOrWhenEverythingFits() throws {
        for (subdirectory, limit) in [("nolimit", nil), ("fits", 10_000)] as [(String, Int?)] {
            let directory = temporary.appendingPathComponent(subdirectory)
            try write(to: directory, maxShardBytes: limit)
            XCTAssertEqual(try contents(of: directory), ["model.safetensors"])
            try assertReadsBack(try SafeTensorsCheckpoint(directory: directory))
        }
    }

    func testHalfPrecisionCheckpoint() throws {
        let directory = temporary.appendingPathComponent("bf16")
        try write(to: directory, dtype: .BF16, maxShardBytes: 50)
        let checkpoint = try SafeTensorsCheckpoint(directory: directory)
        XCTAssertEqual(checkpoint.info("embed")?.dtype, .BF16)
        for tensor in tensors {
            let expected = tensor.values.map { HalfPrecision.float(fromBF16: HalfPrecision.bf16(from: $0)) }
            XCTAssertEqual(try checkpoint.floats(tensor.name), expected)
        }
    }

    func testMissingShardIsReported() throws {
        let directory = temporary.appendingPathComponent("sharded")
        try write(to: directory, maxShardBytes: 100)
        try FileManager.default.removeItem(at: directory.appendingPathComponent("model-00002-of-00003.safetensors"))
        let index = directory.appendingPathComponent("model.safetensors.index.json").path
        XCTAssertThrowsSafeTensorsError(
            .missingShard(file: index, shard: "model-00002-of-00003.safetensors", tensor: "layer.0.b"),
            try SafeTensorsCheckpoint(directory: directory))
    }

    func testShardLackingATensorIsReported() throws {
        let directory = temporary.appendingPathComponent("sharded")
        try write(to: directory, maxShardBytes: 100)
        let indexURL = directory.appendingPathComponent("model.safetensors.index.json")
        let text = try String(contentsOf: indexURL, encoding: .utf8)
            .replacingOccurrences(of: #""head": "model-00003"#, with: #""head": "model-00001"#)
        try text.write(to: indexURL, atomically: true, encoding: .utf8)
        XCTAssertThrowsSafeTensorsError(
            .shardLacksTensor(file: indexURL.path, shard: "model-00001-of-00003.safetensors", tensor: "head"),
            try SafeTensorsCheckpoint(directory: directory))
    }

    func testInvalidIndexFiles() throws {
        let indexURL = temporary.appendingPathComponent("model.safetensors.index.json")
        for text in ["{", "[]", #"{"metadata":{}}"#, #"{"weight_map":[]}"#, #"{"weight_map":{"a":1}}"#,
                     #"{"weight_map":{"a":"../model.safetensors"}}"#, #"{"weight_map":{"a":"x","a":"y"}}"#] {
            try text.write(to: indexURL, atomically: true, encoding: .utf8)
            guard case .invalidIndex(indexURL.path, _)? = caughtSafeTensorsError(try SafeTensorsCheckpoint(directory: temporary)) else {
                XCTFail("expected invalidIndex for \(text)")
                continue
            }
        }
    }

    func testEmptyDirectoryHasNoWeights() {
        XCTAssertThrowsSafeTensorsError(.noWeights(directory: temporary.path), try SafeTensorsCheckpoint(directory: temporary))
    }

    func testMissingTensorInCheckpoint() throws {
        try write(to: temporary, maxShardBytes: nil)
        let checkpoint = try SafeTensorsCheckpoint(directory: temporary)
        XCTAssertNil(checkpoint.info("nope"))
        var out = [Float](repeating: 0, count: 1)
        XCTAssertThrowsSafeTensorsError(.tensorNotFound(file: temporary.path, tensor: "nope"),
                                        try out.withUnsafeMutableBufferPointer { try checkpoint.read("nope", into: $0) })
        XCTAssertThrowsSafeTensorsError(.countMismatch(file: temporary.appendingPathComponent("model.safetensors").path,
                                                       tensor: "scale", expected: 2, actual: 1),
                                        try out.withUnsafeMutableBufferPointer { try checkpoint.read("scale", into: $0) })
    }

    func testRewritingSwitchesLayoutCleanly() throws {
        try write(to: temporary, maxShardBytes: 100)
        try write(to: temporary, maxShardBytes: nil)
        XCTAssertFalse(try contents(of: temporary).contains("model.safetensors.index.json"))
        try write(to: temporary, maxShardBytes: 100)
        XCTAssertFalse(try contents(of: temporary).contains("model.safetensors"))
        try assertReadsBack(try SafeTensorsCheckpoint(directory: temporary))
        XCTAssertFalse(try contents(of: temporary).contains { $0.contains(".tmp-") })
    }

    func testWriteValidatesBeforeWritingAnything() throws {
        let directory = temporary.appendingPathComponent("never")
        let values: [Float] = [1, 2, 3]
        try values.withUnsafeBufferPointer { buffer in
            XCTAssertThrowsSafeTensorsError(
                .countMismatch(file: directory.path, tensor: "b", expected: 4, actual: 3),
                try SafeTensorsCheckpoint.write([("a", [3], buffer), ("b", [4], buffer)], dtype: .F32, to: directory))
            XCTAssertThrowsSafeTensorsError(
                .duplicateTensor(file: directory.path, tensor: "a"),
                try SafeTensorsCheckpoint.write([("a", [3], buffer), ("a", [3], buffer)], dtype: .F32, to: directory))
            XCTAssertThrowsSafeTensorsError(
                .unsupportedConversion(file: directory.path, tensor: "a", dtype: .I32, target: "Float"),
                try SafeTensorsCheckpoint.write([("a", [3], buffer)], dtype: .I32, to: directory))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.path))
    }

    func testShardPlanning() {
        XCTAssertEqual(SafeTensorsCheckpoint.planShards(sizes: [], maxShardBytes: 10), [0..<0])
        XCTAssertEqual(SafeTensorsCheckpoint.planShards(sizes: [4, 4, 4], maxShardBytes: nil), [0..<3])
        XCTAssertEqual(SafeTensorsCheckpoint.planShards(sizes: [4, 4, 4], maxShardBytes: 8), [0..<2, 2..<3])
        XCTAssertEqual(SafeTensorsCheckpoint.planShards(sizes: [4, 20, 4, 0], maxShardBytes: 8), [0..<1, 1..<2, 2..<4])
        XCTAssertEqual(SafeTensorsCheckpoint.shardFileName(2, of: 12), "model-00002-of-00012.safetensors")
    }
}
