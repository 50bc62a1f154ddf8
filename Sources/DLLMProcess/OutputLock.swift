import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An advisory lock on a training run's output folder (`OUTPUT/.dllm-lock`, `flock`),
/// so two jobs never write the same checkpoints. The kernel releases it when the
/// holder exits, however it ends (kill -9 included): no stale lock is ever left.
/// The file names its holder (program, host, pid, since when) for the refusal message.
/// `flock` is honoured across machines on NFS (Linux maps it to POSIX byte-range locks
/// there) and on Lustre mounted with `flock`.
public final class OutputLock {
    public static let fileName = ".dllm-lock"
    public let url: URL
    private let fd: Int32

    /// Takes the lock or fails at once, naming the holder.
    public init(directory: URL, program: String) throws {
        url = directory.appendingPathComponent(Self.fileName)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw OutputLockError.cannotLock(path: url.path, reason: error.localizedDescription)
        }
        let handle = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard handle >= 0 else { throw OutputLockError.cannotLock(path: url.path, reason: String(cString: strerror(errno))) }
        guard flock(handle, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            let holder = Self.holder(handle)
            close(handle)
            if reason == EWOULDBLOCK { throw OutputLockError.busy(directory: directory.path, holder: holder) }
            throw OutputLockError.cannotLock(path: url.path, reason: String(cString: strerror(reason)))
        }
        fd = handle
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let since = ISO8601DateFormatter().string(from: Date())
        let line = Array("\(program) on host \(String(cString: host)), pid \(getpid()), since \(since)\n".utf8)
        ftruncate(fd, 0)
        _ = line.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    deinit {
        ftruncate(fd, 0)
        close(fd)  // closing the only descriptor releases the lock
    }

    private static func holder(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        let text = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
        return text.isEmpty ? "another process" : text
    }
}

public enum OutputLockError: Error, CustomStringConvertible, Equatable {
    /// Another job holds the folder.
    case busy(directory: String, holder: String)
    case cannotLock(path: String, reason: String)

    public var description: String {
        switch self {
        case let .busy(directory, holder):
            return "output_dir \(directory) is in use by \(holder); wait for that job to end, stop it, or choose another output_dir"
        case let .cannotLock(path, reason):
            return "cannot lock \(path): \(reason)"
        }
    }
}

/// Whether the process `pid` that started at `startTime` (field 22 of `/proc/PID/stat`,
/// clock ticks since boot) still runs: a recycled pid has another start time.
public enum ProcessIdentity {
    public static func startTime(of pid: pid_t) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the command name start at field 3 (state); starttime is field 22.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19 else { return nil }
        if fields[0] == "Z" { return nil }
        return UInt64(fields[19])
    }

    public static func isAlive(pid: pid_t, startTime: UInt64) -> Bool {
        Self.startTime(of: pid) == startTime
    }
}
