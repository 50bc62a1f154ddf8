import XCTest
import DLLMCheckpoint

/// Files written by the Python `safetensors` package (see Tests/Fixtures/generate_safetensors_fixtures.py).
final class PythonFixtureTests: XCTestCase {
    private struct ExpectedFile: Decodable {
        let metadata: [String: String]
        let order: [String]
        let size: Int
        let tensors: [String: ExpectedTensor]
    }

    private struct ExpectedTensor: Decodable {
        let dtype: String
        let shape: [Int]
        let bits: [String]?
        let values: [String]?
        let sourceBits: [String]?

        enum CodingKeys: String, CodingKey {
            case dtype, shape, bits, values
            case sourceBits = "source_f32_bits"
        }

        func bitPatterns() -> [UInt64] { (bits ?? []).map { UInt64($0.dropFirst(2), radix: 16)! } }
        func sourceFloats() -> [Float]? { sourceBits?.map { Float(bitPattern: UInt32($0.dropFirst(2), radix: 16)!) } }
        func integers() -> [Int64] { (values ?? []).map { Int64($0)! } }
    }

    private let fileNames = ["python_mixed.safetensors", "python_rounding.safetensors"]

    private func expectations() throws -> [String: ExpectedFile] {
        let data = try Data(contentsOf: Fixtures.directory.appendingPathComponent("python_fixtures.json"))
        return try JSONDecoder().decode([String: ExpectedFile].self, from: data)
    }

    /// Little-endian bytes of bit patterns of the given width.
    private func bytes(_ patterns: [UInt64], width: Int) -> Data {
        Data(patterns.flatMap { pattern in (0..<width).map { UInt8(truncatingIfNeeded: pattern >> (8 * $0)) } })
    }

    func testFixturesArePresent() throws {
        let expected = try expectations()
        XCTAssertEqual(Set(expected.keys), Set(fileNames))
        XCTAssertEqual(expected["python_mixed.safetensors"]?.tensors.count, 12)
    }

    func testReadsFilesWrittenByPython() throws {
        for (fileName, expected) in try expectations() {
            let url = Fixtures.directory.appendingPathComponent(fileName)
            let file = try SafeTensorsFile(contentsOf: url)
            XCTAssertEqual(try Data(contentsOf: url).count, expected.size)
            XCTAssertEqual(file.metadata, expected.metadata, fileName)
            XCTAssertEqual(file.tensorNames, expected.order, fileName)
            for (name, tensor) in expected.tensors {
                let info = try XCTUnwrap(file.info(name), name)
                let dtype = try XCTUnwrap(SafeTensorsDType(rawValue: tensor.dtype))
                XCTAssertEqual(info.dtype, dtype, name)
                XCTAssertEqual(info.shape, tensor.shape, name)
                XCTAssertEqual(info.elementCount, tensor.shape.reduce(1, *), name)
                if dtype.isFloatingPoint {
                    let patterns = tensor.bitPatterns()
                    XCTAssertEqual(try file.rawBytes(name), bytes(patterns, width: dtype.byteSize), name)
                    let floats = try file.floats(name), doubles = try file.doubles(name)
                    XCTAssertEqual(floats.count, patterns.count)
                    for (i, pattern) in patterns.enumerated() {
                        let exact: Double
                        switch dtype {
                        case .F64: exact = Double(bitPattern: pattern)
                        case .F32: exact = Double(Float(bitPattern: UInt32(pattern)))
                        case .BF16: exact = Double(Float(bitPattern: UInt32(pattern) << 16))
                        default: exact = Self.decodeF16(UInt16(pattern))
                        }
                        XCTAssertEqual(doubles[i].bitPattern, exact.bitPattern, "\(name)[\(i)]")
                        XCTAssertEqual(floats[i].bitPattern, Float(exact).bitPattern, "\(name)[\(i)]")
                    }
                } else {
                    XCTAssertEqual(try file.int64s(name), tensor.integers(), name)
                }
            }
        }
    }

    /// Reference F16 decoding by arithmetic (independent of the library's bit tricks).
    private static func decodeF16(_ bits: UInt16) -> Double {
        let sign: Double = bits & 0x8000 == 0 ? 1 : -1
        let exponent = Int(bits >> 10 & 0x1F), mantissa = Double(bits & 0x3FF)
        switch exponent {
        case 0: return sign * mantissa * 0x1p-24
        case 31: return mantissa == 0 ? sign * .infinity : .nan
        default: return sign * (1 + mantissa / 1024) * Double(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }

    func testMixedFixtureKnownValues() throws {
        let file = try SafeTensorsFile(contentsOf: Fixtures.directory.appendingPathComponent("python_mixed.safetensors"))
        XCTAssertEqual(try file.floats("scalar"), [3.5])
        XCTAssertEqual(file.info("scalar")?.shape, [])
        XCTAssertEqual(file.info("empty")?.shape, [0, 3])
        XCTAssertEqual(try file.floats("empty"), [])
        XCTAssertEqual(try file.floats("embed.weight"), (0..<12).map { Float($0) * 0.25 - 1.5 })
        XCTAssertEqual(try file.floats("norm.half")[1...2], [-2.5, 65504])
        XCTAssertEqual(try file.floats("proj.bf16")[0...1], [1, -3.140625])
        XCTAssertEqual(try file.int64s("ids"), [0, -1, 1 << 53 + 1, -(1 << 62)])
        XCTAssertEqual(try file.int64s("bytes"), [0, 255, 17])
        XCTAssertEqual(try file.int64s("mask"), [1, 0, 1])
    }

    /// Our writer reproduces the Python package's files byte for byte (F16/BF16 tensors are
    /// rounded by us from the same float32 sources torch rounded).
    func testWriterReproducesPythonBytesExactly() throws {
        for (fileName, expected) in try expectations() {
            var writer = SafeTensorsWriter(metadata: expected.metadata)
            for name in expected.tensors.keys.sorted().reversed() {  // insertion order must not matter
                let tensor = expected.tensors[name]!
                let dtype = try XCTUnwrap(SafeTensorsDType(rawValue: tensor.dtype))
                if let sources = tensor.sourceFloats() {
                    try sources.withUnsafeBufferPointer { try writer.add(name, shape: tensor.shape, values: $0, as: dtype) }
                } else if dtype == .F32 {
                    let values = tensor.bitPatterns().map { Float(bitPattern: UInt32($0)) }
                    try values.withUnsafeBufferPointer { try writer.add(name, shape: tensor.shape, values: $0, as: .F32) }
                } else if dtype == .F64 {
                    let values = tensor.bitPatterns().map { Double(bitPattern: $0) }
                    try values.withUnsafeBufferPointer { try writer.add(name, shape: tensor.shape, values: $0, as: .F64) }
                } else {
                    let patterns = tensor.integers().map { UInt64(bitPattern: $0) }
                    try writer.add(name, dtype: dtype, shape: tensor.shape, bytes: bytes(patterns, width: dtype.byteSize))
                }
            }
            let python = try Data(contentsOf: Fixtures.directory.appendingPathComponent(fileName))
            let ours = writer.serialized()
            XCTAssertEqual(ours, python, "\(fileName): " + String(decoding: ours.prefix(300), as: UTF8.self))
        }
    }

    /// Element-wise: our F16/BF16 rounding equals torch's on ties, subnormals, overflow, inf and NaN.
    func testRoundingMatchesTorch() throws {
        let expected = try XCTUnwrap(try expectations()["python_rounding.safetensors"])
        for (name, convert) in [("rounded.f16", HalfPrecision.f16(from:) as (Float) -> UInt16),
                                ("rounded.bf16", HalfPrecision.bf16(from:) as (Float) -> UInt16)] {
            let tensor = try XCTUnwrap(expected.tensors[name])
            let sources = try XCTUnwrap(tensor.sourceFloats())
            let torchBits = tensor.bitPatterns()
            XCTAssertEqual(sources.count, torchBits.count)
            XCTAssertGreaterThan(sources.count, 30)
            for (source, bits) in zip(sources, torchBits) {
                XCTAssertEqual(UInt64(convert(source)), bits, "\(name): \(source) (0x\(String(source.bitPattern, radix: 16)))")
            }
        }
    }
}
