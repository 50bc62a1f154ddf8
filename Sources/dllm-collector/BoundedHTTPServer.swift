import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The collector's HTTP server: HTTP/1.1 GET requests, one per connection, served by
/// one thread with `poll(2)`, with every resource bounded (issue 17, defect 2):
///
/// - a request head (request line and headers) larger than `maxHeadBytes` gets 431 and
///   the connection is closed; the head is scanned once, so the cost is linear in its
///   size (FlyingFox 0.27, used before, re-scanned each header line: quadratic);
/// - a connection that has not been answered and written out within
///   `connectionSeconds` is closed (slow or half-sent requests);
/// - at most `maxConnections` are open; a new one beyond that closes the oldest, so
///   clients that hold connections open cannot keep a quick request out, and a full
///   file-descriptor table only pauses accepting (the listening socket stays);
/// - signals never go through here (the collector handles them on Dispatch sources),
///   so SIGTERM is handled however busy this thread is.
final class BoundedHTTPServer: @unchecked Sendable {
    struct Limits {
        var maxHeadBytes = 16 * 1024
        var connectionSeconds = 5.0
        var maxConnections = 64
    }

    struct Request {
        var method: String
        var path: String
        var query: [(name: String, value: String)]
        /// Header names in lower case.
        var headers: [String: String]

        func query(_ name: String) -> String? { query.first { $0.name == name }?.value }
    }

    struct Response {
        var status: Int
        var contentType: String
        var body: [UInt8]
        var extraHeaders: [(String, String)] = []

        static func json(_ status: Int, _ text: String) -> Response { Response(status: status, contentType: "application/json", body: Array(text.utf8)) }
    }

    typealias Handler = @Sendable (Request) -> Response

    let port: Int
    let host: String
    private let listener: Int32
    private let limits: Limits
    private let handler: Handler
    private let wake: (read: Int32, write: Int32)
    private let finished = DispatchSemaphore(value: 0)
    private let counterLock = NSLock()
    private var counters = Counters()

    /// Connections refused or cut, by reason (for tests and diagnostics).
    struct Counters { var headTooLarge = 0, timedOut = 0, evicted = 0, acceptFailures = 0 }
    var refused: Counters { counterLock.lock(); defer { counterLock.unlock() }; return counters }

    /// Binds `host:port` (`*` or `0.0.0.0`: every IPv4 interface; an address with `:`: IPv6).
    init(host: String, port: Int, limits: Limits = Limits(), handler: @escaping Handler) throws {
        self.limits = limits
        self.handler = handler
        let v6 = host.contains(":")
        let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TelemetryHTTPError.listen("\(host):\(port)", String(cString: strerror(errno))) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var boundPort = 0
        let result: Int32
        if v6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else { close(fd); throw TelemetryHTTPError.badAddress(host) }
            result = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            if host == "*" || host == "0.0.0.0" {
                address.sin_addr.s_addr = INADDR_ANY
            } else {
                guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { close(fd); throw TelemetryHTTPError.badAddress(host) }
            }
            result = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        guard result == 0, listen(fd, 128) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw TelemetryHTTPError.listen("\(host):\(port)", reason)
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &storage) { _ = $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        if v6 {
            boundPort = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        } else {
            boundPort = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        }
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { close(fd); throw TelemetryHTTPError.listen("\(host):\(port)", "pipe failed") }
        for end in pipeEnds { Self.makeNonBlocking(end) }
        listener = fd
        wake = (pipeEnds[0], pipeEnds[1])
        self.port = boundPort
        self.host = host
        let thread = Thread { [self] in
            serve()
            finished.signal()
        }
        thread.name = "collector-http"
        thread.start()
    }

    /// `http://HOST:PORT` as bound.
    var url: String { host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host == "*" ? "0.0.0.0" : host):\(port)" }

    /// Closes every connection and the listening socket.
    func stop() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
        finished.wait()
        close(wake.read)
        close(wake.write)
    }

    private final class Connection {
        let fd: Int32
        let opened = DispatchTime.now().uptimeNanoseconds
        var head: [UInt8] = []
        var scanned = 0
        var output: [UInt8]?
        var written = 0
        /// Answered: what the client still sends is read and dropped until it closes
        /// (closing with unread bytes would reset the connection and could cut the answer).
        var draining = false
        init(fd: Int32) { self.fd = fd }
    }

    private func count(_ update: (inout Counters) -> Void) {
        counterLock.lock()
        update(&counters)
        counterLock.unlock()
    }

    private func serve() {
        var connections: [Connection] = []
        var acceptPausedUntil: UInt64 = 0
        defer {
            for c in connections { close(c.fd) }
            close(listener)
        }
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            let accepting = now >= acceptPausedUntil
            var fds = [pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: listener, events: accepting ? Int16(POLLIN) : 0, revents: 0)]
            for c in connections { fds.append(pollfd(fd: c.fd, events: Int16(c.output == nil || c.draining ? POLLIN : POLLOUT), revents: 0)) }
            _ = poll(&fds, nfds_t(fds.count), 200)
            if fds[0].revents != 0 { return }
            var closed = Set<Int32>()
            for (k, c) in connections.enumerated() where fds[k + 2].revents != 0 {
                if !service(c) { closed.insert(c.fd) }
            }
            let deadline = UInt64(limits.connectionSeconds * 1e9)
            for c in connections where !closed.contains(c.fd) && DispatchTime.now().uptimeNanoseconds - c.opened > deadline {
                closed.insert(c.fd)
                if !c.draining { count { $0.timedOut += 1 } }
            }
            for fd in closed { close(fd) }
            connections.removeAll { closed.contains($0.fd) }
            if fds[1].revents & Int16(POLLIN) != 0 {
                while true {
                    let fd = accept(listener, nil, nil)
                    if fd < 0 {
                        if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM {
                            // Out of descriptors: keep the listening socket, try again shortly.
                            count { $0.acceptFailures += 1 }
                            acceptPausedUntil = DispatchTime.now().uptimeNanoseconds + 100_000_000
                        }
                        break
                    }
                    Self.makeNonBlocking(fd)
                    if connections.count >= limits.maxConnections {
                        let oldest = connections.removeFirst()
                        close(oldest.fd)
                        count { $0.evicted += 1 }
                    }
                    connections.append(Connection(fd: fd))
                }
            }
        }
    }

    /// Reads or writes what the socket allows; false when the connection is done.
    private func service(_ c: Connection) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        if c.draining {
            while true {
                let n = chunk.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
                if n == 0 { return false }
                if n < 0 { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR }
            }
        }
        if c.output != nil { return flush(c) }
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return false }
            if n < 0 { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR }
            c.head.append(contentsOf: chunk[0..<n])
            // Look for the blank line only in what is new (and the 3 bytes before it).
            var k = max(0, c.scanned - 3)
            var end: Int?
            while k + 3 < c.head.count {
                if c.head[k] == 13, c.head[k + 1] == 10, c.head[k + 2] == 13, c.head[k + 3] == 10 { end = k; break }
                k += 1
            }
            c.scanned = c.head.count
            if let end {
                respond(c, handle(Array(c.head[0..<end])))
                return flush(c)
            }
            if c.head.count > limits.maxHeadBytes {
                count { $0.headTooLarge += 1 }
                respond(c, .json(431, #"{"error":"request head larger than \#(limits.maxHeadBytes) bytes"}"#))
                return flush(c)
            }
        }
    }

    private func handle(_ head: [UInt8]) -> Response {
        let text = String(decoding: head, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else { return .json(400, #"{"error":"bad request line"}"#) }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let target = parts[1]
        let pathPart = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [(String, String)] = []
        if pathPart.count == 2 {
            for pair in pathPart[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                func decode(_ s: Substring) -> String { String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s) }
                query.append((decode(kv[0]), kv.count == 2 ? decode(kv[1]) : ""))
            }
        }
        let request = Request(method: String(parts[0]), path: String(pathPart[0]), query: query.map { (name: $0.0, value: $0.1) }, headers: headers)
        guard request.method == "GET" || request.method == "HEAD" else { return .json(405, #"{"error":"only GET"}"#) }
        var response = handler(request)
        if request.method == "HEAD" { response.body = [] }
        return response
    }

    private func respond(_ c: Connection, _ response: Response) {
        var head = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
        head += "Content-Type: \(response.contentType)\r\nContent-Length: \(response.body.count)\r\nConnection: close\r\nCache-Control: no-store\r\n"
        for (name, value) in response.extraHeaders { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        c.output = Array(head.utf8) + response.body
        c.written = 0
    }

    private func flush(_ c: Connection) -> Bool {
        guard let output = c.output else { return true }
        while c.written < output.count {
            let n = output.withUnsafeBytes { send(c.fd, $0.baseAddress! + c.written, output.count - c.written, Int32(MSG_NOSIGNAL)) }
            if n < 0 { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR }
            c.written += n
        }
        shutdown(c.fd, Int32(SHUT_WR))
        c.draining = true
        return true
    }

    /// O_NONBLOCK and FD_CLOEXEC (Glibc's Swift overlay has no accept4/pipe2).
    static func makeNonBlocking(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 431: return "Request Header Fields Too Large"
        default: return "Error"
        }
    }
}

enum TelemetryHTTPError: Error, CustomStringConvertible {
    case listen(String, String)
    case badAddress(String)

    var description: String {
        switch self {
        case let .listen(address, reason): return "cannot listen on \(address) for HTTP: \(reason)"
        case let .badAddress(host): return "--bind \(host): expected an IPv4 or IPv6 address of this machine, or *"
        }
    }
}
