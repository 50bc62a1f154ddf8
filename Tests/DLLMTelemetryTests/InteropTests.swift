import XCTest
@testable import DLLMTelemetry

/// Other programs on the wire: a Python pyzmq subscriber receives the republished
/// events, a pyzmq pusher's good events are stored and its bad ones counted and
/// dropped; headless Chromium renders the dashboard with a drawn loss curve.
final class InteropTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws { folder = try makeTemporaryDirectory("interop") }
    override func tearDown() { removeTemporaryDirectory(folder) }

    /// Debian's interpreter, which sees python3-zmq (a pyenv python first on PATH may not).
    static let python = URL(fileURLWithPath: "/usr/bin/python3")

    static let script = #"""
        import json, sys, time, zmq

        pull, pub, out = sys.argv[1], sys.argv[2], sys.argv[3]
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(pub)
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 5000)
        push.connect(pull)
        time.sleep(0.7)  # let the subscription reach the collector

        def event(seq, kind, **fields):
            e = {"v": 1, "kind": kind, "run": "py", "rank": 0, "host": "python", "seq": seq, "time": time.time()}
            e.update(fields)
            return json.dumps(e).encode()

        good = [event(0, "start", output_dir=out, world_size=1, total_steps=3, config={"from": "pyzmq"})]
        good += [event(s, "step", step=s, loss=3.0 - s / 2, lr=1e-3, grad_norm=1.0, tokens_per_s=100.0, step_time=0.5)
                 for s in (1, 2, 3)]
        closing = event(4, "exit", status="ok", step=3)
        for m in good[:2]:
            push.send(m)

        valid = json.loads(good[1])
        def mutated(**changes):
            e = dict(valid)
            e.update(changes)
            return json.dumps(e).encode()

        malformed = [good[1][: len(good[1]) // 2],                 # truncated JSON
                     bytes(range(256)) * 8,                         # binary garbage
                     b"\xff\xfe" + good[1],                         # not UTF-8
                     b"",                                           # empty
                     b"[" * 100000,                                 # hostile nesting
                     b"{\"v\": 1, \"kind\": \"step\"} trailing"]    # trailing data
        schema = [mutated(rank="zero"), mutated(loss="high"), mutated(step=1.5), mutated(seq=-1),
                  mutated(kind="explode"), mutated(run="../../etc/passwd")]
        versions = [mutated(v=3), mutated(v=0), mutated(v="1.0") ]
        oversized = [mutated(message="x" * (10 << 20))]           # a 10 MB blob
        for m in malformed + schema + versions + oversized:
            push.send(m)
        push.send_multipart([good[1], b"a second frame"])         # multipart: malformed
        for m in good[2:] + [closing]:
            push.send(m)

        received = []
        deadline = time.time() + 20
        while time.time() < deadline:
            if sub.poll(200):
                topic, payload = sub.recv_multipart()
                received.append({"topic": topic.decode(), "event": json.loads(payload)})
                if topic == b"py/summary":
                    break
        print(json.dumps({"received": received}))
        """#

    func testPyZMQSubscriberAndPusher() throws {
        let probe = try TestProgram.run(Self.python, ["-c", "import zmq"], in: folder, name: "probe")
        guard probe.status == 0 else {
            throw XCTSkip("/usr/bin/python3 has no zmq module (apt-get install python3-zmq; Launchers/run-tests.sh does)")
        }
        let collector = try CollectorFixture(in: folder)
        let runDir = folder.appendingPathComponent("py-run")
        let scriptURL = folder.appendingPathComponent("interop.py")
        try Self.script.write(to: scriptURL, atomically: true, encoding: .utf8)
        let result = try TestProgram.run(Self.python, [scriptURL.path, collector.pull, collector.pub, runDir.path],
                                          in: folder, name: "python", timeout: 60)
        XCTAssertEqual(result.status, 0, result.stderr)
        let output = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        let received = output["received"] as! [[String: Any]]
        let topics = received.map { $0["topic"] as! String }

        // The subscriber got every good event, under RUN/KIND topics, plus rows and the summary.
        let events = received.filter { !["py/row", "py/summary"].contains($0["topic"] as! String) }
        XCTAssertEqual(events.map { ($0["event"] as! [String: Any])["seq"] as! Int }, [0, 1, 2, 3, 4], "\(topics)")
        XCTAssertEqual(events.map { $0["topic"] as! String }, ["py/start", "py/step", "py/step", "py/step", "py/exit"])
        XCTAssertEqual(topics.filter { $0 == "py/row" }.count, 3, "one aggregate row per step")
        XCTAssertEqual(topics.last, "py/summary")

        // Only the good events are stored, in order; the collector kept going after the bad ones.
        let stored = try jsonLines(runDir.appendingPathComponent(RunLog.fileName))
        XCTAssertEqual(stored.map { $0["seq"] as! Int }, [0, 1, 2, 3, 4])
        XCTAssertEqual((stored[0]["config"] as? [String: Any])?["from"] as? String, "pyzmq")

        // Each bad message counted under its reason, visible over HTTP.
        let status = try JSONDecoder().decode(CollectorStatus.self, from: try collector.get("/api/status").body)
        XCTAssertEqual(status.rejected["malformed"], 7, "truncated, garbage, not UTF-8, empty, nesting, trailing, multipart")
        XCTAssertEqual(status.rejected["schema"], 7, "six wrong fields and a string version")
        XCTAssertEqual(status.rejected["version"], 2)
        XCTAssertEqual(status.rejected["oversized"], 1)
        XCTAssertEqual(status.acceptedTotal, 5)
        let metrics = String(decoding: try collector.get("/metrics").body, as: UTF8.self)
        XCTAssertTrue(metrics.contains(#"dllm_collector_rejected_total{reason="oversized"} 1"#), metrics)
        XCTAssertEqual(collector.stop(), 0, "the collector survived and stopped cleanly")
    }

    func testDashboardDrawsTheLossCurveInHeadlessChromium() throws {
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("no chromium (apt-get install chromium; Launchers/run-tests.sh does)")
        }
        let collector = try CollectorFixture(in: folder)
        let runDir = folder.appendingPathComponent("dash")
        let publish = try TestProgram.run(Binaries.collector, ["publish-synthetic", "--address", collector.pull, "--run", "dash",
                                                                "--steps", "400", "--output-dir", runDir.path], in: folder, name: "publisher")
        XCTAssertEqual(publish.status, 0, publish.stderr)
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, (try? collector.get("/api/series"))?.status != 200 { usleep(100_000) }
        let series = try JSONDecoder().decode(RunSeries.self, from: try collector.get("/api/series?run=dash").body)
        XCTAssertEqual(series.step.count, 400)

        let page = collector.http! + "/?run=dash"
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                      "--no-first-run", "--user-data-dir=\(folder.appendingPathComponent("chromium-profile").path)",
                      "--virtual-time-budget=5000", "--window-size=1200,800"]
        // The DOM after the page fetched the series and drew it.
        let dom = try TestProgram.run(URL(fileURLWithPath: chromium), common + ["--dump-dom", page], in: folder, name: "chromium-dom",
                                       timeout: 90)
        XCTAssertEqual(dom.status, 0, dom.stderr)
        let curve = try XCTUnwrap(dom.stdout.components(separatedBy: "<path class=\"curve\"").dropFirst().first,
                                  "no curve in the DOM: \(dom.stdout.prefix(2000))")
        let points = Int(curve.components(separatedBy: "data-points=\"").dropFirst().first?.prefix { $0.isNumber } ?? "") ?? 0
        XCTAssertEqual(points, 400, "the loss curve has every step")
        XCTAssertTrue(curve.contains("stroke=\"\(DashboardPage.lossColour)\""))

        // The screenshot has pixels of the loss colour where the curve is drawn.
        let shot = folder.appendingPathComponent("dashboard.png")
        let capture = try TestProgram.run(URL(fileURLWithPath: chromium), common + ["--screenshot=\(shot.path)", page],
                                           in: folder, name: "chromium-shot", timeout: 90)
        XCTAssertEqual(capture.status, 0, capture.stderr)
        let image = try PNGImage(data: Data(contentsOf: shot))
        XCTAssertEqual(image.width, 1200)
        let red = image.count(rgb: (0xD6, 0x27, 0x28), tolerance: 30)
        XCTAssertGreaterThan(red, 300, "pixels of the loss curve's colour")
        XCTAssertGreaterThan(image.distinctColours, 20, "a drawn page, not a blank one")
        if let keep = ProcessInfo.processInfo.environment["DLLM_DASHBOARD_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(at: shot, to: URL(fileURLWithPath: keep))
        }
        collector.stop()
    }
}
