import DLLMJSON
import Foundation

/// Reads newline-delimited JSON (`.jsonl`), one object per line: the `json` builder of
/// Hugging Face `datasets` on a JSON Lines file.
///
/// Blank lines are ignored. A line that is not JSON throws ``DataError/invalidJSON(file:line:column:detail:)``
/// with the line and column; a line that is JSON but not an object throws
/// ``DataError/unexpectedJSONShape(file:line:detail:)``; invalid UTF-8 names the line.
public enum JSONLinesLoader {
    public static func load(path: String) throws -> Dataset {
        let data = try FileReading.read(path)
        return try data.withUnsafeBytes { try load(bytes: $0, file: path) }
    }

    public static func load(bytes: UnsafeRawBufferPointer, file: String) throws -> Dataset {
        var rows: [DataRow] = []
        try FileReading.forEachLine(bytes) { line, content in
            if FileReading.isBlank(content) { return }
            _ = try FileReading.decodeUTF8(content, file: file, line: line)
            let value: DataValue
            do {
                value = try DataJSON.parse(content)
            } catch let e as JSONError {
                throw DataError.invalidJSON(file: file, line: line, column: e.column, detail: e.message)
            }
            guard case let .object(fields) = value else {
                throw DataError.unexpectedJSONShape(
                    file: file, line: line, detail: "the line holds a JSON \(value.kindName), not an object")
            }
            rows.append(DataRow(fields, origin: RowOrigin(file: file, line: line, row: rows.count)))
        }
        return Dataset(rows: rows, source: file)
    }
}
