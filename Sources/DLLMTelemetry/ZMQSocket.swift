import CZMQ
import Foundation

/// A ZeroMQ context (its I/O threads). Sockets keep their context alive; the
/// context is terminated when the last reference goes, after every socket closed.
// @unchecked Sendable: a libzmq context is thread-safe (zmq_ctx docs) and `handle` never changes.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init(ioThreads: Int32 = 1) {
        handle = zmq_ctx_new()
        zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads)
    }

    deinit { zmq_ctx_term(handle) }

    /// Whether libzmq was built with a security mechanism or transport ("curve", "ipc").
    public static func has(_ capability: String) -> Bool { zmq_has(capability) != 0 }

    /// libzmq's version, e.g. "4.3.4".
    public static var version: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}

/// One ZeroMQ socket. Not thread-safe (ZeroMQ's rule): each owner serialises its
/// calls. Closed on `close()` or when released.
// @unchecked Sendable: handed between threads, never used by two at once: each owner (the
// collector's loop thread, a publisher under its lock) serialises every call, `close` included.
public final class ZMQSocket: @unchecked Sendable {
    public let context: ZMQContext
    private(set) var handle: UnsafeMutableRawPointer?

    public init(_ context: ZMQContext, type: Int32) throws {
        self.context = context
        guard let socket = zmq_socket(context.handle, type) else {
            throw TelemetryError.zeroMQ(call: "zmq_socket", endpoint: "", reason: Self.lastError)
        }
        handle = socket
    }

    deinit { close() }

    /// Closes the socket; pending outgoing messages are kept for `ZMQ_LINGER`.
    public func close() {
        if let handle { zmq_close(handle) }
        handle = nil
    }

    static var lastError: String { String(cString: zmq_strerror(zmq_errno())) }

    public func set(_ option: Int32, _ value: Int32) {
        var v = value
        zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size)
    }

    public func set(_ option: Int32, _ value: Int64) {
        var v = value
        zmq_setsockopt(handle, option, &v, MemoryLayout<Int64>.size)
    }

    public func set(_ option: Int32, bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
    }

    /// Binds and returns the endpoint actually bound (a `*` port resolved).
    @discardableResult
    public func bind(_ endpoint: String) throws -> String {
        guard zmq_bind(handle, endpoint) == 0 else {
            throw TelemetryError.zeroMQ(call: "zmq_bind", endpoint: endpoint, reason: Self.lastError)
        }
        var buffer = [CChar](repeating: 0, count: 512)
        var size = buffer.count
        zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size)
        return String(cString: buffer)
    }

    public func connect(_ endpoint: String) throws {
        guard zmq_connect(handle, endpoint) == 0 else {
            throw TelemetryError.zeroMQ(call: "zmq_connect", endpoint: endpoint, reason: Self.lastError)
        }
    }

    /// Sends one frame; false when it would block (`dontWait`) or failed.
    @discardableResult
    public func send(_ bytes: UnsafeRawBufferPointer, dontWait: Bool = true, more: Bool = false) -> Bool {
        let flags = (dontWait ? ZMQ_DONTWAIT : 0) | (more ? ZMQ_SNDMORE : 0)
        return zmq_send(handle, bytes.baseAddress, bytes.count, flags) >= 0
    }

    @discardableResult
    public func send(_ bytes: [UInt8], dontWait: Bool = true, more: Bool = false) -> Bool {
        bytes.withUnsafeBytes { send($0, dontWait: dontWait, more: more) }
    }

    /// Receives one frame into `message` (reused across calls); false when none is waiting.
    public func receive(_ message: ZMQMessage, dontWait: Bool = true) -> Bool {
        zmq_msg_recv(&message.raw, handle, dontWait ? ZMQ_DONTWAIT : 0) >= 0
    }

    /// Whether the frame just received has more frames after it.
    public var hasMore: Bool {
        var more: Int32 = 0
        var size = MemoryLayout<Int32>.size
        zmq_getsockopt(handle, ZMQ_RCVMORE, &more, &size)
        return more != 0
    }

    /// Waits up to `milliseconds` (-1: forever) for a message to read.
    public func waitReadable(milliseconds: Int) -> Bool {
        var item = zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        return zmq_poll(&item, 1, milliseconds) > 0 && item.revents & Int16(ZMQ_POLLIN) != 0
    }

    /// Waits up to `milliseconds` for either socket to have a message; which ones do.
    public static func waitReadable(_ a: ZMQSocket, _ b: ZMQSocket, milliseconds: Int) -> (Bool, Bool) {
        var items = [zmq_pollitem_t(socket: a.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0),
                     zmq_pollitem_t(socket: b.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)]
        guard zmq_poll(&items, 2, milliseconds) > 0 else { return (false, false) }
        return (items[0].revents & Int16(ZMQ_POLLIN) != 0, items[1].revents & Int16(ZMQ_POLLIN) != 0)
    }

    /// Starts libzmq's socket monitor for `events`, published on an inproc PAIR endpoint.
    public func monitor(_ endpoint: String, events: Int32) throws {
        guard zmq_socket_monitor(handle, endpoint, events) == 0 else {
            throw TelemetryError.zeroMQ(call: "zmq_socket_monitor", endpoint: endpoint, reason: Self.lastError)
        }
    }
}

/// A reusable `zmq_msg_t` for receiving without copying into a fixed buffer.
public final class ZMQMessage {
    var raw = zmq_msg_t()

    public init() { zmq_msg_init(&raw) }
    deinit { zmq_msg_close(&raw) }

    public var count: Int { zmq_msg_size(&raw) }

    /// Whether more frames of the same message follow this one.
    public var more: Bool { zmq_msg_more(&raw) != 0 }

    /// Sends this frame on `socket` without copying it; the message is empty afterwards
    /// (ready for the next receive). False when it could not be queued.
    @discardableResult
    public func forward(to socket: ZMQSocket, more: Bool = false) -> Bool {
        let flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)
        return zmq_msg_send(&raw, socket.handle, flags) >= 0
    }

    /// The frame's bytes, valid until the next receive into this message.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: zmq_msg_data(&raw), count: zmq_msg_size(&raw))
    }
}
