/// Everything that can go wrong while reading Arrow IPC files.
///
/// Every case names the file; column-level cases also name the column (a dotted path for nested
/// fields) and, for types, the Arrow type as `pyarrow` prints it.
public enum ArrowError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file ends inside a message (metadata or body) starting at `offset`.
    case truncated(file: String, offset: Int, detail: String)
    /// A message's framing or flatbuffer metadata is malformed.
    case invalidMessage(file: String, offset: Int, detail: String)
    /// The stream has no schema message, or a record batch came before it.
    case missingSchema(file: String)
    /// A column of a type this reader does not decode.
    case unsupportedType(file: String, column: String, type: String)
    /// A feature this reader does not implement (compression, big-endian data, dictionaries).
    case unsupportedFeature(file: String, detail: String)
    /// A column's buffers disagree with its declared length, or point outside the message body.
    case invalidColumn(file: String, column: String, detail: String)
    /// A `save_to_disk` folder whose `state.json` or `dataset_dict.json` is unusable.
    case invalidDatasetFolder(path: String, detail: String)

    public var description: String {
        switch self {
        case let .truncated(file, offset, detail):
            return "'\(file)' is truncated: \(detail) (message at byte \(offset)). "
                + "The file was cut short (incomplete copy or download): write it again with `save_to_disk`."
        case let .invalidMessage(file, offset, detail):
            return "'\(file)' has a malformed Arrow IPC message at byte \(offset): \(detail). "
                + "The file is corrupt or not an Arrow stream: write it again with `save_to_disk`."
        case let .missingSchema(file):
            return "'\(file)' has no Arrow schema message before its data. It is not an Arrow IPC stream "
                + "written by pyarrow/`datasets`; write it again with `save_to_disk`."
        case let .unsupportedType(file, column, type):
            return "'\(file)': column '\(column)' has Arrow type \(type), which this reader does not decode "
                + "(supported: string, large_string, bool, int8–int64, uint8–uint64, float, double, null, "
                + "list/large_list/fixed_size_list and struct of those). Drop or cast the column in Python "
                + "(`ds.remove_columns([...])` or `ds.cast_column(...)`) before `save_to_disk`."
        case let .unsupportedFeature(file, detail):
            return "'\(file)' uses \(detail), which this reader does not support. Write the dataset again with "
                + "`datasets.save_to_disk` defaults (uncompressed, little-endian, no dictionary encoding)."
        case let .invalidColumn(file, column, detail):
            return "'\(file)': column '\(column)' is inconsistent: \(detail). The file is corrupt: write it again."
        case let .invalidDatasetFolder(path, detail):
            return "'\(path)' is not a usable `datasets.save_to_disk` folder: \(detail). "
                + "Point to the folder that holds state.json and the data-*.arrow files (or dataset_dict.json)."
        }
    }
}
