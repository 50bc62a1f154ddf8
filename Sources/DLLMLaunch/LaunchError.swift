/// The child-process types (`ChildProcess`, `Termination`, `Signals`, `LineReader`,
/// `OutputPipe`) live in DLLMProcess, the lowest target that runs programs; the
/// launcher's users see them through this module as before.
@_exported import DLLMProcess

/// A launch that cannot start or did not finish, with what to do about it.
public enum LaunchError: Error, CustomStringConvertible, Equatable {
    /// A command-line value that is out of range or inconsistent with another.
    case badOption(name: String, value: String, expected: String)
    /// A program the launch needs is not installed or not on PATH.
    case missingProgram(name: String, hint: String)
    /// A process could not be started at all.
    case cannotStart(program: String, reason: String)
    /// The training config could not be read for the launcher's own needs (output_dir).
    case trainingConfig(path: String, reason: String)
    /// The ranks of several machines did not meet.
    case rendezvous(String)
    /// Another job holds the output folder (or it cannot be locked).
    case outputBusy(String)
    /// `dllm train --check-config` refused the config or an override (its message names the key).
    case configRefused(String)

    public var description: String {
        switch self {
        case let .badOption(name, value, expected):
            return "\(name) \(value): expected \(expected)"
        case let .missingProgram(name, hint):
            return "\(name) not found: \(hint)"
        case let .cannotStart(program, reason):
            return "cannot start \(program): \(reason)"
        case let .trainingConfig(path, reason):
            return "\(path): \(reason)"
        case let .rendezvous(message):
            return "rendezvous: \(message)"
        case let .outputBusy(message):
            return message
        case let .configRefused(message):
            return "the training config was refused before any rank started: \(message)"
        }
    }
}
