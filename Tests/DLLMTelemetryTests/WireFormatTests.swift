import XCTest
@testable import DLLMTelemetry

/// Every event kind survives encode → validate with its fields intact; the stored
/// line never carries the token or a raw line break.
final class WireFormatTests: XCTestCase {
    let source = EventSource(runID: "run-1", rank: 3, host: "node07")

    func validate(_ bytes: [UInt8], token: String? = nil) -> Result<EventValidator.Accepted, RejectionReason> {
        var validator = EventValidator(token: token)
        return bytes.withUnsafeBytes { validator.validate($0) }
    }

    func accepted(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> ReceivedEvent {
        switch validate(bytes) {
        case .success(let a): return a.event
        case .failure(let reason):
            XCTFail("rejected (\(reason)): \(String(decoding: bytes, as: UTF8.self))", file: file, line: line)
            throw reason
        }
    }

    func testEveryKindRoundTrips() throws {
        var encoder = EventEncoder(source: source)
        let metrics = StepMetrics(step: 42, epoch: 0.25, loss: 3.25, learningRate: 1e-4, gradNorm: 0.75, tokens: 4096,
                                  tokensPerSecond: 5120.5, stepTime: 0.8, computeTime: 0.6, communicationTime: 0.15,
                                  dataTime: 0.05, residentBytes: 1 << 31, optimizerStateBytes: 123_456_789)
        let step = try accepted(encoder.encode(.step(metrics), seq: 7, time: 1_700_000_000.25))
        XCTAssertEqual(step.kind, .step)
        XCTAssertEqual(step.run, "run-1")
        XCTAssertEqual(step.rank, 3)
        XCTAssertEqual(step.host, "node07")
        XCTAssertEqual(step.seq, 7)
        XCTAssertEqual(step.time, 1_700_000_000.25)
        XCTAssertEqual(step.step, 42)
        XCTAssertEqual(step.epoch, 0.25)
        XCTAssertEqual(step.loss, 3.25)
        XCTAssertEqual(step.learningRate, 1e-4)
        XCTAssertEqual(step.gradNorm, 0.75)
        XCTAssertEqual(step.tokens, 4096)
        XCTAssertEqual(step.tokensPerSecond, 5120.5)
        XCTAssertEqual(step.stepTime, 0.8)
        XCTAssertEqual(step.computeTime, 0.6)
        XCTAssertEqual(step.communicationTime, 0.15)
        XCTAssertEqual(step.dataTime, 0.05)
        XCTAssertEqual(step.residentBytes, 1 << 31)
        XCTAssertEqual(step.optimizerStateBytes, 123_456_789)

        let config = Data(#"{"learning_rate": 0.0003,\#n "nested": {"list": [1, 2.5, "three", null, true]}}"#.utf8)
        let startBytes = encoder.encode(.start(RunStart(outputDir: "/runs/x", worldSize: 4, totalSteps: 100, config: config)),
                                        seq: 0, time: 1)
        XCTAssertFalse(startBytes.contains(0x0A), "a message is one line")
        let start = try accepted(startBytes)
        XCTAssertEqual(start.kind, .start)
        XCTAssertEqual(start.outputDir, "/runs/x")
        XCTAssertEqual(start.worldSize, 4)
        XCTAssertEqual(start.totalSteps, 100)
        let parsed = try JSONSerialization.jsonObject(with: Data(startBytes)) as! [String: Any]
        XCTAssertEqual((parsed["config"] as? [String: Any])?["learning_rate"] as? Double, 0.0003)

        let checkpoint = try accepted(encoder.encode(.checkpoint(step: 500, path: "/runs/x/checkpoint-500"), seq: 1, time: 1))
        XCTAssertEqual(checkpoint.path, "/runs/x/checkpoint-500")
        XCTAssertEqual(checkpoint.step, 500)
        let eval = try accepted(encoder.encode(.eval(step: 500, loss: 2.5), seq: 2, time: 1))
        XCTAssertEqual(eval.evalLoss, 2.5)
        let warning = try accepted(encoder.encode(.warning("loss spiked: \"x\" \\ \n\t ✓ 🚀"), seq: 3, time: 1))
        XCTAssertEqual(warning.message, "loss spiked: \"x\" \\ \n\t ✓ 🚀")
        let error = try accepted(encoder.encode(.error("out of memory"), seq: 4, time: 1))
        XCTAssertEqual(error.kind, .error)
        XCTAssertEqual(error.message, "out of memory")
        let exit = try accepted(encoder.encode(.exit(.stopped, step: 77), seq: 5, time: 1))
        XCTAssertEqual(exit.status, "stopped")
        XCTAssertEqual(exit.step, 77)
        let dropped = try accepted(encoder.encodeDropped(count: 12, total: 40, seq: 6, time: 1))
        XCTAssertEqual(dropped.kind, .dropped)
        XCTAssertEqual(dropped.count, 12)
        XCTAssertEqual(dropped.total, 40)
        let heartbeat = try accepted(encoder.encode(.heartbeat(step: 9), seq: 7, time: 1))
        XCTAssertEqual(heartbeat.kind, .heartbeat)
        XCTAssertEqual(heartbeat.step, 9)
        XCTAssertNil(try accepted(encoder.encode(.heartbeat(step: nil), seq: 8, time: 1)).step)
    }

    func testNonFiniteNumbersTravelAsNull() throws {
        var encoder = EventEncoder(source: source)
        let bytes = encoder.encode(.step(StepMetrics(step: 1, loss: .nan, gradNorm: .infinity)), seq: 0, time: 1)
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertTrue(text.contains(#""loss":null"#), text)
        XCTAssertTrue(text.contains(#""grad_norm":null"#), text)
        let event = try accepted(bytes)
        XCTAssertNil(event.loss)
        XCTAssertNil(event.gradNorm)
    }

    func testTokenIsCheckedAndNeverStored() throws {
        var encoder = EventEncoder(source: EventSource(runID: "r", rank: 0, host: "h", token: "s3cret"))
        let bytes = encoder.encode(.warning("hi"), seq: 0, time: 1)
        guard case .success(let ok) = validate(bytes, token: "s3cret") else { return XCTFail("right token refused") }
        let stored = String(decoding: ok.rewritten ?? bytes, as: UTF8.self)
        XCTAssertFalse(stored.contains("s3cret"), stored)
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(stored.utf8)) as? [String: Any])
        XCTAssertEqual(validate(bytes, token: "other").failure, .unauthorized)
        var plain = EventEncoder(source: EventSource(runID: "r", rank: 0, host: "h"))
        XCTAssertEqual(validate(plain.encode(.warning("hi"), seq: 0, time: 1), token: "s3cret").failure, .unauthorized)
        // A token in the middle of the object, from another client, is cut out too.
        let middle = Array(#"{"v":1,"token":"s3cret","kind":"warning","run":"r","rank":0,"host":"h","seq":0,"time":1,"message":"m"}"#.utf8)
        guard case .success(let m) = validate(middle, token: "s3cret"), let line = m.rewritten else { return XCTFail() }
        XCTAssertEqual(String(decoding: line, as: UTF8.self), #"{"v":1,"kind":"warning","run":"r","rank":0,"host":"h","seq":0,"time":1,"message":"m"}"#)
    }

    func testLineBreaksBetweenTokensBecomeSpaces() throws {
        let message = Array("{\"v\":1,\n\"kind\":\"exit\",\r\n\"run\":\"r\",\"rank\":0,\"host\":\"h\",\"seq\":0,\"time\":1,\"status\":\"ok\"}".utf8)
        guard case .success(let ok) = validate(message), let line = ok.rewritten else { return XCTFail("expected a rewrite") }
        XCTAssertFalse(line.contains(0x0A) || line.contains(0x0D))
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(line)))
    }

    func testUnknownFieldsAreKeptUnchanged() throws {
        let message = Array(#"{"v":1,"kind":"eval","run":"r","rank":1,"host":"h","seq":0,"time":1,"step":5,"eval_loss":2,"perplexity":7.4,"extra":{"a":[1]}}"#.utf8)
        guard case .success(let ok) = validate(message) else { return XCTFail("refused") }
        XCTAssertNil(ok.rewritten, "stored as received")
        XCTAssertEqual(ok.event.evalLoss, 2)
    }

    func testRunIDsAreSanitised() {
        XCTAssertTrue(WireFormat.isValidRunID("llada-pt_01.a:b".utf8))
        XCTAssertFalse(WireFormat.isValidRunID("a/b".utf8))
        XCTAssertFalse(WireFormat.isValidRunID("".utf8))
        XCTAssertFalse(WireFormat.isValidRunID(String(repeating: "x", count: 129).utf8))
        XCTAssertEqual(WireFormat.sanitizedRunID("my run/2"), "my-run-2")
        XCTAssertThrowsError(try TelemetryPublisher(.init(address: "tcp://127.0.0.1:1", source: EventSource(runID: "a b", rank: 0, host: "h"))))
        XCTAssertThrowsError(try TelemetryPublisher(.init(address: "127.0.0.1:5555", source: source))) { error in
            XCTAssertTrue("\(error)".contains("tcp://HOST:PORT"), "\(error)")
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let f) = self { return f }
        return nil
    }
}
