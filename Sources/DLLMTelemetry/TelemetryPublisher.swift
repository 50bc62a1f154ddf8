import CZMQ
import Foundation

/// Sends one rank's events to a collector over a ZeroMQ PUSH socket, without ever
/// blocking or failing the caller.
///
/// - Every send is `zmq_send(…, ZMQ_DONTWAIT)` into a queue bounded by `ZMQ_SNDHWM`
///   (`queueLimit` messages); ZeroMQ's I/O thread does the network work. While the
///   collector is down or slow the queue fills, and further events are dropped and
///   counted instead of waiting.
/// - Every message carries a per-rank sequence number (dropped ones too), so gaps are
///   visible to the collector; when a send succeeds again the publisher first sends a
///   `dropped` event with the count.
/// - ZeroMQ reconnects by itself. A socket monitor tells the publisher when it has
///   reconnected, and it then sends its `start` event again (`"resent": true`), so a
///   restarted collector learns the run's output folder and config.
///
/// - `startHeartbeat(every:)` adds a background thread that sends a `heartbeat` event
///   (with the last step sent) every few seconds, whatever the caller is doing, so a
///   launcher can tell a rank busy in an evaluation or a checkpoint from a frozen one.
///
/// Thread-safe: calls are serialised by a lock held only for the encode and enqueue.
// @unchecked Sendable: the counters, the encoder and both sockets are touched only under `lock`
// (after `init`); `configuration` never changes.
public final class TelemetryPublisher: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// The collector's PULL endpoint, e.g. `tcp://10.0.0.5:5555`.
        public var address: String
        public var source: EventSource
        /// `ZMQ_SNDHWM`: messages queued while the collector is slow or away.
        public var queueLimit: Int32 = 10_000
        /// How long `close()` lets queued messages drain to a reachable collector.
        public var lingerMilliseconds: Int32 = 1_000

        public init(address: String, source: EventSource) {
            self.address = address
            self.source = source
        }
    }

    /// Counts since the publisher was created.
    public struct Statistics: Sendable, Equatable {
        /// Messages handed to ZeroMQ (events and `dropped` reports).
        public var sent = 0
        /// Messages that could not be queued.
        public var dropped = 0
        /// Dropped messages not yet reported to the collector.
        public var unreported = 0
        /// Times the connection to the collector was (re)established.
        public var connections = 0
        /// Sequence numbers used (0 ..< numbered): sent and dropped messages alike.
        public var numbered = 0
    }

    public let configuration: Configuration
    private let context: ZMQContext
    private let socket: ZMQSocket
    private let monitor: ZMQSocket
    private let monitorMessage = ZMQMessage()
    private var encoder: EventEncoder
    private let lock = NSLock()
    private var nextSeq = 0
    private var stats = Statistics()
    private var lastStart: RunStart?
    private var announcePending = false
    private var closed = false
    private var lastStep: Int?
    private var exited = false
    private var heartbeatStop: DispatchSemaphore?

    public init(_ configuration: Configuration) throws {
        guard Self.looksLikeEndpoint(configuration.address) else { throw TelemetryError.badAddress(configuration.address) }
        guard WireFormat.isValidRunID(configuration.source.runID.utf8) else {
            throw TelemetryError.badRunID(configuration.source.runID)
        }
        self.configuration = configuration
        encoder = EventEncoder(source: configuration.source)
        context = ZMQContext(ioThreads: 1)
        socket = try ZMQSocket(context, type: ZMQ_PUSH)
        socket.set(ZMQ_SNDHWM, configuration.queueLimit)
        socket.set(ZMQ_LINGER, configuration.lingerMilliseconds)
        // Retry a lost collector after 0.1 s, backing off to once a second: a restarted
        // collector is found within a second, a dead one costs a connect attempt a second.
        socket.set(ZMQ_RECONNECT_IVL, Int32(100))
        socket.set(ZMQ_RECONNECT_IVL_MAX, Int32(1_000))
        // Keep the connection alive across idle stretches, and notice dead peers.
        socket.set(ZMQ_TCP_KEEPALIVE, Int32(1))
        monitor = try ZMQSocket(context, type: ZMQ_PAIR)
        let monitorEndpoint = "inproc://dllm-telemetry-monitor-\(ObjectIdentifier(socket).hashValue)"
        try socket.monitor(monitorEndpoint, events: ZMQ_EVENT_CONNECTED)
        try monitor.connect(monitorEndpoint)
        try socket.connect(configuration.address)
    }

    deinit { close() }

    static func looksLikeEndpoint(_ address: String) -> Bool {
        for scheme in ["tcp://", "ipc://", "inproc://"] where address.hasPrefix(scheme) {
            return address.count > scheme.count
        }
        return false
    }

    public var statistics: Statistics {
        lock.lock(); defer { lock.unlock() }
        var current = stats
        current.numbered = nextSeq
        return current
    }

    /// Queues `event` for the collector; false when it had to be dropped. Never blocks.
    @discardableResult
    public func publish(_ event: TelemetryEvent) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard !closed else { return false }
        let now = Date().timeIntervalSince1970
        pollMonitor()
        if stats.unreported > 0 {
            let report = encoder.encodeDropped(count: stats.unreported, total: stats.dropped, seq: nextSeq, time: now)
            nextSeq += 1
            if enqueue(report) { stats.unreported = 0 }
        }
        if announcePending, let start = lastStart {
            let message = encoder.encode(.start(start), seq: nextSeq, time: now, resent: true)
            nextSeq += 1
            if enqueue(message) { announcePending = false }
        }
        switch event {
        case .start(let start): lastStart = start
        case .step(let metrics): lastStep = metrics.step
        case .exit:
            // Nothing follows a rank's exit event, not even a heartbeat.
            exited = true
            heartbeatStop?.signal()
        case .heartbeat: if exited { return false }
        default: break
        }
        let message = encoder.encode(event, seq: nextSeq, time: now)
        nextSeq += 1
        return enqueue(message)
    }

    private func enqueue(_ message: [UInt8]) -> Bool {
        if socket.send(message, dontWait: true) {
            stats.sent += 1
            return true
        }
        stats.dropped += 1
        stats.unreported += 1
        return false
    }

    /// Reads the monitor's events without waiting: a connection after the first means
    /// the collector came back, so the start event is sent again.
    private func pollMonitor() {
        while monitor.receive(monitorMessage, dontWait: true) {
            let isFirstFrame = monitorMessage.count == 6
            while monitor.hasMore { _ = monitor.receive(monitorMessage, dontWait: true) }
            guard isFirstFrame else { continue }
            stats.connections += 1
            if stats.connections > 1 { announcePending = lastStart != nil }
        }
    }

    /// The step of the latest `step` event published, if any.
    public var lastPublishedStep: Int? {
        lock.lock(); defer { lock.unlock() }
        return lastStep
    }

    /// Publishes `heartbeat` (carrying `lastPublishedStep`) every `interval` seconds from a
    /// background thread until `close()`. A frozen process (SIGSTOP, a hung host) stops its
    /// heartbeats too; one busy computing does not. Calls after the first do nothing.
    public func startHeartbeat(every interval: Double) {
        lock.lock()
        guard !closed, heartbeatStop == nil, interval > 0, interval.isFinite else { lock.unlock(); return }
        let stop = DispatchSemaphore(value: 0)
        heartbeatStop = stop
        lock.unlock()
        let thread = Thread { [weak self] in
            while stop.wait(timeout: .now() + interval) == .timedOut {
                guard let self else { return }
                self.publish(.heartbeat(step: self.lastPublishedStep))
            }
        }
        thread.name = "dllm-telemetry-heartbeat"
        thread.start()
    }

    /// Closes the socket (and stops the heartbeat); queued messages get `lingerMilliseconds`
    /// to reach a collector.
    public func close() {
        lock.lock(); defer { lock.unlock() }
        guard !closed else { return }
        closed = true
        heartbeatStop?.signal()
        monitor.close()
        socket.close()
    }
}
