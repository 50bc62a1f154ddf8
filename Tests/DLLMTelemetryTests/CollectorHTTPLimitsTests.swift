import Foundation
import XCTest
@testable import DLLMTelemetry

/// Issue 17, defect 2, against the real `dllm-collector` with real sockets on loopback:
/// a huge header line, hundreds of half-sent requests and SIGTERM while they are open.
final class CollectorHTTPLimitsTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws { folder = try makeTemporaryDirectory("http") }
    override func tearDown() { removeTemporaryDirectory(folder) }

    /// A plain TCP client socket to 127.0.0.1:`port`, with a receive timeout.
    final class Client {
        let fd: Int32
        init?(port: Int, receiveTimeout: Int = 20) {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
            var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if connected != 0 { close(fd); return nil }
        }
        deinit { close(fd) }

        /// Sends what it can (a server that answered early may stop reading); bytes sent.
        @discardableResult
        func send(_ text: String) -> Int {
            let bytes = Array(text.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { break }
                offset += n
            }
            return offset
        }

        /// Everything until the server closes (or the receive timeout).
        func receiveAll() -> String {
            var data: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                data += chunk[0..<n]
            }
            return String(decoding: data, as: UTF8.self)
        }
    }

    func port(_ url: String) -> Int { Int(url.split(separator: ":").last!)! }

    func testHugeHeadersSlowClientsAndManyConnectionsNeitherStallTheCollectorNorItsStop() throws {
        let collector = try CollectorFixture(in: folder)
        let http = port(collector.http!)

        // A 1 MB header line is refused after 16 KB, not parsed for minutes.
        let huge = try XCTUnwrap(Client(port: http))
        huge.send("GET /api/status HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 1 << 20) + "\r\n\r\n")
        XCTAssertTrue(huge.receiveAll().hasPrefix("HTTP/1.1 431"), "oversized head")

        // 200 half-sent requests hold connections; a real request still gets through.
        let stalled = (0..<200).compactMap { _ -> Client? in
            let c = Client(port: http)
            c?.send("GET /metrics HTTP/1.1\r\nHost: x\r\n")
            return c
        }
        XCTAssertGreaterThan(stalled.count, 100)
        let answer = try XCTUnwrap(Client(port: http))
        answer.send("GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n")
        let reply = answer.receiveAll()
        XCTAssertTrue(reply.hasPrefix("HTTP/1.1 200"), String(reply.prefix(200)))
        XCTAssertTrue(reply.contains("\"accepted\""), "the status JSON")
        XCTAssertEqual(try HTTP.get(collector.http! + "/api/series?run=nothing").status, 404)

        // The half-sent ones are cut after the request time limit.
        let late = stalled.last!
        XCTAssertEqual(late.receiveAll(), "", "closed without an answer")

        // SIGTERM with connections open (and a slow one arriving): the collector stops and writes its summaries.
        let runDir = folder.appendingPathComponent("during")
        let publisher = try TestProgram(Binaries.collector, ["publish-synthetic", "--address", collector.pull, "--run", "during", "--rank", "0",
                                                             "--world-size", "2", "--steps", "5", "--interval", "0", "--output-dir", runDir.path],
                                        in: folder, name: "publisher")
        XCTAssertEqual(publisher.wait(timeout: 60), 0, publisher.stderr)
        let holding = (0..<50).compactMap { _ -> Client? in
            let c = Client(port: http)
            c?.send("GET / HTTP/1.1\r\nX-Slow: " + String(repeating: "b", count: 8_000))
            return c
        }
        XCTAssertFalse(holding.isEmpty)
        XCTAssertEqual(collector.stop(), 0, "exits on SIGTERM: \(collector.child.stderr)")
        XCTAssertEqual(try RunSummary.load(runDirectory: runDir.path).endedBy, "collector-stopped")
    }
}
