import DLLMTelemetry
import FlyingFox
import FlyingSocks
import Foundation
import Synchronization

/// The collector's HTTP side (FlyingFox): the dashboard page, its JSON, and the
/// Prometheus text endpoint. Everything is read from `CollectorCore` snapshots.
///
///     GET /              dashboard (self-contained HTML, polls /api/series)
///     GET /api/series    curves of ?run=ID (default: the most recently active run)
///     GET /api/status    counters, runs, ranks, gaps
///     GET /metrics       Prometheus text format
final class HTTPService: Sendable {
    let server: HTTPServer
    let task: Task<Void, Error>

    private init(server: HTTPServer, task: Task<Void, Error>) {
        self.server = server
        self.task = task
    }

    static func start(core: CollectorCore, host: String, port: UInt16) async throws -> HTTPService {
        let address: any SocketAddress
        do {
            if host == "*" || host == "0.0.0.0" {
                address = sockaddr_in.inet(port: port)
            } else if host.contains(":") {
                address = try sockaddr_in6.inet6(ip6: host, port: port)
            } else {
                address = try sockaddr_in.inet(ip4: host, port: port)
            }
        } catch {
            throw TelemetryError.badOption(name: "--bind", value: host, expected: "an IPv4 or IPv6 address of this machine, or *")
        }
        let server = HTTPServer(address: address, timeout: 15, logger: .disabled)
        let exporter = PrometheusExporter()
        let json = JSONEncoder()
        json.outputFormatting = [.sortedKeys]

        await server.appendRoute("GET /") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                         body: Data(DashboardPage.html.utf8))
        }
        await server.appendRoute("GET /metrics") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                         body: Data(exporter.render(core.status())))
        }
        await server.appendRoute("GET /api/status") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "application/json"], body: try json.encode(core.status()))
        }
        await server.appendRoute("GET /api/series") { request in
            let run = request.query.first { $0.name == "run" }?.value
            guard let series = core.series(run: run?.isEmpty == false ? run : nil) else {
                return HTTPResponse(statusCode: .notFound, headers: [.contentType: "application/json"],
                                    body: Data(#"{"error":"no runs yet"}"#.utf8))
            }
            return HTTPResponse(statusCode: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                                body: try json.encode(series))
        }
        // Wait until it listens, or report at once why it could not (e.g. the port is taken).
        let failure = FailureBox()
        let task = Task {
            do { try await server.run() } catch {
                failure.set(error)
                throw error
            }
        }
        for _ in 0..<200 {
            if await server.listeningAddress != nil { return HTTPService(server: server, task: task) }
            if let error = failure.error { throw TelemetryError.listen(address: "\(host):\(port)", reason: "\(error)") }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        task.cancel()
        throw TelemetryError.listen(address: "\(host):\(port)", reason: "not listening after 10 s")
    }

    /// `http://HOST:PORT` as actually bound.
    var url: String {
        get async {
            guard let address = await server.listeningAddress else { return "" }
            switch address {
            case .ip4(let ip, let port): return "http://\(ip):\(port)"
            case .ip6(let ip, let port): return "http://[\(ip)]:\(port)"
            default: return ""
            }
        }
    }

    func stop() async {
        await server.stop(timeout: 1)
        task.cancel()
    }
}

/// The error the server task ended with, readable from another task.
final class FailureBox: Sendable {
    private let stored = Mutex<(any Error)?>(nil)
    func set(_ error: any Error) { stored.withLock { $0 = error } }
    var error: (any Error)? { stored.withLock { $0 } }
}
