/// Errors of `dllm eval`: each names the task, file, document or flag at fault.
public enum EvalError: Error, CustomStringConvertible, Equatable {
    case unknownTask(name: String, known: [String])
    case taskDataMissing(task: String, path: String, fetchCommand: String)
    case badDocument(task: String, row: Int, field: String, detail: String)
    case unsupportedOption(name: String, detail: String)
    case invalidOption(name: String, detail: String)
    case cannotWrite(path: String, reason: String)
    /// A line of a `--use_cache` file (1-based) that is not an answer.
    case badCacheLine(path: String, line: Int, detail: String)

    public var description: String {
        switch self {
        case let .unknownTask(name, known):
            return "unknown task '\(name)'; known tasks: \(known.joined(separator: ", "))"
        case let .taskDataMissing(task, path, fetchCommand):
            return "task '\(task)': its data is not fetched (\(path) is missing); run `\(fetchCommand)` first"
        case let .badDocument(task, row, field, detail):
            return "task '\(task)', document \(row), field '\(field)': \(detail)"
        case let .unsupportedOption(name, detail):
            return "\(name) is not supported: \(detail)"
        case let .invalidOption(name, detail):
            return "\(name): \(detail)"
        case let .cannotWrite(path, reason):
            return "cannot write \(path): \(reason)"
        case let .badCacheLine(path, line, detail):
            return "\(path), line \(line): not a --use_cache answer (\(detail)); remove the line or the file"
        }
    }
}
