import DLLMJSON
import DLLMTelemetry
import Foundation
import Synchronization

/// The collector's HTTP side: the dashboard page, its JSON, and the Prometheus text
/// endpoint, served by `BoundedHTTPServer`. Everything is read from `CollectorCore`
/// snapshots.
///
///     GET /              dashboard (self-contained HTML, polls /api/series)
///     GET /api/series    curves of ?run=ID (default: the most recently active run; unknown ID: 404)
///     GET /api/status    counters, runs, ranks, gaps
///     GET /metrics       Prometheus text format
///
/// With a token (`--token-file`, or the one generated when bound beyond loopback),
/// every request must carry it as `Authorization: Bearer TOKEN` or `?token=TOKEN`
/// (the dashboard passes its own `?token=` on to its API calls); others get 401.
final class HTTPService: Sendable {
    let server: BoundedHTTPServer

    private init(server: BoundedHTTPServer) { self.server = server }

    static func start(core: CollectorCore, host: String, port: UInt16, token: String?,
                      limits: BoundedHTTPServer.Limits = .init()) throws -> HTTPService {
        let exporter = PrometheusExporter()
        let server = try BoundedHTTPServer(host: host, port: Int(port), limits: limits) { request in
            if let token, !authorized(request, token: token) {
                var response = BoundedHTTPServer.Response.json(401, #"{"error":"this collector needs its token: Authorization: Bearer TOKEN, or ?token=TOKEN"}"#)
                response.extraHeaders = [("WWW-Authenticate", "Bearer")]
                return response
            }
            return route(request, core: core, exporter: exporter)
        }
        return HTTPService(server: server)
    }

    static func route(_ request: BoundedHTTPServer.Request, core: CollectorCore, exporter: PrometheusExporter) -> BoundedHTTPServer.Response {
        func encoded(_ value: some Encodable) -> BoundedHTTPServer.Response {
            guard let data = try? JSONValueEncoder().bytes(value, sortedKeys: true) else { return .json(500, #"{"error":"cannot encode"}"#) }
            return BoundedHTTPServer.Response(status: 200, contentType: "application/json", body: Array(data))
        }
        switch request.path {
        case "/":
            return BoundedHTTPServer.Response(status: 200, contentType: "text/html; charset=utf-8", body: Array(DashboardPage.html.utf8))
        case "/metrics":
            return BoundedHTTPServer.Response(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
                                              body: Array(exporter.render(core.status())))
        case "/api/status":
            return encoded(core.status())
        case "/api/series":
            let run = request.query("run").flatMap { $0.isEmpty ? nil : $0 }
            guard let series = core.series(run: run) else {
                let message = run.map { "no run \($0) on this collector" } ?? "no runs yet"
                return BoundedHTTPServer.Response(status: 404, contentType: "application/json",
                                                  body: JSONWriter.bytes(.object([("error", .string(message))])))
            }
            return encoded(series)
        default:
            return .json(404, #"{"error":"no such page"}"#)
        }
    }

    static func authorized(_ request: BoundedHTTPServer.Request, token: String) -> Bool {
        if let header = request.headers["authorization"], header.hasPrefix("Bearer ") {
            return EventValidator.constantTimeEqual(String(header.dropFirst("Bearer ".count)), token)
        }
        if let given = request.query("token") { return EventValidator.constantTimeEqual(given, token) }
        return false
    }

    /// `http://HOST:PORT` as actually bound.
    var url: String { server.url }

    func stop() { server.stop() }
}
