import XCTest
@testable import DLLMTelemetry

/// Issue 17, defects 8 and 9 on the real `dllm-collector` binary: a collector bound
/// beyond loopback makes a token and asks for it on PULL, PUB and HTTP; an unknown
/// run is a 404; `tail` counts the lines it cannot read.
final class CollectorAccessTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws { folder = try makeTemporaryDirectory("access") }
    override func tearDown() { removeTemporaryDirectory(folder) }

    func publisher(_ address: String, run: String, steps: Int, token: String?) throws -> TestProgram {
        try TestProgram(Binaries.collector, ["publish-synthetic", "--address", address, "--run", run, "--rank", "0", "--world-size", "1",
                                              "--steps", "\(steps)", "--interval", "0.002",
                                              "--output-dir", folder.appendingPathComponent(run).path],
                         in: folder, name: "publisher-\(run)", environment: token.map { ["DLLM_COLLECTOR_TOKEN": $0] } ?? [:])
    }

    func tail(_ address: String, token: String?, name: String) throws -> TestProgram {
        try TestProgram(Binaries.collector, ["tail", "--json", "--follow", "--address", address, "--timeout", "30"],
                        in: folder, name: name, environment: token.map { ["DLLM_COLLECTOR_TOKEN": $0] } ?? ["DLLM_COLLECTOR_TOKEN": ""])
    }

    func testBoundBeyondLoopbackATokenIsMadeAndRequiredOnPullPubAndHTTP() throws {
        let collector = try CollectorFixture(in: folder, arguments: ["--bind", "0.0.0.0"])
        let tokenFile = folder.appendingPathComponent("state/token")
        let token = try String(contentsOf: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertGreaterThanOrEqual(token.count, 32)
        let mode = try FileManager.default.attributesOfItem(atPath: tokenFile.path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600, "only its owner reads the token")
        func local(_ endpoint: String) -> String { endpoint.replacingOccurrences(of: "0.0.0.0", with: "127.0.0.1") }
        let http = local(collector.http!)

        // HTTP: 401 without it, on every path.
        for path in ["/", "/metrics", "/api/status", "/api/series"] {
            XCTAssertEqual(try HTTP.get(http + path).status, 401, path)
        }
        XCTAssertEqual(try HTTP.get(http + "/api/status?token=wrong").status, 401)

        // PUB: a subscriber without it sees nothing, one with it sees the run.
        let outsider = try tail(local(collector.pub), token: nil, name: "tail-outsider")
        let insider = try tail(local(collector.pub), token: token, name: "tail-insider")
        usleep(800_000)  // subscriptions (and their handshakes) reach the collector
        // PULL: only the publisher with the token is stored.
        let good = try publisher(local(collector.pull), run: "inside", steps: 20, token: token)
        let bad = try publisher(local(collector.pull), run: "outside", steps: 20, token: nil)
        XCTAssertEqual(good.wait(timeout: 60), 0, good.stderr)
        XCTAssertEqual(bad.wait(timeout: 60), 0, bad.stderr)
        let summary = folder.appendingPathComponent("inside").appendingPathComponent(RunSummary.fileName)
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: summary.path) && Date() < deadline { usleep(50_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: summary.path), collector.child.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("outside").path))
        usleep(500_000)
        outsider.signal(SIGKILL)
        insider.signal(SIGKILL)
        _ = outsider.wait(timeout: 5)
        _ = insider.wait(timeout: 5)
        XCTAssertTrue(insider.stdout.contains("\"run\":\"inside\""), "the subscriber with the token gets the events")
        XCTAssertEqual(outsider.stdout, "", "the subscriber without it gets nothing")

        let (status, body) = try HTTP.get(http + "/api/status?token=\(token)")
        XCTAssertEqual(status, 200)
        let counters = try JSONDecoder().decode(CollectorStatus.self, from: body)
        XCTAssertGreaterThanOrEqual(counters.rejected["unauthorized"] ?? 0, 22, "the outside publisher's start, steps and exit (and the subscriber)")
        XCTAssertEqual(try HTTP.get(http + "/api/series?run=inside&token=\(token)").status, 200)
        XCTAssertEqual(try HTTP.get(http + "/metrics?token=\(token)").status, 200)

        // Defect 9: an unknown run is not another run's data.
        let unknown = try HTTP.get(http + "/api/series?run=unknown&token=\(token)")
        XCTAssertEqual(unknown.status, 404)
        XCTAssertTrue(String(decoding: unknown.body, as: UTF8.self).contains("unknown"))
        collector.stop()
    }

    func testTailCountsTheLinesItCannotRead() throws {
        let run = folder.appendingPathComponent("mixed")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        var encoder = EventEncoder(source: EventSource(runID: "mixed", rank: 0, host: "h"))
        let good = [encoder.encode(.start(RunStart(outputDir: run.path)), seq: 0, time: 1),
                    encoder.encode(.step(StepMetrics(step: 1, loss: 2)), seq: 1, time: 2),
                    encoder.encode(.exit(.ok, step: 1), seq: 2, time: 3)].map { String(decoding: $0, as: UTF8.self) }
        let lines = [good[0], "not json", good[1], #"{"v":1,"kind":"step"}"#, "{\"v\":9}", good[2]]
        try (lines.joined(separator: "\n") + "\n").write(to: run.appendingPathComponent(RunLog.fileName), atomically: true, encoding: .utf8)
        let result = try TestProgram.run(Binaries.collector, ["tail", run.path], in: folder, name: "tail-file")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("3 line(s)"), result.stderr)
        XCTAssertTrue(result.stdout.contains("[summary]"), result.stdout)
    }
}
