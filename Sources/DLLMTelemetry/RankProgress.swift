/// A run of sequence numbers that never arrived, inclusive at both ends.
public struct SequenceGap: Codable, Sendable, Equatable, CustomStringConvertible {
    public var from: Int
    public var to: Int
    public var count: Int { to - from + 1 }
    public var description: String { from == to ? "\(from)" : "\(from)–\(to)" }

    public init(from: Int, to: Int) {
        self.from = from
        self.to = to
    }
}

/// What a collector knows about one rank of a run: the sequence numbers seen (and
/// the gaps between them), the publisher's own drop reports, and its latest state.
public struct RankProgress: Codable, Sendable, Equatable {
    public var rank: Int
    public var host: String
    /// Messages received.
    public var events = 0
    /// Highest sequence number received in the current publisher session.
    public var lastSeq: Int?
    /// Sequence numbers never received (dropped by the sender or lost in flight).
    public var missing = 0
    /// The first `maxGaps` gaps, in order.
    public var gaps: [SequenceGap] = []
    /// Messages that arrived with a sequence number at or below the last one.
    public var outOfOrder = 0
    /// Publisher sessions (a rank restarted with a fresh publisher counts one more).
    public var sessions = 1
    /// What the publisher said it dropped (its `dropped` events).
    public var droppedReported = 0
    public var lastStep: Int?
    public var lastTime: Double?
    /// `exit` status, once the rank exited.
    public var exitStatus: String?
    public var errors = 0
    public var warnings = 0

    public static let maxGaps = 64

    enum CodingKeys: String, CodingKey {
        case rank, host, events, lastSeq = "last_seq", missing, gaps, outOfOrder = "out_of_order", sessions
        case droppedReported = "dropped_reported", lastStep = "last_step", lastTime = "last_time"
        case exitStatus = "exit_status", errors, warnings
    }

    public init(rank: Int, host: String) {
        self.rank = rank
        self.host = host
    }

    /// Records an event's sequence number; returns the gap it reveals, if any.
    /// A message numbered 0 after others is a new publisher session (the rank restarted).
    @discardableResult
    public mutating func observe(seq: Int) -> SequenceGap? {
        events += 1
        guard let last = lastSeq else {
            lastSeq = seq
            return seq > 0 ? record(SequenceGap(from: 0, to: seq - 1)) : nil
        }
        if seq == last + 1 {
            lastSeq = seq
            return nil
        }
        if seq > last + 1 {
            lastSeq = seq
            return record(SequenceGap(from: last + 1, to: seq - 1))
        }
        if seq == 0 {
            sessions += 1
            lastSeq = 0
        } else {
            outOfOrder += 1
        }
        return nil
    }

    private mutating func record(_ gap: SequenceGap) -> SequenceGap {
        missing += gap.count
        if gaps.count < Self.maxGaps { gaps.append(gap) }
        return gap
    }

    /// Applies one event of this rank (its sequence number is observed separately).
    public mutating func apply(_ event: ReceivedEvent) {
        if host != event.host { host = event.host }
        lastTime = max(lastTime ?? event.time, event.time)
        switch event.kind {
        case .step: lastStep = max(lastStep ?? 0, event.step ?? 0)
        case .dropped: droppedReported += event.count ?? 0
        case .exit:
            exitStatus = event.status
            if let s = event.step { lastStep = max(lastStep ?? s, s) }
        case .error: errors += 1
        case .warning: warnings += 1
        case .start:
            // A fresh start (not a re-announcement) means the rank runs again.
            if !event.resent { exitStatus = nil }
        default: break
        }
    }
}
