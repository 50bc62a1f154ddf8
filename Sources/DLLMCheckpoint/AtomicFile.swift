import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Crash-safe file replacement: write `<name>.tmp-<pid>` next to the target, fsync it,
/// rename it over the target, then fsync the directory. Readers see either the old file or
/// the complete new one; a failed write leaves the target untouched and no temporary behind.
public enum AtomicFile {
    /// An open temporary file that accepts bytes.
    struct Sink {
        fileprivate let descriptor: Int32
        fileprivate let path: String

        /// Appends `bytes`, retrying partial writes and interrupted calls.
        func write(_ bytes: UnsafeRawBufferPointer) throws {
            guard var next = bytes.baseAddress else { return }
            var remaining = bytes.count
            while remaining > 0 {
                let written = systemWrite(descriptor, next, min(remaining, 1 << 30))
                if written < 0 {
                    if errno == EINTR { continue }
                    throw SafeTensorsError.cannotWrite(file: path, reason: lastError())
                }
                next += written
                remaining -= written
            }
        }

        func write(_ data: Data) throws {
            try data.withUnsafeBytes { try write($0) }
        }
    }

    /// Replaces the file at `url` with the bytes `body` writes into the sink.
    static func write(to url: URL, _ body: (Sink) throws -> Void) throws {
        let target = url.path
        let temporary = target + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw SafeTensorsError.cannotWrite(file: target, reason: lastError()) }
        var isOpen = true
        do {
            try body(Sink(descriptor: descriptor, path: target))
            guard fsync(descriptor) == 0 else { throw SafeTensorsError.cannotWrite(file: target, reason: "fsync: " + lastError()) }
            isOpen = false
            guard close(descriptor) == 0 else {
                throw SafeTensorsError.cannotWrite(file: target, reason: "close: " + lastError())
            }
        } catch {
            if isOpen { close(descriptor) }
            unlink(temporary)
            throw error
        }
        guard rename(temporary, target) == 0 else {
            let reason = "rename: " + lastError()
            unlink(temporary)
            throw SafeTensorsError.cannotWrite(file: target, reason: reason)
        }
        try syncDirectory(of: url)
    }

    /// Replaces the file at `url` with `data`, crash-safely.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { try $0.write(data) }
    }

    /// Renames a directory over a name that must not exist yet, then makes it durable:
    /// the way a checkpoint folder built under a temporary name becomes visible whole.
    public static func commitDirectory(_ temporary: URL, as final: URL) throws {
        guard rename(temporary.path, final.path) == 0 else {
            throw SafeTensorsError.cannotWrite(file: final.path, reason: "rename: " + lastError())
        }
        try syncDirectory(of: final)
    }

    /// Makes a rename in the directory of `url` durable.
    public static func syncDirectory(of url: URL) throws {
        let directory = url.deletingLastPathComponent().path
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw SafeTensorsError.cannotWrite(file: url.path, reason: "opening the directory to fsync it: " + lastError())
        }
        defer { close(descriptor) }
        // Some file systems cannot sync directories (EINVAL); the rename itself has happened.
        if fsync(descriptor) != 0, errno != EINVAL {
            throw SafeTensorsError.cannotWrite(file: url.path, reason: "fsync of the directory: " + lastError())
        }
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}

/// `write(2)` under a name that does not clash with `Sink.write`.
@inline(__always)
private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}
