import DLLMJSON
import Foundation

/// Reads a whole-file JSON dataset, as the `json` builder of Hugging Face `datasets` does:
///
/// - an array of objects (alpaca-style files such as `alpaca_en_demo.json`), one row each;
/// - an object of equally long arrays (column-oriented), one row per index;
/// - with `field`, the array (or columns) stored under that key of the top-level object
///   (`load_dataset("json", field="data")`).
///
/// Rows of an array are reported by the line on which each element starts.
public enum JSONLoader {
    public static func load(path: String, field: String? = nil) throws -> Dataset {
        let data = try FileReading.read(path)
        return try data.withUnsafeBytes { try load(bytes: $0, file: path, field: field) }
    }

    public static func load(bytes: UnsafeRawBufferPointer, file: String, field: String? = nil) throws -> Dataset {
        try FileReading.validateUTF8(bytes, file: file)
        let parsed: (value: DataValue, elementOffsets: [Int]?)
        do {
            parsed = try DataJSON.parseDocument(bytes)
        } catch let e as JSONError {
            throw DataError.invalidJSON(file: file, line: e.line, column: e.column, detail: e.message)
        }
        var value = parsed.value
        var offsets = parsed.elementOffsets
        if let field {
            guard case let .object(top) = value else {
                throw DataError.unexpectedJSONShape(
                    file: file, line: nil, detail: "option field:\(field) needs a top-level object, found a \(value.kindName)")
            }
            guard let inner = top[field] else {
                throw DataError.unexpectedJSONShape(
                    file: file, line: nil,
                    detail: "the top-level object has no key '\(field)' (keys: \(top.keys.sorted().joined(separator: ", ")))")
            }
            value = inner
            offsets = nil
        }
        switch value {
        case let .list(items):
            var rows: [DataRow] = []
            rows.reserveCapacity(items.count)
            for (index, item) in items.enumerated() {
                let line = offsets.map { JSONParser.lineAndColumn(of: $0[index], in: bytes).line }
                guard case let .object(fields) = item else {
                    throw DataError.unexpectedJSONShape(
                        file: file, line: line, detail: "element \(index) of the array is a \(item.kindName), not an object")
                }
                rows.append(DataRow(fields, origin: RowOrigin(file: file, line: line, row: index)))
            }
            return Dataset(rows: rows, source: file)
        case let .object(columns):
            var length: Int? = nil
            for (name, column) in columns {
                guard case let .list(items) = column else {
                    throw DataError.unexpectedJSONShape(
                        file: file, line: nil,
                        detail: "top-level key '\(name)' holds a \(column.kindName); a column-oriented file needs arrays")
                }
                if let length, length != items.count {
                    throw DataError.unexpectedJSONShape(
                        file: file, line: nil, detail: "column '\(name)' has \(items.count) values, others have \(length)")
                }
                length = items.count
            }
            let n = length ?? 0
            var rows: [DataRow] = []
            rows.reserveCapacity(n)
            for i in 0..<n {
                var fields: [String: DataValue] = [:]
                for (name, column) in columns { fields[name] = column.listValue![i] }
                rows.append(DataRow(fields, origin: RowOrigin(file: file, row: i)))
            }
            return Dataset(rows: rows, source: file)
        default:
            throw DataError.unexpectedJSONShape(file: file, line: nil, detail: "the top level is a \(value.kindName)")
        }
    }
}
