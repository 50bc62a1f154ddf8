#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only `mmap(2)` of a whole file, unmapped on deinit. The file is never read
/// into memory; pages come in as they are touched.
final class MappedFile {
    let path: String
    /// The file's size from `fstat` at open time.
    let size: Int
    /// The mapping (`count == size`); an empty buffer for an empty file (nothing mapped).
    let bytes: UnsafeRawBufferPointer

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw GGUFError.cannotRead(file: path, reason: Self.errnoText()) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw GGUFError.cannotRead(file: path, reason: Self.errnoText()) }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw GGUFError.cannotRead(file: path, reason: "not a regular file")
        }
        size = Int(status.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw GGUFError.cannotRead(file: path, reason: "mmap failed: " + Self.errnoText())
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
