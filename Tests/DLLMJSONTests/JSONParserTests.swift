import DLLMJSON
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import XCTest

/// The union of the cases the four former parsers (safetensors header, datasets, tokenizer
/// files, telemetry) were tested on, against the one parser.
final class JSONParserTests: XCTestCase {
    private func parse(_ text: String, _ options: JSONParser.Options = .init()) throws -> JSONValue {
        try JSONParser.parse(Array(text.utf8), options: options)
    }

    private func parseError(_ text: String, _ options: JSONParser.Options = .init(),
                            file: StaticString = #filePath, line: UInt = #line) -> JSONError? {
        do {
            let value = try parse(text, options)
            XCTFail("parsed \(value) from \(text.debugDescription)", file: file, line: line)
            return nil
        } catch let error as JSONError {
            return error
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return nil
        }
    }

    func testObjectsKeepInsertionOrderAndTypes() throws {
        let value = try parse(#" {"z": 1, "a": [true, false, null], "m": {"x": "y"}, "d": 2.5, "e": -0} "#)
        XCTAssertEqual(value.objectMembers?.map(\.key), ["z", "a", "m", "d", "e"])
        XCTAssertEqual(value["z"], .integer(1))
        XCTAssertEqual(value["a"], .array([.bool(true), .bool(false), .null]))
        XCTAssertEqual(value["m"]?["x"], .string("y"))
        XCTAssertEqual(value["d"], .double(2.5))
        XCTAssertEqual(value["e"], .integer(0))
        XCTAssertNil(value["missing"])
        XCTAssertNotEqual(JSONValue.integer(1), JSONValue.double(1))
    }

    func testIntegersStayExactAndBigIntegersKeepTheirDigits() throws {
        XCTAssertEqual(try parse("9223372036854775807"), .integer(.max))
        XCTAssertEqual(try parse("-9223372036854775808"), .integer(.min))
        XCTAssertEqual(try parse("9223372036854775808"), .bigInteger("9223372036854775808"))
        XCTAssertEqual(try parse("-123456789012345678901234567890"), .bigInteger("-123456789012345678901234567890"))
        // 2^53 + 1 is not a double, so it must not pass through one.
        XCTAssertEqual(try parse("9007199254740993").int64Value, 9_007_199_254_740_993)
        XCTAssertEqual(try parse("1e2"), .double(100))
        XCTAssertEqual(try parse("1.0"), .double(1))
    }

    func testNumberGrammarIsStrict() {
        for text in ["01", "-", "+1", ".5", "1.", "1e", "1e+", "--1", "0x10", "1.e5", "Infinity", "NaN", "-01"] {
            XCTAssertNotNil(parseError(text), text)
        }
        XCTAssertEqual(parseError("1e400")?.kind, .numberOutOfRange)
        XCTAssertEqual(parseError("-1e400")?.kind, .numberOutOfRange)
    }

    /// Doubles must come out as strtod rounds them, on hard cases (halfway points, long
    /// mantissas, subnormals, the largest double) and on random decimal strings.
    func testDoublesRoundExactlyAsStrtod() throws {
        var cases = [
            "0.1", "0.2", "0.3", "1e-05", "2.2250738585072011e-308", "2.2250738585072014e-308", "4.9e-324", "5e-324",
            "2.4703282292062327e-324", "2.4703282292062328e-324", "1.7976931348623157e308", "1.7976931348623158e308",
            "9007199254740993.0", "9007199254740992.9999999999999999", "0.30000000000000004441",
            "7.038531e-26", "1.00000000000000011102230246251565404236316680908203125",
            "1.00000000000000011102230246251565404236316680908203124", "123456789012345678901234567890.5e-10",
            "0.000000000000000000000000000000000000000000001", "-0.0", "1e22", "1e23", "8.98846567431158e307",
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let digits = Int.random(in: 1...25, using: &generator)
            var text = Bool.random(using: &generator) ? "-" : ""
            text += String(Int.random(in: 1...9, using: &generator))
            for _ in 1..<digits { text += String(Int.random(in: 0...9, using: &generator)) }
            let point = Int.random(in: 1...text.count, using: &generator)
            if point < text.count, text.last != "-" {
                let index = text.index(text.startIndex, offsetBy: point)
                if text[text.index(before: index)] != "-" { text.insert(".", at: index) }
            }
            text += "e\(Int.random(in: -330...310, using: &generator))"
            cases.append(text)
        }
        for text in cases {
            let expected = strtod(text, nil)
            guard expected.isFinite else { continue }
            guard case .double(let parsed) = try parse(text) else { return XCTFail("\(text) is not a double") }
            XCTAssertEqual(parsed.bitPattern, expected.bitPattern, text)
        }
        XCTAssertEqual(try parse("-0.0"), .double(-0.0))
        XCTAssertEqual(try parse("-0.0").doubleValue?.sign, .minus)
    }

    func testStringEscapesAndSurrogatePairs() throws {
        let text = #""a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\u20AC\ud83d\ude80""#
        XCTAssertEqual(try parse(text), .string("a\"b\\c/d\u{8}\u{C}\n\r\tAé€🚀"))
        XCTAssertEqual(try parse("\"héllo 🚀\""), .string("héllo 🚀"))
        for bad in [#""\x""#, #""\u12""#, #""\u12g4""#, "\"a", "\"\u{1}\"", "\"tab\there\""] {
            XCTAssertNotNil(parseError(bad), bad)
        }
    }

    func testLoneSurrogatesAreErrorsUnlessReplacementIsAsked() throws {
        for text in [#""\ud800""#, #""\udc00""#, #""\ud800x""#, #""\ud800\u0041""#, #""\ud83d\ud83d""#] {
            XCTAssertEqual(parseError(text)?.kind, .loneSurrogate, text)
        }
        let replacing = JSONParser.Options(loneSurrogates: .replace)
        XCTAssertEqual(try parse(#""\ud800x""#, replacing), .string("\u{FFFD}x"))
        XCTAssertEqual(try parse(#""\ud800\u0041""#, replacing), .string("\u{FFFD}A"))
        XCTAssertEqual(try parse(#""\udc00\ud83d\ude80""#, replacing), .string("\u{FFFD}🚀"))
    }

    func testInvalidUTF8IsAnErrorWithItsOffset() {
        let cases: [[UInt8]] = [
            [0x22, 0xC3, 0x22],              // truncated sequence
            [0x22, 0xC0, 0xAF, 0x22],        // overlong "/"
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // encoded surrogate U+D800
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // past U+10FFFF
            [0x22, 0x61, 0xFF, 0x22],
        ]
        for bytes in cases {
            do {
                _ = try JSONParser.parse(bytes)
                XCTFail("accepted \(bytes)")
            } catch let error as JSONError {
                XCTAssertEqual(error.kind, .invalidUTF8)
                XCTAssertEqual(error.offset, bytes[1] == 0x61 ? 2 : 1)
            } catch { XCTFail("\(error)") }
        }
    }

    func testByteOrderMarkIsSkippedUnlessRefused() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("{\"a\": \"\u{FEFF}b\"}".utf8)
        let value = try JSONParser.parse(bytes)
        // A U+FEFF inside a string survives (Foundation's parser drops it).
        XCTAssertEqual(value["a"]?.stringValue?.unicodeScalars.first, "\u{FEFF}")
        XCTAssertThrowsError(try JSONParser.parse(bytes, options: .init(allowsByteOrderMark: false)))
    }

    func testDuplicateKeysFollowTheChosenPolicy() throws {
        let text = #"{"a": 1, "b": 2, "a": 3}"#
        let error = parseError(text)
        XCTAssertEqual(error?.kind, .duplicateKey("a", depth: 1))
        XCTAssertEqual(error?.offset, 17)
        XCTAssertEqual(parseError(#"{"x": {"k": 1, "k": 2}}"#)?.kind, .duplicateKey("k", depth: 2))
        let last = try parse(text, .init(duplicateKeys: .keepLast))
        XCTAssertEqual(last.objectMembers?.map(\.key), ["a", "b"])
        XCTAssertEqual(last["a"], .integer(3))
        let all = try parse(text, .init(duplicateKeys: .keepAll))
        XCTAssertEqual(all.objectMembers?.map(\.key), ["a", "b", "a"])
        XCTAssertEqual(all["a"], .integer(1))
        // Canonically equivalent keys are different keys.
        let composed = try parse("{\"\u{E9}\": 1, \"e\u{301}\": 2}")
        XCTAssertEqual(composed.objectMembers?.count, 2)
        XCTAssertEqual(composed["e\u{301}"], .integer(2))
    }

    func testDepthLimitIsAnErrorNotAStackOverflow() throws {
        let deep = String(repeating: "[", count: 100_000)
        XCTAssertEqual(parseError(deep)?.kind, .tooDeep(limit: 128))
        let limited = JSONParser.Options(maximumDepth: 3)
        XCTAssertNoThrow(try parse("[[[1]]]", limited))
        XCTAssertEqual(parseError("[[[[1]]]]", limited)?.kind, .tooDeep(limit: 3))
        XCTAssertEqual(parseError(#"{"a":{"b":{"c":{}}}}"#, limited)?.kind, .tooDeep(limit: 3))
    }

    func testErrorsNameLineColumnOffsetAndFile() {
        let text = "{\n  \"a\": 1,\n  \"b\" 2\n}"
        let error = parseError(text, .init(file: "/tmp/x.json"))
        XCTAssertEqual(error?.line, 3)
        XCTAssertEqual(error?.column, 7)
        XCTAssertEqual(error?.offset, 18)
        XCTAssertEqual(error?.file, "/tmp/x.json")
        XCTAssertEqual(error?.description, "/tmp/x.json: unexpected '2', expected ':' after key \"b\" at line 3, column 7 (byte 18)")
    }

    func testMalformedDocuments() {
        for text in [#"{"x":"#, "", "{x}", "{} trailing", #"{"a":tru}"#, #"{"a":01}"#, "[1,]", "{\"a\":1,}", "[1 2]",
                     "{\"a\" 1}", "nul", "[", "\u{0}", "'a'"] {
            XCTAssertNotNil(parseError(text), text.debugDescription)
        }
    }

    func testTopLevelArrayElementOffsets() throws {
        let text = "[\n {\"a\": 1},\n  [2],\n3]"
        let (value, offsets) = try Array(text.utf8).withUnsafeBytes { try JSONParser.parseDocument($0) }
        XCTAssertEqual(value.arrayValue?.count, 3)
        XCTAssertEqual(offsets, [3, 15, 20])
        XCTAssertNil(try Array("{}".utf8).withUnsafeBytes { try JSONParser.parseDocument($0) }.elementOffsets)
    }

    /// Hostile input: random byte edits of a valid document either parse or throw a
    /// located error; the parser never traps or reads out of bounds.
    func testMutatedDocumentsNeverCrash() throws {
        let seed = Array(#"{"a": [1, -2.5e3, "x\u00e9\ud83d\ude80", {"b": null}], "c": true, "d": "é"}"#.utf8)
        var generator = SystemRandomNumberGenerator()
        let interesting: [UInt8] = [0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, 0x30, 0x65, 0x2D, 0x75, 0xC3, 0xED, 0xF4, 0xFF, 0x00]
        var parsed = 0
        for _ in 0..<20_000 {
            var bytes = seed
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[position] = interesting.randomElement(using: &generator)!
                case 1: bytes.remove(at: position)
                default: bytes.insert(interesting.randomElement(using: &generator)!, at: position)
                }
                if bytes.isEmpty { bytes = [0x20] }
            }
            do {
                _ = try JSONParser.parse(bytes, options: .init(loneSurrogates: Bool.random(using: &generator) ? .replace : .reject))
                parsed += 1
            } catch let error as JSONError {
                XCTAssert(error.offset >= 0 && error.offset <= bytes.count, "\(error)")
                XCTAssert(error.line >= 1 && error.column >= 1, "\(error)")
            }
        }
        XCTAssertLessThan(parsed, 20_000, "some mutations must be rejected")
    }
}
