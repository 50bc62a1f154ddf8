import DLLMJSON
import XCTest

final class JSONValueDecoderTests: XCTestCase {
    struct Config: Decodable, Equatable {
        enum Activation: String, Decodable { case silu, gelu }
        var hidden_size: Int
        var rms_norm_eps: Double
        var rope_theta: Float
        var tie_word_embeddings: Bool?
        var eos_token_id: [Int]
        var hidden_act: Activation
        var rope_scaling: [String: Double]?
        var name: String
    }

    func testDecodesAConfigurationFromTheParsedTree() throws {
        let value = try JSONParser.parse(#"""
        {"hidden_size": 576, "rms_norm_eps": 1e-05, "rope_theta": 100000, "eos_token_id": [0, 2],
         "hidden_act": "silu", "rope_scaling": null, "name": "smol", "extra": {"ignored": true}}
        """#)
        let config = try JSONValueDecoder().decode(Config.self, from: value)
        XCTAssertEqual(config, Config(hidden_size: 576, rms_norm_eps: 1e-05, rope_theta: 100_000, tie_word_embeddings: nil,
                                      eos_token_id: [0, 2], hidden_act: .silu, rope_scaling: nil, name: "smol"))
    }

    func testErrorsCarryTheCodingPath() throws {
        let wrongType = try JSONParser.parse(#"{"hidden_size": "576"}"#)
        XCTAssertThrowsError(try JSONValueDecoder().decode([String: Int].self, from: wrongType)) { error in
            guard case let DecodingError.typeMismatch(_, context) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(context.codingPath.map(\.stringValue), ["hidden_size"])
        }
        let missing = try JSONParser.parse(#"{"rms_norm_eps": 1e-5}"#)
        XCTAssertThrowsError(try JSONValueDecoder().decode(Config.self, from: missing)) { error in
            guard case let DecodingError.keyNotFound(key, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(key.stringValue, "hidden_size")
        }
        let fraction = try JSONParser.parse(#"[1, 2.5]"#)
        XCTAssertThrowsError(try JSONValueDecoder().decode([Int].self, from: fraction)) { error in
            guard case let DecodingError.dataCorrupted(context) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(context.codingPath.map(\.stringValue), ["1"])
        }
        XCTAssertEqual(try JSONValueDecoder().decode([Int].self, from: .array([.double(3)])), [3])
        XCTAssertThrowsError(try JSONValueDecoder().decode(UInt8.self, from: .integer(256)))
    }
}
