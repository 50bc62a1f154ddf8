import DLLMJSON
import XCTest

final class JSONWriterTests: XCTestCase {
    private let sample: JSONValue = .object([
        ("b", .array([.integer(1), .double(2.5), .double(1e-05), .double(1), .bigInteger("123456789012345678901234")])),
        ("a", .object([("k", .string("quote \" backslash \\ slash / é \u{1} \u{8} \n"))])),
        ("e", .object([])), ("f", .array([])), ("n", .null), ("t", .bool(true)),
    ])

    func testCompactMatchesSerdeJSON() {
        XCTAssertEqual(JSONWriter.string(sample),
                       #"{"b":[1,2.5,1e-05,1.0,123456789012345678901234],"a":{"k":"quote \" backslash \\ slash / é \u0001 \b \n"},"e":{},"f":[],"n":null,"t":true}"#)
    }

    /// `json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)` of the same value.
    func testIndentedSortedMatchesPythonJSONDumps() {
        let expected = """
        {
          "a": {
            "k": "quote \\" backslash \\\\ slash / é \\u0001 \\b \\n"
          },
          "b": [
            1,
            2.5,
            1e-05,
            1.0,
            123456789012345678901234
          ],
          "e": {},
          "f": [],
          "n": null,
          "t": true
        }
        """
        XCTAssertEqual(JSONWriter.string(sample, style: .indented(2), sortedKeys: true), expected)
    }

    func testNonFiniteDoublesBecomeNull() {
        XCTAssertEqual(JSONWriter.string(.array([.double(.nan), .double(.infinity), .double(-0.0)])), "[null,null,-0.0]")
    }

    func testRoundTripKeepsTheValue() throws {
        for style in [JSONWriter.Style.compact, .indented(4)] {
            let text = JSONWriter.bytes(sample, style: style)
            XCTAssertEqual(try JSONParser.parse(text), sample)
        }
    }

    func testIntegersWithoutAllocationCoverTheExtremes() {
        var out: [UInt8] = []
        JSONWriter.appendInteger(Int64.min, to: &out)
        out.append(0x20)
        JSONWriter.appendInteger(UInt64.max, to: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "-9223372036854775808 18446744073709551615")
    }
}
