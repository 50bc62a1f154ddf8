import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A run's `metrics.jsonl`: one event per line, append-only, written through.
///
/// Policy: lines are collected for one receive batch (at most a few thousand
/// messages, a few milliseconds) and handed to the kernel with one `write(2)`; the
/// file is `fdatasync`ed at most every `syncInterval` seconds and when a run ends or
/// the collector stops. A collector that crashes or is killed therefore loses only
/// what it had not yet received (the page cache survives the process); a machine that
/// loses power loses at most the last `syncInterval` seconds. Syncing every line
/// would cap the collector at the disk's sync rate (hundreds per second).
///
/// On open, a last line without its newline (a write cut short by a crash) is
/// truncated away, so every line in the file is a whole event.
public final class RunLog {
    public let url: URL
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var unsynced = false
    private var lastSync: UInt64
    public private(set) var bytesWritten = 0
    /// Bytes cut off a torn last line when the file was opened.
    public let repairedBytes: Int

    public static let fileName = "metrics.jsonl"

    public init(directory: URL) throws {
        url = directory.appendingPathComponent(Self.fileName)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw TelemetryError.file(path: directory.path, reason: "cannot create the run folder (\(error.localizedDescription)); pass --run-dir to write elsewhere")
        }
        let handle = open(url.path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard handle >= 0 else {
            throw TelemetryError.file(path: url.path, reason: "cannot open for appending: \(String(cString: strerror(errno)))")
        }
        fd = handle
        repairedBytes = Self.truncateTornLine(fd)
        lastSync = DispatchTime.now().uptimeNanoseconds
        buffer.reserveCapacity(1 << 20)
    }

    deinit {
        try? flush()
        fdatasync(fd)
        Glibc.close(fd)
    }

    /// Queues one line (the newline is added).
    @inline(__always)
    public func append(_ line: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: line)
        buffer.append(0x0A)
    }

    public func append(_ line: [UInt8]) { line.withUnsafeBytes { append($0) } }

    public var hasPendingBytes: Bool { !buffer.isEmpty }

    /// Hands the queued lines to the kernel.
    public func flush() throws {
        guard !buffer.isEmpty else { return }
        var offset = 0
        let total = buffer.count
        try buffer.withUnsafeBytes { raw in
            while offset < total {
                let n = write(fd, raw.baseAddress! + offset, total - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw TelemetryError.file(path: url.path, reason: "write failed: \(String(cString: strerror(errno)))")
                }
                offset += n
            }
        }
        bytesWritten += total
        buffer.removeAll(keepingCapacity: true)
        unsynced = true
    }

    /// Syncs to disk when `interval` seconds passed since the last sync (or always, if 0).
    public func syncIfDue(interval: Double) {
        guard unsynced else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        guard interval <= 0 || Double(now - lastSync) / 1e9 >= interval else { return }
        fdatasync(fd)
        unsynced = false
        lastSync = now
    }

    /// Cuts a last line that has no newline; returns the bytes removed.
    static func truncateTornLine(_ fd: Int32) -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 0 else { return 0 }
        let size = Int(info.st_size)
        var end = size
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while end > 0 {
            let start = max(0, end - chunk.count)
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, end - start, off_t(start)) }
            guard n == end - start else { return 0 }
            if end == size && chunk[n - 1] == 0x0A { return 0 }
            if let k = chunk[0..<n].lastIndex(of: 0x0A) {
                let keep = start + k + 1
                ftruncate(fd, off_t(keep))
                return size - keep
            }
            end = start
        }
        ftruncate(fd, 0)
        return size
    }
}
