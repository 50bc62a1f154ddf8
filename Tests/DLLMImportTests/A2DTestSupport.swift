import DLLMCheckpoint
import DLLMImport
import Foundation
import XCTest

/// The committed A2D fixtures (Fixtures/generate_a2d_fixtures.py): the tiny llama source
/// folder and what transformers made of its conversion.
enum A2DFixtures {
    /// The tiny llama (320 tokens, no spare row, untied head).
    static let source = folder("llama")

    /// `a2d-tiny-llama` or `a2d-tiny-qwen2` (384 rows for the same 320 tokens, tied head).
    static func folder(_ base: String) -> URL { ImportFixtures.directory.appendingPathComponent("a2d-tiny-\(base)") }

    static func reference(_ base: String = "llama") throws -> [String: Any] {
        let data = try Data(contentsOf: ImportFixtures.directory.appendingPathComponent("a2d_tiny_\(base)_reference.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// A list of float32 bit patterns (hex) from the reference.
    static func floats(_ reference: [String: Any], _ key: String) throws -> [Float] {
        let hex = try XCTUnwrap(reference[key] as? [String], key)
        return try hex.map { Float(bitPattern: try XCTUnwrap(UInt32($0, radix: 16))) }
    }

    /// A fresh scratch folder, removed when the test ends.
    static func scratch(_ test: XCTestCase, _ name: String = "a2d") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("dllm-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// A copy of the source folder to edit.
    static func sourceCopy(_ test: XCTestCase) throws -> URL {
        let copy = try scratch(test, "a2d-source").appendingPathComponent("model")
        try FileManager.default.copyItem(at: source, to: copy)
        return copy
    }

    static func json(_ url: URL) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any], url.path)
    }

    static func writeJSON(_ object: Any, to url: URL) throws {
        try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]).write(to: url)
    }
}

extension SafeTensorsCheckpoint {
    /// A tensor's values as float32.
    func readFloats(_ name: String) throws -> [Float] {
        let info = try XCTUnwrap(self.info(name), name)
        var values = [Float](repeating: 0, count: info.shape.reduce(1, *))
        try values.withUnsafeMutableBufferPointer { try read(name, into: $0) }
        return values
    }
}
