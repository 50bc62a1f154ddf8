/// Everything that can go wrong with pre-tokenized shard files (`.dtok`).
public enum TokenShardError: Error, CustomStringConvertible, Equatable, Sendable {
    case cannotRead(file: String, reason: String)
    case cannotWrite(file: String, reason: String)
    /// Shorter than the 64-byte header.
    case truncatedHeader(file: String, size: Int)
    /// The first 8 bytes are not `DLLMTOK1`.
    case wrongMagic(file: String, found: String)
    case unsupportedVersion(file: String, version: UInt32)
    case invalidHeader(file: String, detail: String)
    /// Header token count × width + header size disagrees with the file size.
    case sizeMismatch(file: String, expected: Int, actual: Int)
    case checksumMismatch(file: String, expected: UInt64, actual: UInt64)
    /// A token id that does not fit the chosen dtype.
    case tokenOutOfRange(file: String, token: Int64, dtype: String)
    /// A folder without `manifest.json` or shards, or a manifest that disagrees with them.
    case invalidDirectory(path: String, detail: String)
    case indexOutOfRange(index: Int, count: Int)

    public var description: String {
        switch self {
        case let .cannotRead(file, reason):
            return "Cannot read token shard '\(file)': \(reason). Check the path, or run `dllm prepare` again."
        case let .cannotWrite(file, reason):
            return "Cannot write token shard '\(file)': \(reason). Check that the folder is writable and has space."
        case let .truncatedHeader(file, size):
            return "'\(file)' has \(size) bytes, less than the 64-byte token shard header: it is truncated or not a "
                + "token shard. Run `dllm prepare` again."
        case let .wrongMagic(file, found):
            return "'\(file)' does not start with DLLMTOK1 (found \(found)): it is not a token shard written by "
                + "`dllm prepare`."
        case let .unsupportedVersion(file, version):
            return "'\(file)' is token shard format version \(version); this build reads version 1. "
                + "Re-run `dllm prepare` with this build."
        case let .invalidHeader(file, detail):
            return "'\(file)' has an invalid token shard header: \(detail). Run `dllm prepare` again."
        case let .sizeMismatch(file, expected, actual):
            return "'\(file)' should be \(expected) bytes according to its header but is \(actual) bytes: the file is "
                + "truncated (interrupted copy?) or its header is corrupt. Copy it again or re-run `dllm prepare`."
        case let .checksumMismatch(file, expected, actual):
            return "'\(file)': token checksum \(String(actual, radix: 16)) differs from the header's "
                + "\(String(expected, radix: 16)); the tokens are corrupt. Copy the file again or re-run `dllm prepare`."
        case let .tokenOutOfRange(file, token, dtype):
            return "Token id \(token) does not fit \(dtype) in '\(file)'. Use a wider dtype (u32)."
        case let .invalidDirectory(path, detail):
            return "'\(path)' is not a usable token shard folder: \(detail). Point to the --output folder of `dllm prepare`."
        case let .indexOutOfRange(index, count):
            return "Sequence \(index) requested from a token dataset of \(count) sequences."
        }
    }
}
