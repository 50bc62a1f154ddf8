@testable import DLLMModels
import Foundation
import XCTest

/// `model_type` `bert` configs: what dllm cannot run is refused with the key and the file named.
final class BertConfigurationTests: XCTestCase {
    func config(_ extra: String) -> Data {
        Data(#"{"model_type": "bert", "vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 12\#(extra)}"#.utf8)
    }

    func testMiniLMStyleConfigDecodes() throws {
        let architecture = try ModelRegistry.architecture(configJSON: config(#", "hidden_act": "gelu", "type_vocab_size": 2, "layer_norm_eps": 1e-12"#),
                                                          path: "/m/config.json")
        guard let bert = architecture as? BertConfiguration else { return XCTFail("not bert") }
        XCTAssertEqual(bert.hiddenSize, 8)
        XCTAssertEqual(bert.tokenTypes, 2)
        let model = BertModel<Float>(config: bert)
        // word 30·8 + positions 12·8 + types 2·8 + LN 16; per layer 4·(8·8 + 8) + 2·8·16 + 16 + 8 + 4·8
        XCTAssertEqual(model.parameterCount, 240 + 96 + 16 + 16 + 2 * (288 + 256 + 24 + 32))
        XCTAssertEqual(bert.parameterName(forCheckpointTensor: "bert.encoder.layer.0.output.dense.weight"), "encoder.layer.0.output.dense.weight")
        XCTAssertNil(bert.parameterName(forCheckpointTensor: "embeddings.position_ids"))
        XCTAssertNil(bert.parameterName(forCheckpointTensor: "pooler.dense.weight"))
        XCTAssertEqual(bert.parameterName(forCheckpointTensor: "cls.predictions.bias"), "cls.predictions.bias")  // refused by the loader
    }

    func testUnsupportedKeysAreNamed() {
        for (extra, key) in [(#", "hidden_act": "relu""#, "hidden_act"),
                             (#", "position_embedding_type": "relative_key""#, "position_embedding_type"),
                             (#", "is_decoder": true"#, "is_decoder"),
                             (#", "num_attention_heads": 3"#, "hidden_size")] {
            XCTAssertThrowsError(try ModelRegistry.architecture(configJSON: config(extra), path: "/m/config.json"), key) { error in
                XCTAssert("\(error)".contains(key) && "\(error)".contains("/m/config.json"), "\(error)")
            }
        }
    }
}
