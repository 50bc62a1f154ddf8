import DLLMModels
import Foundation
import XCTest

/// Dream folders load with Dream's own `config.json` keys and `DreamConfig`'s defaults.
final class DreamConfigurationTests: XCTestCase {
    func architecture(_ json: String) throws -> LlamaSpec {
        try ModelRegistry.architecture(configJSON: Data(json.utf8), path: "dream/config.json") as! LlamaSpec
    }

    func testDreamIsBidirectionalQwen2WithItsMaskToken() throws {
        let spec = try architecture("""
            {"model_type": "Dream", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "intermediate_size": 96, "vocab_size": 128, "mask_token_id": 120,
             "use_sliding_window": false, "sliding_window": null, "rope_theta": 1000000.0}
            """)
        XCTAssertEqual(spec.modelType, "Dream")
        XCTAssertTrue(spec.bidirectional)
        XCTAssertTrue(spec.qkvBias)
        XCTAssertFalse(spec.qkNorm)
        XCTAssertEqual(spec.headDim, 16)
        XCTAssertEqual(spec.kvHeads, 2)
        XCTAssertEqual(spec.maskTokenID, 120)
        XCTAssertEqual(spec.ropeTheta, 1_000_000)
        XCTAssertEqual(spec.names.q, "model.layers.{}.self_attn.q_proj")
    }

    func testMissingKeysTakeDreamConfigDefaults() throws {
        let spec = try architecture(#"{"model_type": "Dream", "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 1, "intermediate_size": 8, "vocab_size": 151936}"#)
        XCTAssertEqual(spec.maskTokenID, 151_666)
        XCTAssertEqual(spec.maxPositions, 32_768)
        XCTAssertEqual(spec.rmsNormEps, 1e-6)
        XCTAssertEqual(spec.kvHeads, 4)
        XCTAssertFalse(spec.tiedEmbeddings)
    }

    func testImpossibleDreamConfigsNameTheKey() {
        for (json, key) in [(#"{"model_type": "Dream", "hidden_size": 64, "num_attention_heads": 4, "head_dim": 32}"#, "head_dim"),
                            (#"{"model_type": "Dream", "hidden_size": 64, "num_attention_heads": 5}"#, "num_attention_heads"),
                            (#"{"model_type": "Dream", "hidden_act": "gelu"}"#, "hidden_act"),
                            (#"{"model_type": "Dream", "rope_scaling": {"type": "yarn"}}"#, "rope_scaling"),
                            (#"{"model_type": "Dream", "hidden_size": "wide"}"#, "hidden_size")] {
            XCTAssertThrowsError(try architecture(json), json) { XCTAssertTrue("\($0)".contains(key), "\($0) should name \(key)") }
        }
    }
}
