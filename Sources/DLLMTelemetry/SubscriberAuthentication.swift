import CZMQ

/// The collector's ZAP handler (ZeroMQ RFC 27, "ZAP"): with a token, the PUB socket is
/// a `ZMQ_PLAIN` server, and libzmq asks this handler about every subscriber's
/// handshake on `inproc://zeromq.zap.01`. A subscriber gets in when its PLAIN password
/// is the token (the user name is not checked). Answered from the collector's loop,
/// which wakes at least every 100 ms, so a subscriber's handshake waits at most that.
///
/// PLAIN sends the password in clear text, like the `token` of PUSHed messages.
public final class SubscriberAuthentication {
    static let endpoint = "inproc://zeromq.zap.01"
    private let socket: ZMQSocket
    private let token: String

    /// Binds the handler; call before the PUB socket binds.
    init(_ context: ZMQContext, token: String) throws {
        socket = try ZMQSocket(context, type: ZMQ_REP)
        socket.set(ZMQ_LINGER, Int32(0))
        try socket.bind(Self.endpoint)
        self.token = token
    }

    /// Answers every waiting request; returns how many were refused.
    @discardableResult
    func answer(_ message: ZMQMessage) -> Int {
        var refused = 0
        while socket.receive(message, dontWait: true) {
            // version, request id, domain, address, routing id, mechanism, credentials…
            var frames: [[UInt8]] = [Array(message.bytes)]
            while message.more, socket.receive(message, dontWait: true) { frames.append(Array(message.bytes)) }
            let mechanism = frames.count > 5 ? String(decoding: frames[5], as: UTF8.self) : ""
            let password = frames.count > 7 ? String(decoding: frames[7], as: UTF8.self) : ""
            let allowed = mechanism == "PLAIN" && EventValidator.constantTimeEqual(password, token)
            if !allowed { refused += 1 }
            let reply: [[UInt8]] = [Array("1.0".utf8), frames.count > 1 ? frames[1] : [],
                                    Array((allowed ? "200" : "400").utf8), Array((allowed ? "OK" : "wrong or missing token").utf8), [], []]
            for (k, frame) in reply.enumerated() { socket.send(frame, dontWait: true, more: k < reply.count - 1) }
        }
        return refused
    }

    func close() { socket.close() }

    /// Makes `socket` (a SUB) present `token` as its PLAIN password.
    public static func present(_ token: String, on socket: ZMQSocket) {
        socket.set(ZMQ_PLAIN_USERNAME, bytes: Array("dllm".utf8))
        socket.set(ZMQ_PLAIN_PASSWORD, bytes: Array(token.utf8))
    }
}
