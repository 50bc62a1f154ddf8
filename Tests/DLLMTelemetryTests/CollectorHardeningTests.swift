import CZMQ
import XCTest
@testable import DLLMTelemetry

/// Issue 17, defects 4, 8 and 9 on a real `CollectorCore` fed over loopback ZeroMQ:
/// run ids that are not names, a run id reused by another job, output folders outside
/// the collector's roots, finished runs leaving memory, capped row history, unknown runs.
final class CollectorHardeningTests: XCTestCase {
    var folder: URL!
    typealias Harness = CollectorCoreTests.Harness

    override func setUpWithError() throws { folder = try makeTemporaryDirectory("harden") }
    override func tearDown() { removeTemporaryDirectory(folder) }

    var state: URL { folder.appendingPathComponent("state") }

    func waitUntil(_ what: String, timeout: Double = 20, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            if Date() > deadline { throw TestFailure("timed out waiting for \(what)") }
            usleep(20_000)
        }
    }

    func testRunIDsThatAreNotPlainNamesAreRefused() throws {
        for bad in ["..", ".", ".hidden", "a/b", "../x"] {
            XCTAssertFalse(WireFormat.isValidRunID(bad.utf8), bad)
        }
        XCTAssertTrue(WireFormat.isValidRunID("a..b".utf8))
        XCTAssertEqual(WireFormat.sanitizedRunID(".."), "-.")
        let harness = try Harness({ $0.unroutedTimeout = 0.2 }, state: state)
        harness.encoder = EventEncoder(source: EventSource(runID: "..", rank: 0, host: "h"))
        harness.send(.start(RunStart(outputDir: folder.appendingPathComponent("dots").path, worldSize: 1)))
        for step in 1...3 { harness.send(.step(StepMetrics(step: step, loss: 1))) }
        try waitUntil("4 refusals") { harness.core.status().rejected["schema"] == 4 }
        usleep(500_000)  // past the unrouted timeout: nothing may have been written anywhere
        harness.stop()
        XCTAssertEqual(harness.core.acceptedCount, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: state.appendingPathComponent(RunLog.fileName).path), "STATE/runs/.. is STATE")
        XCTAssertFalse(FileManager.default.fileExists(atPath: state.appendingPathComponent("runs").appendingPathComponent(RunLog.fileName).path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("dots").path))
    }

    func testASecondJobReusingARunIDWritesToItsOwnFolder() throws {
        let harness = try Harness({ _ in }, state: state)
        let first = folder.appendingPathComponent("job-1"), second = folder.appendingPathComponent("job-2")
        harness.send(.start(RunStart(outputDir: first.path, worldSize: 1)))
        for step in 1...3 { harness.send(.step(StepMetrics(step: step, loss: 1))) }
        harness.waitForAccepted(4)
        harness.encoder = EventEncoder(source: EventSource(runID: "core-run", rank: 0, host: "h"))
        harness.seq = 0
        harness.send(.start(RunStart(outputDir: second.path, worldSize: 1)))
        for step in 1...2 { harness.send(.step(StepMetrics(step: step, loss: 2))) }
        harness.send(.exit(.ok, step: 2))
        try waitUntil("job 2's summary") { FileManager.default.fileExists(atPath: second.appendingPathComponent(RunSummary.fileName).path) }
        harness.stop()
        XCTAssertEqual(try EventLogReader.readAll(first.path).count, 4, "job 1's log holds job 1 only")
        XCTAssertEqual(try EventLogReader.readAll(second.path).filter { $0.kind == .step }.compactMap(\.step), [1, 2], "job 2: its own steps")
        XCTAssertEqual(try EventLogReader.readAll(second.path).count, 4)
        XCTAssertEqual(try RunSummary.load(runDirectory: first.path).endedBy, "replaced")
        XCTAssertEqual(try RunSummary.load(runDirectory: second.path).lastStep, 2)
    }

    /// Found by Launchers/test-multinode.sh: a launcher's collector (`runDirectory` set) used
    /// to reload a run id from the index it shares with every collector of the state
    /// directory, and so wrote a run id that an earlier job had used into that job's folder.
    func testACollectorWithARunDirectoryNeverWritesIntoAnotherJobsFolder() throws {
        let earlier = folder.appendingPathComponent("earlier-job"), launched = folder.appendingPathComponent("launched-job")
        let first = try Harness({ _ in }, state: state)
        first.send(.start(RunStart(outputDir: earlier.path, worldSize: 1)))
        first.send(.step(StepMetrics(step: 1, loss: 1)))
        first.send(.exit(.ok, step: 1))
        try waitUntil("the earlier job's summary") { FileManager.default.fileExists(atPath: earlier.appendingPathComponent(RunSummary.fileName).path) }
        first.stop()

        let second = try Harness({ $0.runDirectory = launched.path }, state: state)
        second.seq = 0
        second.send(.step(StepMetrics(step: 1, loss: 2)))
        second.send(.step(StepMetrics(step: 2, loss: 2)))
        second.send(.exit(.ok, step: 2))
        try waitUntil("the launched job's summary") { FileManager.default.fileExists(atPath: launched.appendingPathComponent(RunSummary.fileName).path) }
        XCTAssertNil(second.core.series(run: "never-sent"), "an unknown run is not read from the run directory")
        second.stop()
        XCTAssertEqual(try EventLogReader.readAll(earlier.path).count, 3, "the earlier job's log holds its own events only")
        XCTAssertEqual(try EventLogReader.readAll(launched.path).compactMap(\.step), [1, 2, 2])
        XCTAssertEqual(try RunSummary.load(runDirectory: launched.path).lastStep, 2)
    }

    func testOutputDirsOutsideTheAllowedFoldersGoToTheStateDirectory() throws {
        let allowed = folder.appendingPathComponent("allowed")
        let harness = try Harness({ $0.outputRoots = [allowed.path] }, state: state)
        let outside = folder.appendingPathComponent("elsewhere")
        harness.send(.start(RunStart(outputDir: outside.path, worldSize: 1)))
        harness.send(.start(RunStart(outputDir: allowed.path + "/../escape", worldSize: 1)))
        harness.send(.exit(.ok, step: 0))
        harness.waitForAccepted(3)
        let fallback = state.appendingPathComponent("runs/core-run")
        try waitUntil("the summary in the state directory") {
            FileManager.default.fileExists(atPath: fallback.appendingPathComponent(RunSummary.fileName).path)
        }
        harness.stop()
        XCTAssertFalse(FileManager.default.fileExists(atPath: outside.path), "nothing created outside the roots")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("escape").path), "'..' does not escape a root")
        XCTAssertEqual(try EventLogReader.readAll(fallback.path).count, 3)

        let inside = allowed.appendingPathComponent("run-a")
        let second = try Harness({ $0.outputRoots = [allowed.path] }, state: folder.appendingPathComponent("state-2"))
        second.send(.start(RunStart(outputDir: inside.path, worldSize: 1)))
        second.send(.exit(.ok, step: 0))
        try waitUntil("the summary under the root") { FileManager.default.fileExists(atPath: inside.appendingPathComponent(RunSummary.fileName).path) }
        second.stop()
    }

    func openFileDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }

    func testFinishedRunsLeaveMemoryAndAreReadBackFromDisk() throws {
        let harness = try Harness({ $0.finishedRetention = 0 }, state: state)
        let before = openFileDescriptors()
        let runs = 60
        for k in 0..<runs {
            harness.encoder = EventEncoder(source: EventSource(runID: "r-\(k)", rank: 0, host: "h"))
            harness.seq = 0
            harness.send(.start(RunStart(outputDir: folder.appendingPathComponent("runs/r-\(k)").path, worldSize: 1)))
            for step in 1...(k + 1) { harness.send(.step(StepMetrics(step: step, loss: Double(100 - step)))) }
            harness.send(.exit(.ok, step: k + 1))
        }
        try waitUntil("every run summarised and evicted") {
            harness.core.residentRuns == 0
                && FileManager.default.fileExists(atPath: folder.appendingPathComponent("runs/r-\(runs - 1)/\(RunSummary.fileName)").path)
        }
        XCTAssertLessThanOrEqual(openFileDescriptors(), before + 2, "no log left open")
        let series = try XCTUnwrap(harness.core.series(run: "r-41"), "an evicted run is read back")
        XCTAssertEqual(series.step, Array(1...42))
        XCTAssertEqual(series.loss.last!, 58)
        XCTAssertTrue(series.finished)
        XCTAssertNil(harness.core.series(run: "unknown"), "an unknown run is not another run's data")
        XCTAssertNil(harness.core.series(run: ".."))
        XCTAssertEqual(harness.core.residentRuns, 0, "reading it back does not keep it")
        harness.stop()
    }

    func testRowHistoryIsCappedAndTheSummaryStaysExact() {
        let run = RunState(id: "long")
        var start = ReceivedEvent(kind: .start, run: "long", rank: 0, host: "h", seq: 0, time: 0)
        start.worldSize = 1
        run.apply(start)
        let steps = 3 * RunState.rowLimit
        for step in 1...steps {
            var e = ReceivedEvent(kind: .step, run: "long", rank: 0, host: "h", seq: step, time: Double(step))
            e.step = step
            e.loss = step == 777 ? 0.5 : 10 - Double(step) / Double(steps)
            e.tokensPerSecond = Double(step % 7)
            e.stepTime = step == 1234 ? 9 : 1
            run.apply(e)
        }
        XCTAssertLessThanOrEqual(run.rows.count, RunState.rowLimit)
        XCTAssertEqual(run.rows.first?.step, 1, "the start of the curve is kept")
        XCTAssertEqual(run.rows.last?.step, steps)
        XCTAssertEqual(run.rows.map(\.step), run.rows.map(\.step).sorted())
        let summary = run.summary(endedBy: "exit", lossCurve: nil)
        XCTAssertEqual(summary.stepsAggregated, steps)
        XCTAssertEqual(summary.lastStep, steps)
        XCTAssertEqual(summary.minLoss, 0.5)
        XCTAssertEqual(summary.minLossStep, 777)
        XCTAssertEqual(summary.maxStepTime, 9)
        XCTAssertEqual(summary.finalLoss!, 9, accuracy: 1e-12)
        let meanTokens = Double((1...steps).reduce(0) { $0 + $1 % 7 }) / Double(steps)
        XCTAssertEqual(summary.meanTokensPerSecond!, meanTokens, accuracy: 1e-9)
    }
}
