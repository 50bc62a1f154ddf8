import DLLMData
import DLLMJSON
import Foundation

/// lm-eval's `--use_cache PATH` (its `CachingLM`): the answers of scored requests kept on disk per
/// rank, so an evaluation stopped or killed part-way resumes without scoring them again.
///
/// lm-eval keeps `PATH_rank{N}.db` (sqlite, keyed by the SHA-256 of the request's method and
/// arguments); this keeps `PATH_rank{N}.jsonl`, one JSON object per answer, appended and written
/// through (no user-space buffer) after every unit of work, so a killed run keeps everything up
/// to its last unit:
///
///     {"key":"<64 hex>","bits":"<16 hex>","loglikelihood":-12.5,"is_greedy":false,"truncated":false}
///
/// `key` is the SHA-256 of ``key(_:_:)``'s text (model identity, scoring settings, request type,
/// token ids); `bits` is the log-likelihood's IEEE bit pattern, which is what is read back (the
/// decimal is for people). A last line cut short by a crash is skipped with a warning and cut off
/// the file before anything is appended; a bad line elsewhere is an error naming it.
public final class ResponseCache {
    public let path: String
    private var entries: [String: LoglikelihoodResult] = [:]
    private let handle: FileHandle
    /// What was wrong with the file on opening (a cut last line), for the caller to log.
    public private(set) var warnings: [String] = []
    /// Answers read from the file when it was opened.
    public var count: Int { entries.count }

    /// `prefix_rank{rank}.jsonl`, lm-eval's per-rank naming with this format's extension.
    public static func path(prefix: String, rank: Int) -> String { "\(prefix)_rank\(rank).jsonl" }

    /// SHA-256 (hex) of a request's identity: `scope` (model, scoring settings, request type) and
    /// the request's token ids (and its address when `address` is given: the Monte Carlo draws depend on it).
    public static func key(_ scope: String, _ request: EncodedRequest, address: RequestAddress? = nil) -> String {
        var text = scope + "\n" + request.context.map(String.init).joined(separator: " ") + "\n"
            + request.continuation.map(String.init).joined(separator: " ")
        if let address { text += "\n\(address.task)\n\(address.document)\n\(address.request)" }
        return SHA256.hexDigest(of: Array(text.utf8))
    }

    /// Opens (creating it if absent) the cache file of `rank` under `prefix` and reads its answers.
    public init(prefix: String, rank: Int) throws {
        path = Self.path(prefix: prefix, rank: rank)
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty && !FileManager.default.fileExists(atPath: folder) {
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw EvalError.cannotWrite(path: folder, reason: error.localizedDescription)
            }
        }
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forUpdatingAtPath: path) else {
            throw EvalError.cannotWrite(path: path, reason: "cannot open the cache for reading and appending")
        }
        self.handle = handle
        let data = try handle.readToEnd() ?? Data()
        let bytes = [UInt8](data)
        var start = 0, line = 1, kept = 0, needsNewline = false
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n"))
            let body = bytes[start..<(end ?? bytes.count)]
            if let end {
                if !body.isEmpty { try read(body, line: line) }
                start = end + 1
                kept = start
            } else {
                // No newline: the write of this line was cut (a killed run). Skip it and cut it off.
                if (try? read(body, line: line)) == nil {
                    warnings.append("\(path): line \(line) is incomplete (a stopped run); skipped")
                } else {
                    kept = bytes.count
                    needsNewline = true
                }
                start = bytes.count
            }
            line += 1
        }
        try handle.truncate(atOffset: UInt64(kept))
        try handle.seekToEnd()
        if needsNewline { try handle.write(contentsOf: Data([UInt8(ascii: "\n")])) }
    }

    deinit { try? handle.close() }

    private func read(_ body: ArraySlice<UInt8>, line: Int) throws {
        func bad(_ reason: String) -> EvalError { .badCacheLine(path: path, line: line, detail: reason) }
        let value: JSONValue
        do { value = try JSONParser.parse(body) } catch { throw bad("\(error)") }
        guard let key = value["key"]?.stringValue, key.utf8.count == 64 else { throw bad("no 64-digit 'key'") }
        guard let bitsText = value["bits"]?.stringValue, let bits = UInt64(bitsText, radix: 16) else { throw bad("no hexadecimal 'bits'") }
        guard let greedy = value["is_greedy"]?.boolValue, let truncated = value["truncated"]?.boolValue else {
            throw bad("no boolean 'is_greedy'/'truncated'")
        }
        entries[key] = LoglikelihoodResult(logLikelihood: Double(bitPattern: bits), isGreedy: greedy, truncated: truncated)
    }

    public func lookup(_ key: String) -> LoglikelihoodResult? { entries[key] }

    /// Appends `answers` (one line each) and hands them to the kernel before returning.
    public func append(_ answers: [(key: String, result: LoglikelihoodResult)]) throws {
        guard !answers.isEmpty else { return }
        var writer = JSONObjectWriter()
        var out: [UInt8] = []
        for (key, result) in answers {
            writer.begin()
            writer.field("key", key)
            let bits = String(result.logLikelihood.bitPattern, radix: 16)
            writer.field("bits", String(repeating: "0", count: 16 - bits.count) + bits)
            writer.field("loglikelihood", result.logLikelihood)
            writer.field("is_greedy", result.isGreedy)
            writer.field("truncated", result.truncated)
            writer.end()
            out += writer.bytes
            out.append(UInt8(ascii: "\n"))
            entries[key] = result
        }
        do { try handle.write(contentsOf: Data(out)) } catch { throw EvalError.cannotWrite(path: path, reason: error.localizedDescription) }
    }
}
