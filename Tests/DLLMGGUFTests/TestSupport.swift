import Foundation
import XCTest
@testable import DLLMGGUF

/// Committed fixtures (written by Fixtures/generate_gguf_fixtures.py).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}

/// Builds GGUF bytes field by field, remembering where each field starts, so the
/// malformed-file tests can corrupt one field and predict the offset in the error.
struct GGUFBytes {
    private(set) var bytes: [UInt8] = []
    var count: Int { bytes.count }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func string(_ s: String) { u64(UInt64(s.utf8.count)); bytes.append(contentsOf: s.utf8) }
    mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }

    /// Magic, version and the two counts.
    mutating func header(version: UInt32 = 3, tensors: UInt64, entries: UInt64) {
        raw(Array("GGUF".utf8)); u32(version); u64(tensors); u64(entries)
    }

    /// A string-valued metadata entry.
    mutating func stringEntry(_ key: String, _ value: String) { string(key); u32(8); string(value) }
    /// A UINT32 metadata entry.
    mutating func uint32Entry(_ key: String, _ value: UInt32) { string(key); u32(4); u32(value) }

    /// A tensor info record.
    mutating func tensorInfo(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64) {
        string(name); u32(UInt32(dims.count)); for d in dims { u64(d) }; u32(type); u64(offset)
    }

    /// Zero bytes up to the next multiple of `alignment`.
    mutating func pad(to alignment: Int = 32) { while bytes.count % alignment != 0 { bytes.append(0) } }

    mutating func truncate(to length: Int) { bytes.removeSubrange(length...) }
}

/// A fresh directory per test, removed afterwards.
class GGUFTestCase: XCTestCase {
    private(set) var temporary: URL!

    override func setUpWithError() throws {
        temporary = FileManager.default.temporaryDirectory
            .appendingPathComponent("dllm-gguf-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let temporary { try? FileManager.default.removeItem(at: temporary) }
    }

    /// Writes `bytes` to a file in the temporary directory and returns its path.
    func write(_ bytes: GGUFBytes, name: String = "test.gguf") throws -> String {
        let url = temporary.appendingPathComponent(name)
        try Data(bytes.bytes).write(to: url)
        return url.path
    }

    /// Opens `bytes` as a GGUF file, expecting it to fail, and returns the error.
    func openError(_ bytes: GGUFBytes, file: StaticString = #filePath, line: UInt = #line) throws -> GGUFError {
        let path = try write(bytes)
        do {
            _ = try GGUFFile(path: path)
        } catch let error as GGUFError {
            XCTAssertEqual(error.fileForTest, path, "the error names another file", file: file, line: line)
            return error
        }
        XCTFail("the malformed file opened without error", file: file, line: line)
        throw OpenedWithoutError()
    }
}

/// Thrown after the failure is recorded when a malformed file opened: the calling test stops there.
struct OpenedWithoutError: Error {}
