import XCTest
@testable import DLLMTelemetry

/// metrics.jsonl writing and reading, the loss-curve SVG, the tail table, and the
/// test's own PNG decoder.
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

    func testInflaterDecodesFixedAndDynamicBlocks() throws {
        let fixed: [UInt8] = [120, 218, 43, 73, 205, 73, 205, 77, 45, 41, 170, 84, 40, 25, 210, 172, 196, 164, 228, 148, 212, 180, 244,
                              140, 204, 172, 236, 156, 220, 188, 252, 130, 194, 162, 226, 146, 210, 178, 242, 138, 202, 42, 114,
                              100, 0, 177, 8, 112, 250]
        XCTAssertEqual(String(decoding: try Inflater.zlib(fixed), as: UTF8.self),
                       String(repeating: "telemetry ", count: 20) + String(repeating: "abcdefghijklmnopqrstuvwxyz", count: 3))
        let dynamic = try XCTUnwrap(Data(base64Encoded: Self.dynamicBlock))
        XCTAssertEqual(dynamic[2] >> 1 & 3, 2, "the fixture is a dynamic-Huffman block")
        let expected = (0..<400).map { "line \($0): loss \($0 * 7 % 13)\n" }.joined()
        XCTAssertEqual(String(decoding: try Inflater.zlib([UInt8](dynamic)), as: UTF8.self), expected)
    }

    /// zlib.compress(text, 9) of the lines above (Python), a dynamic-Huffman block.
    static let dynamicBlock = """
        eNpl2UGOJDcMRNG9TzFHECNESvR9vDAwsBdzf8Awqipt/lqqG5isj54WX7J//vnXHz/W7z9+/v3r14/1289/j/E+ntdR72O8jn4f7+u430e9jvk+9utY76Nfx/P5p95Puu/zfh378+33o+LzwfJ9/nyyeD8tPp+t3mejZM+UyNkSNWPizJq4Myd69mghSDGLJCTJM0kbScqZpJpJOvjp3JmknkleM8kxk6yZZCPJeyY5keSaST5I8p1J7pm010zaMZO28F/OM2nvmbRzJu1C0j4zaV8k7Z5JuZCUMZNSMyk9k3LPpMyZlIVfozOT8s6kbCTVmkkVSCrNpDKSas+kyplUNZPqzKS6M6l6Jp01k07gbhCSjmfS2Ug6OZNOIemcmXTuTDo9k+6aSTdm0tVMup5Jd8+km7zvaibdg6R7Z9JtJPWaSR0zqTWT2jOp90zqnEldM6nPTOqLpO6ZFGt93eKBa3yJ9/gyLvK1cZOvxFW+Cnf5OrjM18VtvhrX+TNg/PlCIC+eEfPpe2bM0/dMmWdMJfueQfPpeybN85yLvmfWfB7zDJtP3zNsnmko9D3T5tP337j5PPeZN5++Z+A8fc/I+fT9N3OeJzcHMU1hqCIMV4QhizBsEYYuwvBFmMIIwxjhL2VsMmN/OWMTGvtLGqTGpjU2sbGpjU1ubHgjkuCIhDgiSY5ImCOS6IiEOiLBjshDSgEekZBHFOgRBXtEAR9R1EcU+BFFf0QBIFEUSBQIEgWDxAFC4kAhcUQswiFxAJE4kEgcUiQOLBKHGIkDjcQlR+LCI3EBkrgQSVyQJC5MEreoYagkLlgSly6JBkyiKZNo0CSaNokGTqKhk2jwJBo+iQZQoiEULRBFK+h9IkULStEiU7TgFC1CRQtS0QJVtGAVBbCigFYU4IoCXlEALIr8eqEBWRQ0iwJoUVAtEtgiwS0S4CJBLhLoIsEuEvAiQS8S+SLBL/L6emWDX2T6RYZfZPhFhl9k+EWGX2T4RYZftOEXbfpFG37Rpl+0N99J6Rdt+EUbftGGX7ThFyX8ooRflPCLEn5R0i9K+EVJvyjhF+X9euluvnXDLypuRQp+UcEvKvhFBb+o4BcV/aKCX1T0iw78okO/6MAvOuZaAX7RgV904Bcd+EUHftHhvuR+LUwuNyb3a2VyuTO5X0uTy63J5drkfu1NuDi58IsaflHDL2r4RU2/qOEXNf2ihl/U9IsaflHDL17wixf84iVuhuAXL/jFC37xol+84Bcv+sULfnHQLw74xQG/OOAXB/zigF8cxdUX/OKAXxz0iwW/WPSLBb9Y9IsFv1jwiwW/WPCLBb9Y8IsNv9jB5R79YsMvNv1iwy82/WLDLzb8YsMv3vCLN/ziDb94wy/e8It3fm0v4Rdv+sUbfvGmX5zwixN+ccIvTvjFCb844Rcn/OKEX5z0ixN+ca2v/Sz84qJfXPCLC35xwS8u+MUFv7jgFxf84gO/+NAvPvCLD/3is7mApl984Bcf+MUHfvGBX3zhF1/4xRd+8YVffOkXX/jFl37xhV9879eGvblih1/c8Iubf9dp+MUNv7jhFzf84qZf3PCL+39++QfRtpPh
        """
}
