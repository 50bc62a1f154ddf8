/// Why a JSON text could not be parsed, and where: 1-based line and column (the column
/// counts bytes), the byte offset from the start of the text, and the file when the
/// caller named one.
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// Malformed text; the message says what was expected.
        case syntax(String)
        /// An object has the same key twice (refused by ``JSONParser/Options/DuplicateKeys/reject``);
        /// `depth` 1 is the top-level object.
        case duplicateKey(String, depth: Int)
        /// Containers nested deeper than the parser's limit.
        case tooDeep(limit: Int)
        /// Bytes inside a string that are not UTF-8 (overlong forms and encoded surrogates included).
        case invalidUTF8
        /// A `\u` escape of a UTF-16 surrogate without its partner.
        case loneSurrogate
        /// A number too large for a double (JSON has no infinity).
        case numberOutOfRange
    }

    public var kind: Kind
    public var offset: Int
    public var line: Int
    public var column: Int
    public var file: String?

    public init(kind: Kind, offset: Int, line: Int, column: Int, file: String? = nil) {
        self.kind = kind
        self.offset = offset
        self.line = line
        self.column = column
        self.file = file
    }

    /// The problem without its location ("expected ':'", "duplicate key \"a\"").
    public var message: String {
        switch kind {
        case .syntax(let text): return text
        case .duplicateKey(let key, _): return "duplicate key \"\(key)\""
        case .tooDeep(let limit): return "nesting deeper than \(limit) levels"
        case .invalidUTF8: return "invalid UTF-8 in a string"
        case .loneSurrogate: return "unpaired UTF-16 surrogate in a \\u escape"
        case .numberOutOfRange: return "number out of range for a double"
        }
    }

    /// The problem and its position, without the file: "expected ':' at line 3, column 7 (byte 41)".
    public var detail: String { "\(message) at line \(line), column \(column) (byte \(offset))" }

    public var description: String { file.map { "\($0): \(detail)" } ?? detail }
}
