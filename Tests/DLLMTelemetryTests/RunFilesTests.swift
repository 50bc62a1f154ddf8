import XCTest
@testable import DLLMTelemetry

/// metrics.jsonl writing and reading, the loss-curve SVG and the tail table.
final class RunFilesTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws { folder = try makeTemporaryDirectory("files") }
    override func tearDown() { removeTemporaryDirectory(folder) }

    func line(_ seq: Int, rank: Int = 0) -> [UInt8] {
        var encoder = EventEncoder(source: EventSource(runID: "r", rank: rank, host: "h"))
        return encoder.encode(.step(StepMetrics(step: seq + 1, loss: 2)), seq: seq, time: 1)
    }

    func testATornLastLineIsCutWhenTheLogIsReopened() throws {
        do {
            let log = try RunLog(directory: folder)
            for seq in 0..<3 { log.append(line(seq)) }
            try log.flush()
        }
        let url = folder.appendingPathComponent(RunLog.fileName)
        let handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
        handle.write(Data(line(3).prefix(40)))  // a crash in the middle of a write
        try handle.close()
        let reopened = try RunLog(directory: folder)
        XCTAssertEqual(reopened.repairedBytes, 40)
        reopened.append(line(3))
        try reopened.flush()
        let events = try EventLogReader.readAll(folder.path)
        XCTAssertEqual(events.map(\.seq), [0, 1, 2, 3])
    }

    func testTheReaderReturnsOnlyWhatWasAppendedAndWaitsForWholeLines() throws {
        let log = try RunLog(directory: folder)
        log.append(line(0))
        try log.flush()
        var reader = EventLogReader(runDirectoryOrFile: folder.path)
        var seen: [Int] = []
        XCTAssertEqual(try reader.readNew { e, _ in seen.append(e.seq) }, 1)
        let url = folder.appendingPathComponent(RunLog.fileName)
        let handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
        let next = line(1)
        handle.write(Data(next.prefix(10)))
        XCTAssertEqual(try reader.readNew { e, _ in seen.append(e.seq) }, 0, "half a line waits")
        handle.write(Data(next.dropFirst(10)) + Data("\nnot json\n".utf8))
        try handle.close()
        XCTAssertEqual(try reader.readNew { e, _ in seen.append(e.seq) }, 1)
        XCTAssertEqual(seen, [0, 1])
        XCTAssertEqual(reader.skippedLines, 1)
    }

    func testLossCurveSVGDrawsEveryRowAndEval() throws {
        var rows: [StepRow] = []
        for step in 1...300 {
            rows.append(StepRow(step: step, ranks: 1, worldSize: 1, loss: 5 / Double(step).squareRoot(), time: 0))
        }
        let svg = LossCurveSVG.render(run: "demo<&>", rows: rows, evals: [.init(step: 100, rank: 0, evalLoss: 0.6)])
        XCTAssertTrue(svg.hasPrefix("<svg"))
        XCTAssertTrue(svg.contains("demo&lt;&amp;&gt;"))
        let path = try XCTUnwrap(svg.components(separatedBy: " d=\"").dropFirst().first?.components(separatedBy: "\"").first)
        XCTAssertEqual(path.components(separatedBy: "L").count, 300)
        XCTAssertTrue(svg.contains(LossCurveSVG.lossColour))
        XCTAssertTrue(svg.contains("<circle"))
        XCTAssertTrue(LossCurveSVG.render(run: "empty", rows: []).contains("no loss values yet"))
    }

    func testTailTableRows() {
        let formatter = TailFormatter()
        let row = StepRow(step: 120, ranks: 4, worldSize: 4, loss: 4.23114, learningRate: 1e-3, gradNorm: 1.2341,
                          tokensPerSecond: 12_345.4, stepTimeMin: 0.7, stepTimeMax: 0.905, communicationShare: 0.125,
                          slowestRank: 3, time: 0)
        let text = formatter.row(row)
        for part in ["120", "4.2311", "1.00e-03", "1.234", "12,345", "905.0", "12%", "r3 905ms"] {
            XCTAssertTrue(text.contains(part), "\(part) in \(text)")
        }
        XCTAssertTrue(formatter.header.contains("slowest"))
        var partial = row
        partial.ranks = 3
        XCTAssertTrue(formatter.row(partial).contains("(3/4 ranks)"))
        XCTAssertEqual(formatter.gap(SequenceGap(from: 5, to: 9), run: "r", rank: 2), "[gap] rank 2: 5 events missing (seq 5–9)")
    }
}
