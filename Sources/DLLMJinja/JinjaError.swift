/// Errors of parsing or rendering a template. Positions are 1-based line and column
/// of the template source.
public enum JinjaError: Error, CustomStringConvertible, Equatable {
    /// The source is not valid Jinja (unclosed block, unexpected token, bad literal).
    case syntax(message: String, line: Int, column: Int)
    /// Valid Jinja this interpreter does not implement (a tag, filter, test, method).
    case unsupported(feature: String, line: Int, column: Int)
    /// A failure while rendering: an undefined value used, a type error, a bad argument.
    case runtime(message: String, line: Int, column: Int)
    /// The template called `raise_exception(message)` (transformers' global).
    case raised(message: String, line: Int, column: Int)
    /// Context JSON given to `JinjaValue.parseJSON` is malformed.
    case invalidJSON(message: String, offset: Int)

    public var description: String {
        switch self {
        case .syntax(let m, let l, let c): return "jinja: syntax error at line \(l), column \(c): \(m)"
        case .unsupported(let f, let l, let c):
            return "jinja: unsupported feature at line \(l), column \(c): \(f) (DLLMJinja implements the subset chat templates use; see docs/data-and-tokenizers.md)"
        case .runtime(let m, let l, let c): return "jinja: error at line \(l), column \(c): \(m)"
        case .raised(let m, let l, let c): return "jinja: template raised an exception at line \(l), column \(c): \(m)"
        case .invalidJSON(let m, let o): return "jinja: invalid JSON context at byte \(o): \(m)"
        }
    }
}

/// A position in the template source (1-based).
public struct SourcePosition: Sendable, Equatable {
    public var line: Int
    public var column: Int
}
