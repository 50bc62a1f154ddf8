/// Everything that can go wrong while reading local datasets and turning rows into
/// training examples.
///
/// Every case names the file (and line, or row) or the field concerned; ``description``
/// says what is wrong and what to do.
public enum DataError: Error, CustomStringConvertible, Equatable, Sendable {
    // MARK: Files
    /// The file or directory does not exist.
    case notFound(path: String)
    /// The file exists but could not be read.
    case cannotRead(path: String, reason: String)
    /// The file could not be written.
    case cannotWrite(path: String, reason: String)
    /// The path's extension or layout is not a format this library reads.
    case unsupportedFormat(path: String, detail: String)

    // MARK: Content
    /// Bytes that are not valid UTF-8 at `line` (1-based).
    case invalidUTF8(file: String, line: Int)
    /// A JSON document (or a JSONL line) that does not parse.
    case invalidJSON(file: String, line: Int, column: Int, detail: String)
    /// Valid JSON of the wrong shape (e.g. a JSON file whose top level is a number).
    case unexpectedJSONShape(file: String, line: Int?, detail: String)
    /// A CSV record that breaks RFC 4180 (unterminated quote, stray quote, wrong field count).
    case invalidCSV(file: String, line: Int, detail: String)

    // MARK: Rows
    /// A row lacks a field the processing step needs.
    case missingField(field: String, origin: RowOrigin, available: [String])
    /// A field has the wrong type.
    case wrongFieldType(field: String, expected: String, found: String, origin: RowOrigin)
    /// A chat `messages` list that cannot be used (empty, or last turn not from the assistant).
    case invalidConversation(origin: RowOrigin, detail: String)

    // MARK: Splits and options
    /// A split limit or lookup names a split the dataset does not have.
    case missingSplit(split: String, available: [String], source: String)
    /// A spec option the loaders do not understand.
    case unknownOption(option: String, value: String, spec: String, known: [String])
    /// A processing parameter out of range (e.g. `max_length` of 0).
    case invalidParameter(name: String, value: String, detail: String)
    /// The tokenizer lacks a token the step needs (e.g. EOS for `insert_eos`).
    case missingSpecialToken(token: String, needed: String)

    public var description: String {
        switch self {
        case let .notFound(path):
            return "'\(path)' does not exist. Check the path (relative paths are resolved from the current directory)."
        case let .cannotRead(path, reason):
            return "Cannot read '\(path)': \(reason). Check that the file exists and is readable."
        case let .cannotWrite(path, reason):
            return "Cannot write '\(path)': \(reason). Check that the directory exists, is writable and has free space."
        case let .unsupportedFormat(path, detail):
            return "'\(path)' is not a dataset this library can read: \(detail). Supported: .jsonl/.ndjson, .json, "
                + ".txt, .csv, .arrow files, folders written by `datasets.save_to_disk`, and folders of such files."
        case let .invalidUTF8(file, line):
            return "\(file):\(line): the line is not valid UTF-8. Re-encode the file as UTF-8 "
                + "(e.g. `iconv -f latin1 -t utf-8`)."
        case let .invalidJSON(file, line, column, detail):
            return "\(file):\(line):\(column): not valid JSON (\(detail)). "
                + "Each line of a .jsonl file must hold one complete JSON object; fix or remove that line."
        case let .unexpectedJSONShape(file, line, detail):
            let place = line.map { "\(file):\($0)" } ?? file
            return "\(place): \(detail). A JSON dataset is an array of objects, an object of equally long "
                + "column arrays, or an object holding such an array under the key given with the `field` option."
        case let .invalidCSV(file, line, detail):
            return "\(file):\(line): invalid CSV (\(detail)). The file must follow RFC 4180: a header row, "
                + "comma-separated fields, and fields containing commas, quotes or newlines enclosed in double quotes "
                + "with inner quotes doubled."
        case let .missingField(field, origin, available):
            return "\(origin): the row has no field '\(field)' (it has: \(available.joined(separator: ", "))). "
                + "Add the field, or choose the field that holds the data (e.g. --text-field)."
        case let .wrongFieldType(field, expected, found, origin):
            return "\(origin): field '\(field)' should be a \(expected) but is a \(found). Fix the row or the field name."
        case let .invalidConversation(origin, detail):
            return "\(origin): unusable conversation: \(detail). A `messages` row needs a list of "
                + "{\"role\", \"content\"} objects ending with an assistant turn."
        case let .missingSplit(split, available, source):
            return "'\(source)' has no split '\(split)' (it has: \(available.joined(separator: ", "))). "
                + "Use one of those names in the spec, e.g. \(source)[\(available.first ?? "train"):1000]."
        case let .unknownOption(option, value, spec, known):
            return "Unknown option '\(option):\(value)' in dataset spec '\(spec)'. Integer values are split limits "
                + "(train:1000); other options understood here: \(known.joined(separator: ", "))."
        case let .invalidParameter(name, value, detail):
            return "Invalid \(name) = \(value): \(detail)."
        case let .missingSpecialToken(token, needed):
            return "The tokenizer has no \(token) token, which \(needed) needs. Use a tokenizer that defines it, "
                + "or turn the option off."
        }
    }
}
