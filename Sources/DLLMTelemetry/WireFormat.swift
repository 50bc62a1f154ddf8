/// The telemetry wire format: one JSON object per ZeroMQ message (one frame),
/// documented field by field in docs/telemetry.md.
///
/// Versioning: `v` is the format's major version. Within a version, fields are only
/// ever added (optional, and ignored by readers that do not know them); removing or
/// renaming a field, changing its type or meaning, or adding an event kind bumps `v`.
/// A collector accepts exactly the versions in `acceptedVersions` and counts the rest
/// as `version` rejections.
public enum WireFormat {
    /// The version publishers write.
    public static let version = 2
    /// The versions a collector accepts.
    public static let acceptedVersions: ClosedRange<Int> = 1...2
    /// Largest message a collector stores by default (start events carry the config).
    public static let defaultMaxMessageBytes = 1 << 20
    /// Deepest nesting accepted inside a message (the config object).
    public static let maxDepth = 32
    /// Longest run id; run ids use A–Z a–z 0–9 . _ - : only, and do not start with a
    /// dot (so `.`, `..` and hidden names can never be a folder name of a run).
    public static let maxRunIDLength = 128
    /// Largest rank accepted.
    public static let maxRank = 1 << 20

    /// Whether `id` can be a run id (it names files and PUB topics): a plain name, never
    /// `.`, `..` or anything with `/`.
    public static func isValidRunID<S: Sequence>(_ id: S) -> Bool where S.Element == UInt8 {
        var count = 0
        for byte in id {
            count += 1
            guard count <= maxRunIDLength, isRunIDByte(byte), count > 1 || byte != 0x2E else { return false }
        }
        return count > 0
    }

    @inline(__always)
    static func isRunIDByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
            || b == 0x2E || b == 0x5F || b == 0x2D || b == 0x3A
    }

    /// A run id made valid: other characters become `-`, cut to the maximum length.
    public static func sanitizedRunID(_ id: String) -> String {
        var bytes = id.utf8.prefix(maxRunIDLength).map { isRunIDByte($0) ? $0 : UInt8(ascii: "-") }
        if bytes.first == 0x2E { bytes[0] = UInt8(ascii: "-") }
        return bytes.isEmpty ? "run" : String(decoding: bytes, as: UTF8.self)
    }

    /// The PUB topic frame of a republished message: `RUN/KIND`. Subscribe to `RUN/`
    /// for one run, or to the empty prefix for all.
    public static func topic(run: String, kind: String) -> [UInt8] { Array("\(run)/\(kind)".utf8) }
}

/// The kinds of event a rank sends.
public enum EventKind: String, CaseIterable, Sendable, Codable {
    /// Per optimizer step metrics.
    case step
    /// The rank started; carries the resolved config and output_dir.
    case start
    /// A checkpoint was saved.
    case checkpoint
    /// An evaluation finished.
    case eval
    /// Something worth a look that does not stop training.
    case warning
    /// Training failed; carries the message.
    case error
    /// The rank is exiting.
    case exit
    /// The publisher had to drop events while its queue was full; carries the count.
    case dropped
    /// The rank is alive, whatever it is doing (version 2): sent every few seconds by a
    /// background thread, so a rank busy in an evaluation or a checkpoint is not taken for hung.
    case heartbeat
}
