import Foundation

/// How a plain-text file is cut into rows: the `sample_by` option of the `text` builder of
/// Hugging Face `datasets`.
public enum TextSampling: String, Codable, Sendable, CaseIterable {
    /// One row per line (the `datasets` default). Line breaks are not kept.
    case line
    /// One row per paragraph: runs of non-blank lines separated by one or more blank lines,
    /// joined with `\n`.
    case paragraph
    /// One row per file, the text unchanged.
    case document
}

/// Reads plain text into rows with a single `text` field, following the `text` builder of
/// Hugging Face `datasets` (`sample_by="line"` by default).
///
/// Difference from `datasets`, on purpose: rows whose text is empty (blank lines in `line` mode,
/// whitespace-only files in `document` mode) are skipped and counted in
/// ``Dataset/skippedEmptyRows`` instead of becoming empty rows, since an empty document adds
/// nothing but a stray EOS to pretraining data. Lines end at `\n` (a preceding `\r` is dropped);
/// Python's other `splitlines` separators (`\x0b`, `\x1c`, U+2028, …) are kept as text.
public enum TextLoader {
    public static let field = "text"

    public static func load(path: String, sampling: TextSampling = .line) throws -> Dataset {
        let data = try FileReading.read(path)
        return try data.withUnsafeBytes { try load(bytes: $0, file: path, sampling: sampling) }
    }

    public static func load(bytes: UnsafeRawBufferPointer, file: String, sampling: TextSampling = .line) throws -> Dataset {
        var rows: [DataRow] = []
        var skipped = 0
        switch sampling {
        case .line:
            try FileReading.forEachLine(bytes) { line, content in
                let text = try FileReading.decodeUTF8(content, file: file, line: line)
                if text.isEmpty { skipped += 1; return }
                rows.append(DataRow([field: .string(text)], origin: RowOrigin(file: file, line: line, row: rows.count)))
            }
        case .paragraph:
            var current: [String] = []
            var startLine = 0
            func flush() {
                if !current.isEmpty {
                    rows.append(DataRow([field: .string(current.joined(separator: "\n"))],
                                        origin: RowOrigin(file: file, line: startLine, row: rows.count)))
                    current.removeAll()
                }
            }
            try FileReading.forEachLine(bytes) { line, content in
                let text = try FileReading.decodeUTF8(content, file: file, line: line)
                if text.allSatisfy({ $0.isWhitespace }) {
                    flush()
                } else {
                    if current.isEmpty { startLine = line }
                    current.append(text)
                }
            }
            flush()
        case .document:
            try FileReading.validateUTF8(bytes, file: file)
            let text = String(decoding: bytes, as: UTF8.self)
            if text.allSatisfy({ $0.isWhitespace }) {
                skipped += 1
            } else {
                rows.append(DataRow([field: .string(text)], origin: RowOrigin(file: file, line: 1, row: 0)))
            }
        }
        return Dataset(rows: rows, source: file, skippedEmptyRows: skipped)
    }
}
