import XCTest
@testable import DLLMTelemetry

/// Per-step aggregation across ranks, sequence-gap bookkeeping, and run state.
final class AggregationTests: XCTestCase {
    func stepEvent(rank: Int, step: Int, seq: Int, loss: Double, stepTime: Double, comm: Double = 0, run: String = "r") -> ReceivedEvent {
        var e = ReceivedEvent(kind: .step, run: run, rank: rank, host: "h\(rank)", seq: seq, time: Double(step))
        e.step = step
        e.loss = loss
        e.learningRate = 1e-3
        e.gradNorm = 1
        e.tokensPerSecond = 1000
        e.stepTime = stepTime
        e.communicationTime = comm
        return e
    }

    func testARowAppearsWhenEveryRankReportedTheStep() {
        var aggregator = StepAggregator(worldSize: 3)
        XCTAssertTrue(aggregator.add(stepEvent(rank: 0, step: 1, seq: 1, loss: 1, stepTime: 0.5, comm: 0.1)).isEmpty)
        XCTAssertTrue(aggregator.add(stepEvent(rank: 2, step: 1, seq: 1, loss: 3, stepTime: 0.9, comm: 0.3)).isEmpty)
        XCTAssertTrue(aggregator.add(stepEvent(rank: 2, step: 1, seq: 2, loss: 99, stepTime: 9)).isEmpty, "a repeated report is ignored")
        let rows = aggregator.add(stepEvent(rank: 1, step: 1, seq: 1, loss: 2, stepTime: 0.6, comm: 0.2))
        XCTAssertEqual(rows.count, 1)
        let row = rows[0]
        XCTAssertEqual(row.step, 1)
        XCTAssertTrue(row.complete)
        XCTAssertEqual(row.loss, 2)
        XCTAssertEqual(row.lossMin, 1)
        XCTAssertEqual(row.lossMax, 3)
        XCTAssertEqual(row.stepTimeMin, 0.5)
        XCTAssertEqual(row.stepTimeMax, 0.9)
        XCTAssertEqual(row.slowestRank, 2)
        XCTAssertEqual(row.tokensPerSecond, 3000)
        XCTAssertEqual(row.communicationShare!, 0.6 / 2.0, accuracy: 1e-12)
        XCTAssertTrue(aggregator.add(stepEvent(rank: 0, step: 1, seq: 5, loss: 1, stepTime: 1)).isEmpty, "an emitted step stays emitted")
    }

    func testIncompleteStepsAreFlushedAsPartialRows() {
        var aggregator = StepAggregator(worldSize: 2, maxPending: 8)
        var rows: [StepRow] = []
        for step in 1...20 { rows += aggregator.add(stepEvent(rank: 0, step: step, seq: step, loss: 1, stepTime: 1)) }
        XCTAssertFalse(rows.isEmpty, "rank 1 never reports: old steps come out partial")
        XCTAssertTrue(rows.allSatisfy { !$0.complete && $0.ranks == 1 })
        XCTAssertEqual(rows.map(\.step), Array(rows.map(\.step).sorted()))
        rows += aggregator.flush()
        XCTAssertEqual(rows.map(\.step), Array(1...20))
    }

    func testSequenceGapsAndSessions() {
        var rank = RankProgress(rank: 0, host: "h")
        XCTAssertNil(rank.observe(seq: 0))
        XCTAssertNil(rank.observe(seq: 1))
        XCTAssertEqual(rank.observe(seq: 5), SequenceGap(from: 2, to: 4))
        XCTAssertNil(rank.observe(seq: 6))
        XCTAssertNil(rank.observe(seq: 3))
        XCTAssertEqual(rank.outOfOrder, 1)
        XCTAssertNil(rank.observe(seq: 0), "a restarted publisher starts again at 0")
        XCTAssertEqual(rank.sessions, 2)
        XCTAssertEqual(rank.missing, 3)
        var late = RankProgress(rank: 1, host: "h")
        XCTAssertEqual(late.observe(seq: 10), SequenceGap(from: 0, to: 9), "the first messages of a rank never arrived")
    }

    func testRunStateFollowsLifecycleAndSummarises() {
        let run = RunState(id: "r")
        var start = ReceivedEvent(kind: .start, run: "r", rank: 0, host: "h", seq: 0, time: 10)
        start.worldSize = 2
        start.totalSteps = 3
        start.outputDir = "/out"
        run.apply(start)
        start.rank = 1
        run.apply(start)
        var seq = 1
        for step in 1...3 {
            for rank in 0..<2 {
                run.apply(stepEvent(rank: rank, step: step, seq: seq, loss: Double(10 - step) + Double(rank), stepTime: 1 + Double(rank)))
            }
            seq += 1
        }
        XCTAssertEqual(run.rows.map(\.step), [1, 2, 3])
        var eval = ReceivedEvent(kind: .eval, run: "r", rank: 0, host: "h", seq: seq, time: 20)
        eval.step = 3
        eval.evalLoss = 6
        run.apply(eval)
        XCTAssertFalse(run.allExited)
        var exit = ReceivedEvent(kind: .exit, run: "r", rank: 0, host: "h", seq: seq + 1, time: 21)
        exit.status = "ok"
        run.apply(exit)
        XCTAssertFalse(run.allExited)
        exit.rank = 1
        exit.seq = seq + 5
        run.apply(exit)
        XCTAssertTrue(run.allExited)
        let summary = run.summary(endedBy: "exit", lossCurve: nil)
        XCTAssertTrue(summary.complete)
        XCTAssertEqual(summary.worldSize, 2)
        XCTAssertEqual(summary.lastStep, 3)
        XCTAssertEqual(summary.finalLoss, 7.5)
        XCTAssertEqual(summary.minLoss, 7.5)
        XCTAssertEqual(summary.evals.first?.evalLoss, 6)
        XCTAssertEqual(summary.missingEvents, 5, "rank 1 went from seq \(seq - 1) to \(seq + 5)")
        XCTAssertEqual(summary.ranks[1].gaps, [SequenceGap(from: seq, to: seq + 4)])
        XCTAssertEqual(summary.events["step"], 6)
        XCTAssertEqual(summary.maxStepTime, 2)
    }
}
