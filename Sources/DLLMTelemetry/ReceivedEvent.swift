/// An event as a collector or reader sees it after validation: the envelope plus
/// whichever of the kind's fields the message carried (docs/telemetry.md lists them).
public struct ReceivedEvent: Sendable, Equatable {
    public var kind: EventKind
    public var run: String
    public var rank: Int
    public var host: String
    public var seq: Int
    /// Unix seconds at the sender.
    public var time: Double

    public var step: Int?
    public var epoch: Double?
    public var loss: Double?
    public var learningRate: Double?
    public var gradNorm: Double?
    public var tokens: Int?
    public var tokensPerSecond: Double?
    public var stepTime: Double?
    public var computeTime: Double?
    public var communicationTime: Double?
    public var dataTime: Double?
    public var residentBytes: Int?
    public var optimizerStateBytes: Int?

    public var outputDir: String?
    public var worldSize: Int?
    public var totalSteps: Int?
    public var resent = false
    public var path: String?
    public var evalLoss: Double?
    public var message: String?
    public var status: String?
    public var count: Int?
    public var total: Int?

    public init(kind: EventKind, run: String, rank: Int, host: String, seq: Int, time: Double) {
        self.kind = kind
        self.run = run
        self.rank = rank
        self.host = host
        self.seq = seq
        self.time = time
    }
}

/// Why a collector refused a message. Each is counted, none stops the collector.
public enum RejectionReason: String, Error, CustomStringConvertible, CaseIterable, Sendable, Codable {
    /// Larger than the collector's message size limit.
    case oversized
    /// Not one frame of valid UTF-8 JSON holding one object.
    case malformed
    /// A `v` the collector does not accept.
    case version
    /// A shared secret is required and the message's `token` is missing or wrong.
    case unauthorized
    /// Valid JSON, but a field is missing, has the wrong type or an impossible value.
    case schema
    /// Valid, but could not be stored (no run folder could be written).
    case unstorable

    public var description: String {
        switch self {
        case .oversized: return "message larger than the collector's limit (--max-message-bytes)"
        case .malformed: return "not a single frame of UTF-8 JSON holding one object"
        case .version: return "wire format version not accepted (upgrade the collector or the publisher)"
        case .unauthorized: return "missing or wrong token (set DLLM_COLLECTOR_TOKEN on the ranks)"
        case .schema: return "a field is missing, repeated, of the wrong type or impossible (see docs/telemetry.md)"
        case .unstorable: return "the run folder could not be written"
        }
    }
}
