import Foundation

/// Small helpers shared by the line-oriented loaders: reading a file, walking its lines with
/// 1-based numbers, and decoding UTF-8 with the line named on failure.
enum FileReading {
    /// Reads a whole file, mapping it when the system allows.
    static func read(_ path: String) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError.notFound(path: path)
        }
        if isDirectory.boolValue { throw DataError.cannotRead(path: path, reason: "it is a directory") }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw DataError.cannotRead(path: path, reason: "\(error.localizedDescription)")
        }
    }

    /// Calls `body(lineNumber, bytes)` for every line of `bytes`; lines end at `\n`, and a `\r`
    /// before it (CRLF files) is dropped. A final line without `\n` is included; an empty final
    /// line after the last `\n` is not.
    static func forEachLine(
        _ bytes: UnsafeRawBufferPointer, _ body: (Int, UnsafeRawBufferPointer) throws -> Void
    ) rethrows {
        var start = 0
        var line = 1
        let count = bytes.count
        while start < count {
            var end = start
            while end < count && bytes[end] != 0x0A { end += 1 }
            var contentEnd = end
            if contentEnd > start && bytes[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            try body(line, UnsafeRawBufferPointer(rebasing: bytes[start..<contentEnd]))
            line += 1
            start = end + 1
        }
    }

    /// Decodes UTF-8, throwing ``DataError/invalidUTF8(file:line:)`` for malformed bytes.
    static func decodeUTF8(_ bytes: UnsafeRawBufferPointer, file: String, line: Int) throws -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw DataError.invalidUTF8(file: file, line: line)
        }
        return s
    }

    /// Validates a whole buffer as UTF-8; on failure finds and reports the first bad line.
    static func validateUTF8(_ bytes: UnsafeRawBufferPointer, file: String) throws {
        if String(validating: bytes, as: UTF8.self) != nil { return }
        try forEachLine(bytes) { line, content in
            _ = try decodeUTF8(content, file: file, line: line)
        }
        throw DataError.invalidUTF8(file: file, line: 1)
    }

    /// True when every byte is ASCII whitespace.
    static func isBlank(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for b in bytes where !(b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A) { return false }
        return true
    }
}
