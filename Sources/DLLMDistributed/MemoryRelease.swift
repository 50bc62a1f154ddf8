import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Returns a region's physical pages to the kernel and leaves it reading as zeros
/// (`madvise(MADV_DONTNEED)` on the whole pages inside it, explicit zeroing at the
/// edges). This is how a rank holds only a shard: FSDP frees a block's gathered
/// parameters after use, ZeRO-2 frees a bucket's full gradients once reduced.
public enum MemoryRelease {
    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    public static func discard(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        let start = Int(bitPattern: pointer)
        let end = start + count * MemoryLayout<Float>.stride
        let firstPage = (start + pageSize - 1) / pageSize * pageSize
        let lastPage = end / pageSize * pageSize
        if lastPage > firstPage {
            memset(pointer, 0, firstPage - start)
            madvise(UnsafeMutableRawPointer(bitPattern: firstPage), lastPage - firstPage, MADV_DONTNEED)
            memset(UnsafeMutableRawPointer(bitPattern: lastPage)!, 0, end - lastPage)
        } else {
            memset(pointer, 0, end - start)
        }
    }

    /// This process's resident set size in bytes (`/proc/self/statm`).
    public static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * pageSize
    }

    /// This process's peak resident set size in bytes since it started or since the last
    /// `resetPeakResident()` (`VmHWM` in `/proc/self/status`); nil where there is none.
    public static func peakResidentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        else { return nil }
        return kilobytes * 1024
    }

    /// Resets the peak to the current resident set (Linux ≥ 4.0: `5` written to
    /// `/proc/self/clear_refs`); false where that is not possible.
    @discardableResult
    public static func resetPeakResident() -> Bool {
        let descriptor = open("/proc/self/clear_refs", O_WRONLY)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return write(descriptor, "5", 1) == 1
    }
}
