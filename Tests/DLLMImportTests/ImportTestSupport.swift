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

/// The real SmolLM2 GGUF (located by `SmolLM2Asset`), opened once per test process.
enum SmolLM2 {
    // nonisolated(unsafe): a per-process cache filled and read only by XCTest's one test thread.
    nonisolated(unsafe) private static var shared: GGUFFile?
    static func file() throws -> GGUFFile {
        if let shared { return shared }
        let opened = try GGUFFile(path: try SmolLM2Asset.path())
        shared = opened
        return opened
    }
}
