import DLLMJSON
import Foundation
import XCTest

/// The Encodable half of the bridge: values, nesting, optionals, integer/double kinds,
/// errors with coding paths, and round trips through text with ``JSONValueDecoder``.
final class JSONValueEncoderTests: XCTestCase {
    struct Leaf: Codable, Equatable {
        var name: String
        var weight: Double
        var count: Int
    }

    enum Mode: String, Codable { case fast, careful }

    struct Tree: Codable, Equatable {
        var id: UInt64
        var ratio: Float
        var mode: Mode
        var note: String?
        var leaves: [Leaf]
        var byName: [String: [Int]]
        var grid: [[Double?]]
        var flag: Bool
        var small: Int8
    }

    private let sample = Tree(
        id: UInt64.max, ratio: 0.1, mode: .careful, note: nil,
        leaves: [Leaf(name: "a \"quoted\"\nline/é", weight: 1.0, count: -3), Leaf(name: "", weight: 2.5e-7, count: 0)],
        byName: ["x": [1, 2], "y": []], grid: [[1.5, nil], []], flag: true, small: -128)

    func testScalarsKeepTheirKinds() throws {
        let encoder = JSONValueEncoder()
        XCTAssertEqual(try encoder.encode(3), .integer(3))
        XCTAssertEqual(try encoder.encode(3.0), .double(3.0))
        XCTAssertEqual(try encoder.encode(Int64.min), .integer(.min))
        XCTAssertEqual(try encoder.encode(UInt64.max), .bigInteger("18446744073709551615"))
        XCTAssertEqual(try encoder.encode(UInt32.max), .integer(4_294_967_295))
        XCTAssertEqual(try encoder.encode(Float(0.1)), .double(Double(Float(0.1))))
        XCTAssertEqual(try encoder.encode("s"), .string("s"))
        XCTAssertEqual(try encoder.encode(false), .bool(false))
        XCTAssertEqual(try encoder.encode(Mode.fast), .string("fast"))
        XCTAssertEqual(try encoder.encode(Int?.none), .null)
        XCTAssertEqual(String(decoding: try encoder.bytes([1.0, 2.5]), as: UTF8.self), "[1.0,2.5]")
        XCTAssertEqual(String(decoding: try encoder.bytes([1, 2]), as: UTF8.self), "[1,2]")
    }

    func testNestedContainersInDeclarationOrder() throws {
        let value = try JSONValueEncoder().encode(sample)
        XCTAssertEqual(value.objectMembers?.map(\.key), ["id", "ratio", "mode", "leaves", "byName", "grid", "flag", "small"],
                       "nil optionals are left out, the rest keep declaration order")
        XCTAssertEqual(value["leaves"]?.arrayValue?.first?["count"], .integer(-3))
        XCTAssertEqual(value["leaves"]?.arrayValue?.first?["weight"], .double(1.0))
        XCTAssertEqual(value["grid"], .array([.array([.double(1.5), .null]), .array([])]))
        XCTAssertEqual(value["byName"]?["x"], .array([1, 2]))
        let text = String(decoding: try JSONValueEncoder().bytes(sample, sortedKeys: true), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix(#"{"byName":{"x":[1,2],"y":[]},"flag":true,"grid":[[1.5,null],[]],"id":18446744073709551615,"#), text)
    }

    func testRoundTripsThroughTextAndThroughFoundation() throws {
        for style in [JSONWriter.Style.compact, .indented(2)] {
            let bytes = try JSONValueEncoder().bytes(sample, style: style, sortedKeys: true)
            XCTAssertEqual(try JSONValueDecoder().decode(Tree.self, fromJSON: bytes), sample)
            // Foundation reads what the bridge writes (the formats are the same JSON).
            XCTAssertEqual(try JSONDecoder().decode(Tree.self, from: Data(bytes)), sample)
        }
        // ... and the bridge reads what Foundation wrote (files saved before the bridge).
        let foundation = JSONEncoder()
        foundation.outputFormatting = [.prettyPrinted, .sortedKeys]
        XCTAssertEqual(try JSONValueDecoder().decode(Tree.self, fromJSON: try foundation.encode(sample)), sample)
    }

    func testHandWrittenEncodersNestAndOverwrite() throws {
        struct Custom: Encodable {
            enum Keys: String, CodingKey { case a, inner, list, again }
            func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: Keys.self)
                try c.encode(1, forKey: .a)
                var inner = c.nestedContainer(keyedBy: Keys.self, forKey: .inner)
                try inner.encode("x", forKey: .a)
                var list = c.nestedUnkeyedContainer(forKey: .list)
                try list.encode(true)
                var row = list.nestedUnkeyedContainer()
                try row.encodeNil()
                var object = list.nestedContainer(keyedBy: Keys.self)
                try object.encode(2.5, forKey: .again)
                try inner.encode("y", forKey: .again)  // after its parent moved on
                try c.encode(7, forKey: .a)  // a second value for a key replaces the first, in place
            }
        }
        XCTAssertEqual(JSONWriter.string(try JSONValueEncoder().encode(Custom())),
                       #"{"a":7,"inner":{"a":"x","again":"y"},"list":[true,[null],{"again":2.5}]}"#)
        struct Nothing: Encodable { func encode(to encoder: Encoder) throws {} }
        XCTAssertEqual(try JSONValueEncoder().encode(Nothing()), .object([]))
    }

    func testNonFiniteNumbersAreRefusedWithTheirCodingPath() throws {
        var tree = sample
        tree.leaves[1].weight = .nan
        XCTAssertThrowsError(try JSONValueEncoder().encode(tree)) { error in
            guard case EncodingError.invalidValue(_, let context) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }, ["leaves", "1", "weight"])
        }
        tree = sample
        tree.grid = [[nil, -.infinity]]
        XCTAssertThrowsError(try JSONValueEncoder().encode(tree)) { error in
            guard case EncodingError.invalidValue(_, let context) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }, ["grid", "0", "1"])
        }
    }

    func testDecodingErrorsNameThePathAndTheFile() throws {
        let wrongType = #"{"id":1,"ratio":1,"mode":"fast","leaves":[{"name":"a","weight":1,"count":1.5}],"byName":{},"grid":[],"flag":true,"small":0}"#
        XCTAssertThrowsError(try JSONValueDecoder().decode(Tree.self, fromJSON: Array(wrongType.utf8))) { error in
            guard case DecodingError.dataCorrupted(let context) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }, ["leaves", "0", "count"])
        }
        let tooSmall = wrongType.replacingOccurrences(of: "\"count\":1.5", with: "\"count\":1").replacingOccurrences(of: "\"small\":0", with: "\"small\":300")
        XCTAssertThrowsError(try JSONValueDecoder().decode(Tree.self, fromJSON: Array(tooSmall.utf8))) { error in
            guard case DecodingError.dataCorrupted(let context) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(context.codingPath.map(\.stringValue), ["small"])
        }
        XCTAssertThrowsError(try JSONValueDecoder().decode(Tree.self, fromJSON: Array(#"{"id":1,}"#.utf8), file: "state.json")) { error in
            XCTAssertTrue("\(error)".hasPrefix("state.json: "), "\(error)")
        }
        let noMode = tooSmall.replacingOccurrences(of: "\"mode\":\"fast\",", with: "").replacingOccurrences(of: "300", with: "1")
        XCTAssertThrowsError(try JSONValueDecoder().decode(Tree.self, fromJSON: Array(noMode.utf8))) { error in
            guard case DecodingError.keyNotFound(let key, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(key.stringValue, "mode")
        }
    }
}
