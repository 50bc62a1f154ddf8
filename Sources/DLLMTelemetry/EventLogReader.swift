import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a `metrics.jsonl`, all of it or (called again) only what was appended since,
/// validating each line as the collector validates a message. Lines that do not
/// validate are counted and skipped; an unfinished last line waits for its newline.
public struct EventLogReader {
    public let url: URL
    private var offset = 0
    private var partial: [UInt8] = []
    private var validator = EventValidator(maxMessageBytes: Int.max)
    /// Lines that did not validate.
    public private(set) var skippedLines = 0

    public init(url: URL) { self.url = url }

    /// The log inside a run folder, or the file itself.
    public init(runDirectoryOrFile path: String) {
        var isDirectory: ObjCBool = false
        let url = URL(fileURLWithPath: path)
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            self.init(url: url.appendingPathComponent(RunLog.fileName))
        } else {
            self.init(url: url)
        }
    }

    /// Calls `body` for each complete line appended since the last call; returns how many.
    @discardableResult
    public mutating func readNew(_ body: (ReceivedEvent, UnsafeRawBufferPointer) -> Void) throws -> Int {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw TelemetryError.file(path: url.path, reason: "cannot read: \(String(cString: strerror(errno))) (a run folder holds metrics.jsonl once its collector wrote to it)")
        }
        defer { close(fd) }
        var chunk = [UInt8](repeating: 0, count: 4 << 20)
        var count = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            guard n > 0 else { break }
            offset += n
            var lineStart = 0
            for k in 0..<n where chunk[k] == 0x0A {
                if partial.isEmpty {
                    chunk.withUnsafeBytes { handle(UnsafeRawBufferPointer(rebasing: $0[lineStart..<k]), body, &count) }
                } else {
                    partial.append(contentsOf: chunk[lineStart..<k])
                    let line = partial
                    partial.removeAll()
                    line.withUnsafeBytes { handle($0, body, &count) }
                }
                lineStart = k + 1
            }
            partial.append(contentsOf: chunk[lineStart..<n])
        }
        return count
    }

    private mutating func handle(_ line: UnsafeRawBufferPointer, _ body: (ReceivedEvent, UnsafeRawBufferPointer) -> Void,
                                 _ count: inout Int) {
        guard !line.isEmpty else { return }
        switch validator.validate(line) {
        case .success(let accepted):
            body(accepted.event, line)
            count += 1
        case .failure:
            skippedLines += 1
        }
    }

    /// Every event in the file at `path` (a run folder or a metrics.jsonl).
    public static func readAll(_ path: String) throws -> [ReceivedEvent] {
        var reader = EventLogReader(runDirectoryOrFile: path)
        var events: [ReceivedEvent] = []
        try reader.readNew { event, _ in events.append(event) }
        return events
    }
}
