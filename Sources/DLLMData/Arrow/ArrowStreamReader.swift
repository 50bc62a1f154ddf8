import Foundation

/// The decoded content of an Arrow IPC stream: its schema and one value array per column.
public struct ArrowTable: Sendable {
    public var fields: [ArrowField]
    /// `columns[c][r]`: column `c`, row `r`.
    public var columns: [[DataValue]]
    public var rowCount: Int

    /// The rows as a ``Dataset`` (origins are `file (row N)`).
    public func dataset(source: String) -> Dataset {
        var rows: [DataRow] = []
        rows.reserveCapacity(rowCount)
        for r in 0..<rowCount {
            var values: [String: DataValue] = [:]
            for (c, field) in fields.enumerated() { values[field.name] = columns[c][r] }
            rows.append(DataRow(values, origin: RowOrigin(file: source, row: r)))
        }
        return Dataset(rows: rows, source: source)
    }
}

/// Reads Arrow IPC *stream* files, the format `datasets.save_to_disk` writes
/// (`data-00000-of-00001.arrow`, via pyarrow's `RecordBatchStreamWriter`); the IPC *file*
/// format (`ARROW1` magic) is accepted too, by reading the stream it embeds.
///
/// Framing (Arrow columnar format, "Encapsulated message format"): each message is the
/// continuation marker `0xFFFFFFFF`, an int32 metadata length, a flatbuffer `Message` padded to
/// 8 bytes, then `bodyLength` body bytes; a zero length ends the stream (pre-0.15 streams omit
/// the marker). The first message is the `Schema`; each `RecordBatch` lists `FieldNode`s
/// (length, null count) and `Buffer`s (offset, length into the body) in depth-first field order.
///
/// Every length and offset is checked against the metadata or body before anything is read or
/// allocated. Compression, dictionary batches and big-endian data are refused with
/// ``ArrowError/unsupportedFeature(file:detail:)``.
public enum ArrowStreamReader {
    /// Null arrays carry no buffers to bound their length, so a corrupt length could ask for a
    /// huge allocation; `datasets` writes record batches of 1000 rows, so this cap is generous.
    static let maximumNullArrayLength = 1 << 24

    public static func read(path: String) throws -> ArrowTable {
        let data = try FileReading.read(path)
        return try read(data: data, file: path)
    }

    public static func read(data: Data, file: String) throws -> ArrowTable {
        try data.withUnsafeBytes { try read(bytes: $0, file: file) }
    }

    static func read(bytes: UnsafeRawBufferPointer, file: String) throws -> ArrowTable {
        var position = 0
        if bytes.count >= 8, Array(bytes[0..<6]) == Array("ARROW1".utf8) { position = 8 }
        var fields: [ArrowField]? = nil
        var columns: [[DataValue]] = []
        var rowCount = 0

        func le<T: FixedWidthInteger>(_ type: T.Type, _ at: Int) -> T {
            T(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: T.self))
        }

        while position < bytes.count {
            let messageStart = position
            guard bytes.count - position >= 4 else {
                throw ArrowError.truncated(file: file, offset: messageStart, detail: "a message header is cut short")
            }
            var metadataLength = Int(le(Int32.self, position))
            position += 4
            if le(UInt32.self, messageStart) == 0xFFFF_FFFF {
                guard bytes.count - position >= 4 else {
                    throw ArrowError.truncated(file: file, offset: messageStart, detail: "the metadata length is cut short")
                }
                metadataLength = Int(le(Int32.self, position))
                position += 4
            }
            if metadataLength == 0 { break }  // end-of-stream marker
            guard metadataLength > 0 else {
                throw ArrowError.invalidMessage(file: file, offset: messageStart, detail: "negative metadata length \(metadataLength)")
            }
            if le(UInt32.self, messageStart) != 0xFFFF_FFFF && metadataLength > bytes.count - position {
                throw ArrowError.invalidMessage(
                    file: file, offset: messageStart,
                    detail: "no 0xFFFFFFFF continuation marker and an impossible metadata length: not an Arrow IPC stream")
            }
            guard bytes.count - position >= metadataLength else {
                throw ArrowError.truncated(
                    file: file, offset: messageStart,
                    detail: "the message declares \(metadataLength) metadata bytes but only \(bytes.count - position) remain")
            }
            let metadata = FlatBuffer(Array(bytes[position..<(position + metadataLength)]))
            position += metadataLength

            let headerType: UInt8
            let header: FlatTable
            let bodyLength: Int64
            do {
                let message = try metadata.rootTable()
                // Message: version(0), header_type(1), header(2), bodyLength(3), custom_metadata(4).
                headerType = try message.scalar(1, UInt8.self, default: 0)
                guard let h = try message.table(2) else {
                    throw FlatBufferError(detail: "the message has no header")
                }
                header = h
                bodyLength = try message.scalar(3, Int64.self, default: 0)
            } catch let e as FlatBufferError {
                throw ArrowError.invalidMessage(file: file, offset: messageStart, detail: e.detail)
            }
            guard bodyLength >= 0 else {
                throw ArrowError.invalidMessage(file: file, offset: messageStart, detail: "negative body length \(bodyLength)")
            }
            guard Int64(bytes.count - position) >= bodyLength else {
                throw ArrowError.truncated(
                    file: file, offset: messageStart,
                    detail: "the message body needs \(bodyLength) bytes but only \(bytes.count - position) remain")
            }
            let body = UnsafeRawBufferPointer(rebasing: bytes[position..<(position + Int(bodyLength))])
            position += Int(bodyLength)

            switch headerType {
            case 1:  // Schema
                guard fields == nil else {
                    throw ArrowError.invalidMessage(file: file, offset: messageStart, detail: "a second schema message")
                }
                do {
                    let parsed = try ArrowSchemaParser.schema(header, file: file)
                    for field in parsed {
                        if let (path, type) = field.type.firstUnsupported(path: field.name) {
                            throw ArrowError.unsupportedType(file: file, column: path, type: type)
                        }
                    }
                    fields = parsed
                    columns = Array(repeating: [], count: parsed.count)
                } catch let e as FlatBufferError {
                    throw ArrowError.invalidMessage(file: file, offset: messageStart, detail: e.detail)
                }
            case 3:  // RecordBatch
                guard let schema = fields else { throw ArrowError.missingSchema(file: file) }
                let batch = try RecordBatchDecoder.decode(
                    header: header, body: body, fields: schema, file: file, messageOffset: messageStart)
                for c in 0..<schema.count { columns[c].append(contentsOf: batch.columns[c]) }
                rowCount += batch.length
            case 2:
                throw ArrowError.unsupportedFeature(file: file, detail: "dictionary batches (dictionary-encoded columns)")
            default:
                throw ArrowError.invalidMessage(
                    file: file, offset: messageStart, detail: "message header type \(headerType) is not a schema or record batch")
            }
        }
        guard let schema = fields else { throw ArrowError.missingSchema(file: file) }
        return ArrowTable(fields: schema, columns: columns, rowCount: rowCount)
    }
}
