/// A child process that could not be started, or a pipe for one that could not be made.
public enum ProcessError: Error, CustomStringConvertible, Equatable {
    case cannotStart(program: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotStart(program, reason): return "cannot start \(program): \(reason)"
        }
    }
}
