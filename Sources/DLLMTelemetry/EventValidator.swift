import Foundation

/// Checks one message against the wire format — size, JSON, version, shared secret,
/// then every known field's type and each kind's required fields — and produces the
/// typed event and the exact line to store (the `token` member cut out, line breaks
/// between tokens turned into spaces). Unknown fields are allowed and kept (the
/// versioning rule lets later publishers add fields).
public struct EventValidator {
    public struct Accepted {
        public var event: ReceivedEvent
        /// The line to store and republish, when it differs from the message itself.
        public var rewritten: [UInt8]?
    }

    public var maxMessageBytes: Int
    /// When set, messages must carry `"token": <this>`.
    public var token: String?

    private var members: [JSONScanner.Member] = []
    private var slots = [Int](repeating: -1, count: Field.fieldCount)
    private var cachedRun: (bytes: [UInt8], string: String) = ([], "")
    private var cachedHost: (bytes: [UInt8], string: String) = ([], "")

    public init(maxMessageBytes: Int = WireFormat.defaultMaxMessageBytes, token: String? = nil) {
        self.maxMessageBytes = maxMessageBytes
        self.token = token
    }

    /// The event in `bytes`, or why it is refused.
    public mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Result<Accepted, RejectionReason> {
        guard bytes.count <= maxMessageBytes else { return .failure(.oversized) }
        var scanner = JSONScanner(bytes)
        do { try scanner.topLevelMembers(into: &members) } catch JSONScanner.Failure.tooManyMembers {
            return .failure(.schema)
        } catch {
            return .failure(.malformed)
        }

        // Index the known fields and check their types; a known field given twice is
        // ambiguous, so refused. (Buffers are reused across messages.)
        for k in slots.indices { slots[k] = -1 }
        for index in members.indices {
            guard let field = Field.lookup(bytes, members[index]) else { continue }
            if slots[field.rawValue] >= 0 || !field.accepts(members[index]) { return .failure(.schema) }
            slots[field.rawValue] = index
        }
        let members = self.members, slots = self.slots
        func member(_ field: Field) -> JSONScanner.Member? {
            let index = slots[field.rawValue]
            return index >= 0 ? members[index] : nil
        }

        guard let v = member(.v), v.type == .number, let version = v.integer else { return .failure(.schema) }
        guard WireFormat.acceptedVersions.contains(version) else { return .failure(.version) }

        if let required = token {
            guard let given = member(.token), given.type == .string,
                  Self.constantTimeEqual(JSONScanner.string(bytes, given.value, escaped: given.valueEscaped), required)
            else { return .failure(.unauthorized) }
        }

        guard let kindMember = member(.kind), let kind = EventKind.match(bytes, kindMember) else {
            return .failure(.schema)
        }
        guard let runMember = member(.run), !runMember.valueEscaped,
              WireFormat.isValidRunID(UnsafeRawBufferPointer(rebasing: bytes[runMember.value])),
              let rank = member(.rank)?.integer, (0...WireFormat.maxRank).contains(rank),
              let hostMember = member(.host), hostMember.value.count <= 255,
              let seq = member(.seq)?.integer, seq >= 0,
              let timeMember = member(.time), timeMember.type == .number
        else { return .failure(.schema) }
        let time = JSONScanner.double(bytes, timeMember)
        guard time.isFinite else { return .failure(.schema) }

        var event = ReceivedEvent(kind: kind, run: cached(&cachedRun, bytes, runMember), rank: rank,
                                  host: hostMember.valueEscaped ? string(bytes, hostMember) : cached(&cachedHost, bytes, hostMember),
                                  seq: seq, time: time)
        func number(_ field: Field) -> Double? {
            // 1e999 is valid JSON but no finite number: treated as null.
            guard let m = member(field), m.type == .number else { return nil }
            return finite(JSONScanner.double(bytes, m))
        }
        func integer(_ field: Field) -> Int? { member(field)?.integer }
        func text(_ field: Field) -> String? { member(field).map { string(bytes, $0) } }

        event.step = integer(.step)
        switch kind {
        case .step:
            guard event.step != nil, let loss = member(.loss), loss.type == .number || loss.type == .null else {
                return .failure(.schema)
            }
            event.epoch = number(.epoch)
            event.loss = number(.loss)
            event.learningRate = number(.lr)
            event.gradNorm = number(.gradNorm)
            event.tokens = integer(.tokens)
            event.tokensPerSecond = number(.tokensPerSecond)
            event.stepTime = number(.stepTime)
            event.computeTime = number(.computeTime)
            event.communicationTime = number(.commTime)
            event.dataTime = number(.dataTime)
            event.residentBytes = integer(.rssBytes)
            event.optimizerStateBytes = integer(.optimizerBytes)
        case .start:
            event.outputDir = text(.outputDir)
            event.worldSize = integer(.worldSize)
            event.totalSteps = integer(.totalSteps)
            event.resent = member(.resent)?.bool ?? false
        case .checkpoint:
            guard event.step != nil, let path = text(.path) else { return .failure(.schema) }
            event.path = path
        case .eval:
            guard event.step != nil, let loss = member(.evalLoss), loss.type == .number || loss.type == .null else {
                return .failure(.schema)
            }
            event.evalLoss = number(.evalLoss)
        case .warning, .error:
            guard let message = text(.message) else { return .failure(.schema) }
            event.message = message
        case .exit:
            guard let status = text(.status), ExitStatus(rawValue: status) != nil else { return .failure(.schema) }
            event.status = status
        case .dropped:
            guard let count = integer(.count), count >= 1, let total = integer(.total), total >= count else {
                return .failure(.schema)
            }
            event.count = count
            event.total = total
        case .heartbeat:
            break
        }

        let token = slots[Field.token.rawValue]
        let rewritten = token >= 0 || scanner.sawLineBreak ? Self.storedLine(bytes, members, dropping: token) : nil
        return .success(Accepted(event: event, rewritten: rewritten))
    }

    /// The message rebuilt without the member at `dropping` (-1: none) and with raw
    /// line breaks (whitespace between tokens) turned into spaces.
    static func storedLine(_ bytes: UnsafeRawBufferPointer, _ members: [JSONScanner.Member], dropping: Int) -> [UInt8] {
        var line: [UInt8] = [UInt8(ascii: "{")]
        line.reserveCapacity(bytes.count)
        var first = true
        for (index, member) in members.enumerated() where index != dropping {
            if !first { line.append(UInt8(ascii: ",")) }
            first = false
            for byte in bytes[member.whole] { line.append(byte == 0x0A || byte == 0x0D ? 0x20 : byte) }
        }
        line.append(UInt8(ascii: "}"))
        return line
    }

    private func string(_ bytes: UnsafeRawBufferPointer, _ m: JSONScanner.Member) -> String {
        JSONScanner.string(bytes, m.value, escaped: m.valueEscaped)
    }

    /// Run ids and hosts repeat in every message: reuse the last decoded string.
    private func cached(_ cache: inout (bytes: [UInt8], string: String), _ bytes: UnsafeRawBufferPointer,
                        _ m: JSONScanner.Member) -> String {
        let slice = UnsafeRawBufferPointer(rebasing: bytes[m.value])
        let same = cache.bytes.count == slice.count
            && cache.bytes.withUnsafeBytes { memcmp($0.baseAddress!, slice.baseAddress!, slice.count) == 0 }
        if same { return cache.string }
        cache = (Array(slice), String(decoding: slice, as: UTF8.self))
        return cache.string
    }

    /// Equality whose time does not depend on where the strings differ (for secrets).
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(truncatingIfNeeded: x.count ^ y.count) | (x.count == y.count ? 0 : 1)
        for k in 0..<max(x.count, y.count) {
            difference |= (k < x.count ? x[k] : 0) ^ (k < y.count ? y[k] : 0)
        }
        return difference == 0
    }
}

/// The fields the wire format defines, with their wire names and types.
enum Field: Int, CaseIterable {
    case v, kind, run, rank, host, seq, time, token
    case step, epoch, loss, lr, gradNorm, tokens, tokensPerSecond, stepTime, computeTime, commTime, dataTime
    case rssBytes, optimizerBytes
    case outputDir, worldSize, totalSteps, pid, resent, config
    case path, evalLoss, message, status, count, total

    static let fieldCount = Field.allCases.count

    var name: String {
        switch self {
        case .gradNorm: return "grad_norm"
        case .tokensPerSecond: return "tokens_per_s"
        case .stepTime: return "step_time"
        case .computeTime: return "compute_time"
        case .commTime: return "comm_time"
        case .dataTime: return "data_time"
        case .rssBytes: return "rss_bytes"
        case .optimizerBytes: return "optimizer_bytes"
        case .outputDir: return "output_dir"
        case .worldSize: return "world_size"
        case .totalSteps: return "total_steps"
        case .evalLoss: return "eval_loss"
        default: return "\(self)"
        }
    }

    private enum Expected { case string, integer, nonNegativeInteger, numberOrNull, bool, objectOrNull, number }

    private var expected: Expected {
        switch self {
        case .kind, .run, .host, .token, .outputDir, .path, .message, .status: return .string
        case .v, .rank: return .integer
        case .seq, .step, .tokens, .rssBytes, .optimizerBytes, .worldSize, .totalSteps, .pid, .count, .total:
            return .nonNegativeInteger
        case .time: return .number
        case .epoch, .loss, .lr, .gradNorm, .tokensPerSecond, .stepTime, .computeTime, .commTime, .dataTime, .evalLoss:
            return .numberOrNull
        case .resent: return .bool
        case .config: return .objectOrNull
        }
    }

    func accepts(_ m: JSONScanner.Member) -> Bool {
        switch expected {
        case .string: return m.type == .string
        case .integer: return m.type == .number && m.integer != nil
        case .nonNegativeInteger: return m.type == .number && (m.integer ?? -1) >= 0
        case .number: return m.type == .number
        case .numberOrNull: return m.type == .number || m.type == .null
        case .bool: return m.type == .bool
        case .objectOrNull: return m.type == .object || m.type == .null
        }
    }

    /// Every wire name as (length, first 8 bytes, next 8 bytes) — names are at most 16
    /// bytes — so a lookup compares two words per candidate, with no allocation.
    private static let keys: [(length: Int, low: UInt64, high: UInt64, field: Field)] = Field.allCases.map { field in
        let bytes = Array(field.name.utf8)
        precondition(bytes.count <= 16, "wire names fit in 16 bytes")
        return (bytes.count, word(bytes, 0), word(bytes, 8), field)
    }

    private static func word(_ bytes: [UInt8], _ from: Int) -> UInt64 {
        var w: UInt64 = 0
        for k in 0..<8 where from + k < bytes.count { w |= UInt64(bytes[from + k]) << (8 * UInt64(k)) }
        return w
    }

    @inline(__always)
    static func lookup(_ message: UnsafeRawBufferPointer, _ m: JSONScanner.Member) -> Field? {
        if m.keyEscaped {
            let key = JSONScanner.string(message, m.key, escaped: true)
            return Field.allCases.first { $0.name == key }
        }
        let n = m.key.count
        guard n <= 16 else { return nil }
        var low: UInt64 = 0, high: UInt64 = 0
        let start = m.key.lowerBound
        for k in 0..<min(n, 8) { low |= UInt64(message[start + k]) << (8 * UInt64(k)) }
        if n > 8 { for k in 8..<n { high |= UInt64(message[start + k]) << (8 * UInt64(k - 8)) } }
        for entry in keys where entry.low == low && entry.high == high && entry.length == n { return entry.field }
        return nil
    }
}

extension EventKind {
    private static let names: [(bytes: [UInt8], kind: EventKind)] = allCases.map { (Array($0.rawValue.utf8), $0) }

    /// The kind a string member names, compared as bytes (no String is made).
    static func match(_ message: UnsafeRawBufferPointer, _ m: JSONScanner.Member) -> EventKind? {
        guard m.type == .string else { return nil }
        if m.valueEscaped { return EventKind(rawValue: JSONScanner.string(message, m.value, escaped: true)) }
        let n = m.value.count
        let value = message.baseAddress! + m.value.lowerBound
        for entry in names where entry.bytes.count == n {
            if entry.bytes.withUnsafeBytes({ memcmp($0.baseAddress!, value, n) == 0 }) { return entry.kind }
        }
        return nil
    }
}
