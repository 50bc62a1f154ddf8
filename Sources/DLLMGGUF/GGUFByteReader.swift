/// A little-endian cursor over a GGUF file's bytes. Every read checks the remaining
/// length first and throws ``GGUFError/truncated`` naming what was being read and where.
struct GGUFByteReader {
    let file: String
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int = 0

    init(file: String, bytes: UnsafeRawBufferPointer) {
        self.file = file
        self.bytes = bytes
    }

    var remaining: Int { bytes.count - offset }

    /// Throws unless `count` more bytes exist.
    func require(_ count: UInt64, _ what: @autoclosure () -> String) throws {
        guard count <= UInt64(remaining) else {
            throw GGUFError.truncated(file: file, what: what(), offset: offset, needed: count, available: remaining)
        }
    }

    mutating func scalar<T: FixedWidthInteger>(_ type: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try require(UInt64(MemoryLayout<T>.size), what())
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    mutating func u8(_ what: @autoclosure () -> String) throws -> UInt8 { try scalar(UInt8.self, what()) }
    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 { try scalar(UInt32.self, what()) }
    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 { try scalar(UInt64.self, what()) }

    /// A `gguf_string_t`: a UInt64 byte length, then that many UTF-8 bytes (no terminator).
    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let start = offset
        let length = try u64("length of " + what())
        guard length <= UInt64(remaining) else {
            throw GGUFError.stringTooLong(file: file, what: what(), length: length, offset: start, available: remaining)
        }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + Int(length)])
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw GGUFError.invalidUTF8(file: file, what: what(), offset: start)
        }
        offset += Int(length)
        return text
    }

    /// Moves to `position` (≤ the file size; callers check).
    mutating func seek(to position: Int) {
        precondition(position >= 0 && position <= bytes.count, "seek past the end of the mapping")
        offset = position
    }
}
