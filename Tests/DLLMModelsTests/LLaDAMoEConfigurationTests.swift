import DLLMModels
import Foundation
import XCTest

/// LLaDA-MoE folders load with LLaDA-MoE's own `config.json` keys; what the modelling code cannot
/// run is refused by key.
final class LLaDAMoEConfigurationTests: XCTestCase {
    let base: [String: Any] = [
        "model_type": "lladamoe", "vocab_size": 64, "hidden_size": 32, "dense_intermediate_size": 40, "expert_intermediate_size": 16,
        "shared_expert_intermediate_size": NSNull(), "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
        "rope_theta": 50000.0, "partial_rotary_factor": 1.0, "num_experts": 8, "num_experts_per_tok": 2, "qk_layernorm": true,
        "moe_layer_freq": [1, 1], "norm_topk_prob": NSNull(), "moe_router_enable_expert_bias": NSNull(),
    ]

    func architecture(_ changes: [String: Any] = [:]) throws -> LlamaSpec {
        let json = try JSONSerialization.data(withJSONObject: base.merging(changes) { $1 })
        return try ModelRegistry.architecture(configJSON: json, path: "lladamoe/config.json") as! LlamaSpec
    }

    func testLLaDAMoEShape() throws {
        let spec = try architecture()
        XCTAssertTrue(spec.bidirectional)
        XCTAssertTrue(spec.qkNorm)
        XCTAssertFalse(spec.qkvBias)
        XCTAssertEqual(spec.mixtureOfExperts, MixtureOfExpertsSpec(experts: 8, topK: 2, expertIntermediate: 16, sharedIntermediate: nil,
                                                                   moeLayers: [true, true]))
        let names = spec.makeModel(as: Float.self).layout.slots.map(\.name)
        XCTAssertTrue(names.contains("model.layers.1.mlp.experts.7.down_proj.weight"))
        XCTAssertTrue(names.contains("model.layers.0.mlp.gate.weight"))
        XCTAssertFalse(names.contains("model.layers.0.mlp.gate_proj.weight"))
        XCTAssertFalse(names.contains { $0.contains("shared_expert") })
    }

    func testUnsupportedSettingsAreRefusedByKey() {
        let cases: [([String: Any], String)] = [
            (["moe_layer_freq": [1]], "moe_layer_freq"), (["num_experts_per_tok": 9], "num_experts_per_tok"),
            (["moe_router_enable_expert_bias": true], "moe_router_enable_expert_bias"), (["partial_rotary_factor": 0.5], "partial_rotary_factor"),
            (["clip_qkv": 8.0], "clip_qkv"), (["attention_bias": true], "attention_bias"), (["num_attention_heads": 5], "num_attention_heads"),
            (["moe_layer_freq": [0, 1], "dense_intermediate_size": -1], "dense_intermediate_size"),
            (["shared_expert_intermediate_size": -1], "shared_expert_intermediate_size"), (["rope_theta": -1], "rope_theta"),
        ]
        for (change, key) in cases {
            XCTAssertThrowsError(try architecture(change), "\(change)") { XCTAssertTrue("\($0)".contains(key), "\($0) should name \(key)") }
        }
    }
}
