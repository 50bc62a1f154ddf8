import Foundation

/// Reads RFC 4180 CSV: a header row naming the columns, then one record per row.
///
/// Fields are separated by commas; a field that contains a comma, a double quote or a line break
/// is enclosed in double quotes, with inner quotes doubled (`""`). Records end with CRLF or LF;
/// quoted fields may span lines. All values are kept as strings (the `csv` builder of
/// `datasets` infers numeric types through pandas; text pipelines only read string columns).
/// A record with a different number of fields than the header is an error naming its line, as
/// is an unterminated quote or a quote inside an unquoted field.
public enum CSVLoader {
    public static func load(path: String, delimiter: UInt8 = UInt8(ascii: ",")) throws -> Dataset {
        let data = try FileReading.read(path)
        return try data.withUnsafeBytes { try load(bytes: $0, file: path, delimiter: delimiter) }
    }

    public static func load(bytes: UnsafeRawBufferPointer, file: String,
                            delimiter: UInt8 = UInt8(ascii: ",")) throws -> Dataset {
        try FileReading.validateUTF8(bytes, file: file)
        let records = try parseRecords(bytes, file: file, delimiter: delimiter)
        guard let header = records.first else { return Dataset(rows: [], source: file) }
        var seen = Set<String>()
        for name in header.fields {
            if !seen.insert(name).inserted {
                throw DataError.invalidCSV(file: file, line: header.line, detail: "column name '\(name)' appears twice in the header")
            }
        }
        var rows: [DataRow] = []
        rows.reserveCapacity(records.count - 1)
        for record in records.dropFirst() {
            // A blank line (one empty field) is skipped, as pandas does.
            if record.fields.count == 1 && record.fields[0].isEmpty && header.fields.count > 1 { continue }
            guard record.fields.count == header.fields.count else {
                throw DataError.invalidCSV(
                    file: file, line: record.line,
                    detail: "\(record.fields.count) fields where the header has \(header.fields.count)")
            }
            var values: [String: DataValue] = [:]
            for (name, field) in zip(header.fields, record.fields) { values[name] = .string(field) }
            rows.append(DataRow(values, origin: RowOrigin(file: file, line: record.line, row: rows.count)))
        }
        return Dataset(rows: rows, source: file)
    }

    struct Record {
        var fields: [String]
        var line: Int
    }

    static func parseRecords(_ bytes: UnsafeRawBufferPointer, file: String, delimiter: UInt8) throws -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1
        var recordLine = 1
        var i = 0
        let n = bytes.count
        let quote = UInt8(ascii: "\"")
        var fieldStarted = false  // anything seen for the current record
        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
        }
        while i < n {
            let b = bytes[i]
            if b == quote {
                guard field.isEmpty else {
                    throw DataError.invalidCSV(file: file, line: line,
                                               detail: "a double quote inside an unquoted field; enclose the field in quotes and double the inner quote")
                }
                let quoteLine = line
                i += 1
                var closed = false
                while i < n {
                    let c = bytes[i]
                    if c == quote {
                        if i + 1 < n && bytes[i + 1] == quote {
                            field.append(quote)
                            i += 2
                            continue
                        }
                        closed = true
                        i += 1
                        break
                    }
                    if c == 0x0A { line += 1 }
                    field.append(c)
                    i += 1
                }
                guard closed else {
                    throw DataError.invalidCSV(file: file, line: quoteLine, detail: "the quoted field opened here is never closed")
                }
                fieldStarted = true
                // After a closing quote only a delimiter or a line end may follow.
                if i < n, bytes[i] != delimiter, bytes[i] != 0x0A, bytes[i] != 0x0D {
                    throw DataError.invalidCSV(file: file, line: line, detail: "text after a closing quote")
                }
                continue
            }
            if b == delimiter {
                endField()
                fieldStarted = true
                i += 1
                continue
            }
            if b == 0x0D || b == 0x0A {
                if b == 0x0D && i + 1 < n && bytes[i + 1] == 0x0A { i += 1 }
                endField()
                records.append(Record(fields: fields, line: recordLine))
                fields.removeAll()
                fieldStarted = false
                i += 1
                line += 1
                recordLine = line
                continue
            }
            field.append(b)
            fieldStarted = true
            i += 1
        }
        if fieldStarted || !field.isEmpty {
            endField()
            records.append(Record(fields: fields, line: recordLine))
        }
        return records
    }
}
