import XCTest
@testable import DLLMTokenizers

/// The hand-written regex scanners against `NSRegularExpression` on the
/// fixture texts (where ICU and Oniguruma agree), and small exact cases.
final class PreTokenizerTests: XCTestCase {
    func pieces(_ pattern: String, _ text: String) throws -> [String] {
        let p = try RegexSplitPattern(pattern: pattern, file: "test")
        var t = text
        return t.withUTF8 { buf in p.matchRanges(buf).map { String(decoding: UnsafeBufferPointer(rebasing: buf[$0]), as: UTF8.self) } }
    }

    func testKnownPatternsUseTheFastScanner() throws {
        for p in [FastRegex.gpt2Pattern, FastRegex.llama3Pattern, FastRegex.qwen2Pattern] {
            XCTAssertTrue(try RegexSplitPattern(pattern: p, file: "test").isFast)
        }
        XCTAssertFalse(try RegexSplitPattern(pattern: "[0-9]+", file: "test").isFast)
    }

    func testExactCases() throws {
        XCTAssertEqual(try pieces(FastRegex.gpt2Pattern, "Hello, it's  2024!\n\n  x"),
                       ["Hello", ",", " it", "'s", " ", " 2024", "!", "\n\n ", " x"])
        XCTAssertEqual(try pieces(FastRegex.llama3Pattern, "I'M 'Ll (word) 12345\r\n\r\n x"),
                       ["I", "'M", " '", "Ll", " (", "word", ")", " ", "123", "45", "\r\n\r\n", " x"])
        XCTAssertEqual(try pieces(FastRegex.qwen2Pattern, "a 123"), ["a", " ", "1", "2", "3"])
    }

    /// ASCII-only texts: there ICU's and Oniguruma's classes coincide, so the
    /// general fallback must find exactly what the scanners find.
    func testScannersAgreeWithNSRegularExpressionOnASCIIFixtureTexts() throws {
        let ascii = Fixtures.texts.filter { $0.utf8.allSatisfy { $0 < 0x80 } }.prefix(400)
        for pattern in [FastRegex.gpt2Pattern, FastRegex.llama3Pattern, FastRegex.qwen2Pattern] {
            let fast = try RegexSplitPattern(pattern: pattern, file: "test")
            // A semantically equal spelling that is not recognized, so it compiles with ICU.
            let slow = try RegexSplitPattern(pattern: "(?:" + pattern + ")", file: "test")
            XCTAssertFalse(slow.isFast)
            for text in ascii {
                var t = text
                let (a, b) = t.withUTF8 { (fast.matchRanges($0), slow.matchRanges($0)) }
                if a != b { return XCTFail("\(pattern) on \(text.debugDescription): \(a) vs \(b)") }
            }
        }
    }
}
