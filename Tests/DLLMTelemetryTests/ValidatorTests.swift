import XCTest
@testable import DLLMTelemetry

/// Malformed, oversized and hostile messages are refused with the right reason and
/// never crash the validator.
final class ValidatorTests: XCTestCase {
    let good = #"{"v":1,"kind":"step","run":"r","rank":0,"host":"h","seq":0,"time":1.5,"step":1,"loss":2.5}"#

    func reason(_ text: String, maxBytes: Int = 1 << 20) -> RejectionReason? {
        reason(Array(text.utf8), maxBytes: maxBytes)
    }

    func reason(_ bytes: [UInt8], maxBytes: Int = 1 << 20) -> RejectionReason? {
        var validator = EventValidator(maxMessageBytes: maxBytes)
        return bytes.withUnsafeBytes { validator.validate($0) }.failure
    }

    func testTheReferenceMessageIsAccepted() {
        XCTAssertNil(reason(good))
    }

    func testSyntaxErrorsAreMalformed() {
        for text in [
            "", " ", "{", "}", "[]", "null", "42", #""text""#,
            String(good.dropLast()), String(good.dropLast(10)),         // truncated
            good + "x", good + good,                                      // trailing data
            #"{"v":1,}"#, #"{"v":1 "kind":"step"}"#, #"{v:1}"#, #"{'v':1}"#,
            #"{"v":01}"#, #"{"v":1.}"#, #"{"v":.5}"#, #"{"v":1e}"#, #"{"v":-}"#, #"{"v":+1}"#,
            #"{"v":NaN}"#, #"{"v":Infinity}"#, #"{"v":tru}"#, #"{"v":nul}"#,
            #"{"a":"\x"}"#, #"{"a":"\u12"}"#, "{\"a\":\"tab\there\"}",
            #"{"a":[1,2}"#, #"{"a":{"b":1]}"#,
        ] {
            XCTAssertEqual(reason(text), .malformed, text)
        }
    }

    func testBinaryGarbageAndBadUTF8AreMalformed() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let garbage = (0..<Int.random(in: 1...512, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            XCTAssertNotNil(reason(garbage))
        }
        let prefix = Array(#"{"v":1,"kind":"warning","run":"r","rank":0,"host":"h","seq":0,"time":1,"message":""#.utf8)
        let suffix = Array(#""}"#.utf8)
        for bad: [UInt8] in [[0xFF], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC3], [0x80]] {
            XCTAssertEqual(reason(prefix + bad + suffix), .malformed, "\(bad)")
        }
        XCTAssertNil(reason(prefix + Array("é ✓ 🚀".utf8) + suffix))
    }

    func testDeepNestingIsRefusedWithoutRecursingFar() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertEqual(reason(#"{"v":1,"config":"# + deep + "}"), .malformed)
        let ok = String(repeating: "[", count: 20) + String(repeating: "]", count: 20)
        XCTAssertNil(reason(String(good.dropLast()) + #","config":{"a":"# + ok + "}}"))
    }

    func testOversizedMessagesAreRefusedBeforeParsing() {
        let blob = String(good.dropLast()) + #","pad":""# + String(repeating: "x", count: 10 << 20) + #""}"#
        XCTAssertEqual(reason(blob), .oversized)
        XCTAssertNil(reason(blob, maxBytes: 11 << 20))
    }

    func testHeartbeatsCarryAnOptionalStep() {
        let heartbeat = #"{"v":2,"kind":"heartbeat","run":"r","rank":3,"host":"h","seq":9,"time":1.5"#
        var validator = EventValidator()
        let bare = Array((heartbeat + "}").utf8)
        guard case .success(let alive) = bare.withUnsafeBytes({ validator.validate($0) }) else { return XCTFail("refused") }
        XCTAssertEqual(alive.event.kind, .heartbeat)
        XCTAssertNil(alive.event.step)
        let withStep = Array((heartbeat + #","step":12}"#).utf8)
        guard case .success(let busy) = withStep.withUnsafeBytes({ validator.validate($0) }) else { return XCTFail("refused") }
        XCTAssertEqual(busy.event.step, 12)
        XCTAssertEqual(reason(heartbeat + #","step":-1}"#), .schema)
    }

    func testVersionsOtherThanOneAndTwoAreRefused() {
        XCTAssertNil(reason(good.replacingOccurrences(of: #""v":1"#, with: #""v":2"#)))
        XCTAssertEqual(reason(good.replacingOccurrences(of: #""v":1"#, with: #""v":3"#)), .version)
        XCTAssertEqual(reason(good.replacingOccurrences(of: #""v":1"#, with: #""v":0"#)), .version)
        XCTAssertEqual(reason(good.replacingOccurrences(of: #""v":1"#, with: #""v":99999999999"#)), .version)
        XCTAssertEqual(reason(good.replacingOccurrences(of: #""v":1"#, with: #""v":"1""#)), .schema)
        XCTAssertEqual(reason(good.replacingOccurrences(of: #""v":1,"#, with: "")), .schema)
    }

    func testWrongTypesAndMissingFieldsAreSchemaErrors() {
        let cases: [(String, String)] = [
            (#""rank":0"#, #""rank":"zero""#), (#""rank":0"#, #""rank":-1"#), (#""rank":0"#, #""rank":0.5"#),
            (#""seq":0"#, #""seq":-3"#), (#""seq":0"#, #""seq":null"#), (#""time":1.5"#, #""time":"now""#),
            (#""step":1"#, #""step":"1""#), (#""step":1"#, #""step":1.5"#), (#""loss":2.5"#, #""loss":"high""#),
            (#""loss":2.5"#, #""loss":[2.5]"#), (#""kind":"step""#, #""kind":"stepp""#), (#""kind":"step""#, #""kind":7"#),
            (#""run":"r""#, #""run":"../../etc""#), (#""run":"r""#, #""run":"""#), (#""host":"h""#, #""host":7"#),
            (#","loss":2.5"#, ""), (#","step":1"#, ""), (#""run":"r","#, ""), (#""host":"h","#, ""),
        ]
        for (from, to) in cases {
            let text = good.replacingOccurrences(of: from, with: to)
            XCTAssertNotEqual(text, good)
            XCTAssertEqual(reason(text), .schema, text)
        }
        // A field given twice is ambiguous.
        XCTAssertEqual(reason(String(good.dropLast()) + #","rank":1}"#), .schema)
        // Kind-specific requirements.
        let base = #"{"v":1,"run":"r","rank":0,"host":"h","seq":0,"time":1,"#
        XCTAssertEqual(reason(base + #""kind":"exit","status":"fine"}"#), .schema)
        XCTAssertEqual(reason(base + #""kind":"checkpoint","step":3}"#), .schema)
        XCTAssertEqual(reason(base + #""kind":"warning"}"#), .schema)
        XCTAssertEqual(reason(base + #""kind":"dropped","count":0,"total":0}"#), .schema)
        XCTAssertEqual(reason(base + #""kind":"start","config":[1]}"#), .schema)
        XCTAssertNil(reason(base + #""kind":"start"}"#))
        XCTAssertNil(reason(base + #""kind":"step","step":3,"loss":null}"#))
    }

    func testHugeNumbersDoNotBecomeInfinity() {
        var validator = EventValidator()
        let text = good.replacingOccurrences(of: #""loss":2.5"#, with: #""loss":1e999"#)
        let result = Array(text.utf8).withUnsafeBytes { validator.validate($0) }
        if case .success(let ok) = result { XCTAssertNil(ok.event.loss.flatMap { $0.isFinite ? nil : $0 }) }
    }

    func testNumbersParseExactlyAsStrtodWould() {
        var generator = SystemRandomNumberGenerator()
        var texts = ["0", "-0", "1", "0.5", "0.05", "1.05", "10.0", "1e-05", "1E+3", "-2.5e-3", "123456789012345678",
                     "1234567890123456789", "0.1", "0.30000000000000004", "9007199254740993", "4.9e-324", "1.7976931348623157e308",
                     "0.000000000000000000000000001", "100000000000000000000000", "3.14159265358979323846264338327950288"]
        for _ in 0..<2_000 {
            let value = Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &generator))
            if value.isFinite { texts.append(value.description) }
            texts.append(Double.random(in: -1e6...1e6, using: &generator).description)
            texts.append(String(Int.random(in: Int.min...Int.max, using: &generator)))
        }
        var validator = EventValidator()
        for text in texts {
            let message = #"{"v":1,"kind":"step","run":"r","rank":0,"host":"h","seq":0,"time":1,"step":1,"loss":\#(text)}"#
            guard case .success(let ok) = Array(message.utf8).withUnsafeBytes({ validator.validate($0) }) else {
                return XCTFail("refused \(text)")
            }
            let expected = strtod(text, nil)
            XCTAssertEqual(ok.event.loss?.bitPattern, expected.isFinite ? expected.bitPattern : nil, text)
        }
    }

    func testEscapedKeysAndStringsDecode() throws {
        var validator = EventValidator()
        let text = #"{"v":1,"k\u0069nd":"warning","run":"r","rank":0,"host":"h\u00e9","seq":0,"time":1,"message":"a\"b\\c\/d\u00e9\ud83d\ude80\ud800x"}"#
        guard case .success(let ok) = Array(text.utf8).withUnsafeBytes({ validator.validate($0) }) else { return XCTFail() }
        XCTAssertEqual(ok.event.kind, .warning)
        XCTAssertEqual(ok.event.host, "hé")
        XCTAssertEqual(ok.event.message, "a\"b\\c/dé🚀\u{FFFD}x")
    }
}
