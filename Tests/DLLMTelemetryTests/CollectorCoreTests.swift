import CZMQ
import XCTest
@testable import DLLMTelemetry

/// `CollectorCore` in-process, for the paths a subprocess makes awkward: events that
/// arrive before their run's folder is known, runs that never name one, runs that
/// go quiet, and a collector that is stopped.
final class CollectorCoreTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws { folder = try makeTemporaryDirectory("core") }
    override func tearDown() { removeTemporaryDirectory(folder) }

    /// A running core and a PUSH socket into it.
    final class Harness {
        let core: CollectorCore
        let done = DispatchSemaphore(value: 0)
        let context = ZMQContext()
        let push: ZMQSocket
        var encoder = EventEncoder(source: EventSource(runID: "core-run", rank: 0, host: "h"))
        var seq = 0

        init(_ configure: (inout CollectorCore.Configuration) -> Void, state: URL) throws {
            var configuration = CollectorCore.Configuration(stateDirectory: state.path)
            configuration.pullPort = 0
            configuration.pubPort = 0
            configuration.outputRoots = [state.deletingLastPathComponent().path]
            configure(&configuration)
            core = try CollectorCore(configuration)
            core.diagnostics = { _ in }
            let core = self.core, done = self.done
            Thread { core.run(); done.signal() }.start()
            push = try ZMQSocket(context, type: ZMQ_PUSH)
            push.set(ZMQ_LINGER, Int32(1_000))
            try push.connect(core.pullEndpoint)
        }

        func send(_ event: TelemetryEvent) {
            push.send(encoder.encode(event, seq: seq, time: Date().timeIntervalSince1970), dontWait: false)
            seq += 1
        }

        func waitForAccepted(_ n: Int) {
            let deadline = Date().addingTimeInterval(10)
            while core.acceptedCount < n && Date() < deadline { usleep(10_000) }
        }

        func stop() {
            push.close()
            core.stop()
            done.wait()
        }
    }

    func waitFor(_ url: URL, timeout: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !FileManager.default.fileExists(atPath: url.path) && Date() < deadline { usleep(20_000) }
        return FileManager.default.fileExists(atPath: url.path)
    }

    func testEventsBeforeTheStartWaitAndLandInItsFolder() throws {
        let harness = try Harness({ $0.unroutedTimeout = 30 }, state: folder.appendingPathComponent("state"))
        let runDir = folder.appendingPathComponent("late-start")
        for step in 1...5 { harness.send(.step(StepMetrics(step: step, loss: 2))) }
        harness.waitForAccepted(5)
        XCTAssertFalse(FileManager.default.fileExists(atPath: runDir.path), "no folder known yet")
        harness.send(.start(RunStart(outputDir: runDir.path)))
        harness.send(.exit(.ok, step: 5))
        XCTAssertTrue(waitFor(runDir.appendingPathComponent(RunSummary.fileName)))
        harness.stop()
        let events = try EventLogReader.readAll(runDir.path)
        XCTAssertEqual(events.map(\.seq), Array(0...6), "the held events come first, in arrival order")
        XCTAssertEqual(try RunSummary.load(runDirectory: runDir.path).lastStep, 5)
    }

    func testARunThatNeverNamesAFolderGoesToTheStateDirectory() throws {
        let state = folder.appendingPathComponent("state")
        let harness = try Harness({ $0.unroutedTimeout = 0.3 }, state: state)
        for step in 1...3 { harness.send(.step(StepMetrics(step: step, loss: 1))) }
        let log = state.appendingPathComponent("runs/core-run").appendingPathComponent(RunLog.fileName)
        let deadline = Date().addingTimeInterval(10)
        while (try? EventLogReader.readAll(log.path).count) != 3 && Date() < deadline { usleep(20_000) }
        harness.send(.step(StepMetrics(step: 4, loss: 1)))
        harness.waitForAccepted(4)
        harness.stop()
        XCTAssertEqual(try EventLogReader.readAll(log.path).map(\.step), [1, 2, 3, 4])
        let index = try String(contentsOf: state.appendingPathComponent("runs.json"), encoding: .utf8)
        XCTAssertTrue(index.contains("core-run"), "remembered for a restarted collector")
    }

    func testAQuietRunIsSummarisedAfterTheIdleTimeout() throws {
        let harness = try Harness({ $0.idleTimeout = 0.5 }, state: folder.appendingPathComponent("state"))
        let runDir = folder.appendingPathComponent("quiet")
        harness.send(.start(RunStart(outputDir: runDir.path, worldSize: 2)))
        harness.send(.step(StepMetrics(step: 1, loss: 3)))
        XCTAssertTrue(waitFor(runDir.appendingPathComponent(RunSummary.fileName)))
        let summary = try RunSummary.load(runDirectory: runDir.path)
        XCTAssertEqual(summary.endedBy, "idle-timeout")
        XCTAssertFalse(summary.complete)
        XCTAssertEqual(summary.stepsAggregated, 1, "the partial step is in the summary")
        harness.stop()
    }

    func testStoppingTheCollectorWritesOpenRunsSummaries() throws {
        let harness = try Harness({ _ in }, state: folder.appendingPathComponent("state"))
        let runDir = folder.appendingPathComponent("open")
        harness.send(.start(RunStart(outputDir: runDir.path)))
        harness.send(.step(StepMetrics(step: 1, loss: 3)))
        harness.waitForAccepted(2)
        harness.stop()
        XCTAssertEqual(try RunSummary.load(runDirectory: runDir.path).endedBy, "collector-stopped")
        XCTAssertTrue(FileManager.default.fileExists(atPath: runDir.appendingPathComponent(RunSummary.curveFileName).path))
    }

    func testSeriesAndStatusSnapshots() throws {
        let harness = try Harness({ _ in }, state: folder.appendingPathComponent("state"))
        harness.send(.start(RunStart(outputDir: folder.appendingPathComponent("snap").path)))
        for step in 1...50 { harness.send(.step(SyntheticRun(totalSteps: 50, worldSize: 1).metrics(step: step, rank: 0))) }
        harness.waitForAccepted(51)
        let series = try XCTUnwrap(harness.core.series(run: nil, maxPoints: 20))
        XCTAssertEqual(series.run, "core-run")
        XCTAssertLessThanOrEqual(series.step.count, 21)
        XCTAssertEqual(series.step.last, 50, "the last point is always kept")
        let status = harness.core.status()
        XCTAssertEqual(status.accepted["step"], 50)
        XCTAssertEqual(status.runs.first?.latest.first?.step, 50)
        harness.stop()
    }
}
