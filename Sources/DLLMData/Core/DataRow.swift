/// Where a row came from, so that errors can point at the file and line (or row number).
public struct RowOrigin: Equatable, Sendable, CustomStringConvertible {
    /// The file path (or a label such as `"<memory>"`).
    public var file: String
    /// 1-based line number for line-oriented formats (JSONL, text, CSV), when known.
    public var line: Int?
    /// 0-based index of the row in its file.
    public var row: Int

    public init(file: String, line: Int? = nil, row: Int) {
        self.file = file
        self.line = line
        self.row = row
    }

    public var description: String {
        if let line { return "\(file):\(line)" }
        return "\(file) (row \(row))"
    }
}

/// One dataset row: named values plus its origin.
///
/// The accessors throw ``DataError`` values naming the field and the origin, which is how
/// a missing `text` or `instruction` field is reported.
public struct DataRow: Equatable, Sendable {
    public var values: [String: DataValue]
    public var origin: RowOrigin

    public init(_ values: [String: DataValue], origin: RowOrigin) {
        self.values = values
        self.origin = origin
    }

    public subscript(field: String) -> DataValue? { values[field] }

    /// The string in `field`; throws when the field is absent, null or not a string.
    public func string(_ field: String) throws -> String {
        guard let value = values[field] else {
            throw DataError.missingField(field: field, origin: origin, available: values.keys.sorted())
        }
        guard case let .string(s) = value else {
            throw DataError.wrongFieldType(field: field, expected: "string", found: value.kindName, origin: origin)
        }
        return s
    }

    /// The string in `field`, or `nil` when absent or null; throws for other types.
    public func optionalString(_ field: String) throws -> String? {
        guard let value = values[field] else { return nil }
        switch value {
        case .null: return nil
        case let .string(s): return s
        default:
            throw DataError.wrongFieldType(field: field, expected: "string or null", found: value.kindName, origin: origin)
        }
    }

    /// The integer list in `field` (e.g. `input_ids`), as `Int32` token ids.
    public func tokenIDs(_ field: String) throws -> [Int32] {
        guard let value = values[field] else {
            throw DataError.missingField(field: field, origin: origin, available: values.keys.sorted())
        }
        guard case let .list(items) = value else {
            throw DataError.wrongFieldType(field: field, expected: "list of integers", found: value.kindName, origin: origin)
        }
        var out = [Int32]()
        out.reserveCapacity(items.count)
        for item in items {
            guard let v = item.intValue, let id = Int32(exactly: v) else {
                throw DataError.wrongFieldType(
                    field: field, expected: "list of 32-bit integers", found: "list containing \(item.kindName) \(item)",
                    origin: origin)
            }
            out.append(id)
        }
        return out
    }
}
