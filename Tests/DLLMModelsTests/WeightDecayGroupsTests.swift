import DLLMCompute
import DLLMModels
import DLLMOptim
import XCTest

/// HF Trainer's default decay grouping on names the fixtures do not cover
/// (transformers 5.24 `Trainer.get_decay_parameter_names`).
final class WeightDecayGroupsTests: XCTestCase {
    func testNamePatternsFollowHuggingFace() {
        for name in ["model.layers.3.self_attn.q_norm.weight", "model.layers.3.self_attn.k_norm.weight",  // qwen3: `_norm.`
                     "model.norm.weight", "encoder.layer.0.attention.output.LayerNorm.weight",  // `.norm.`, "layernorm"
                     "model.layers.0.input_layernorm.weight", "blocks.0.RMSNorm.weight", "x.q_proj.bias", "final_norm"] {
            XCTAssertTrue(WeightDecayGroups.nameExcludesDecay(name), name)
        }
        for name in ["model.embed_tokens.weight", "lm_head.weight", "model.layers.0.mlp.down_proj.weight",
                     "model.transformer.ln_f.weight", "model.normalizer.weight", "model.norms.weight", "transformer.h.0.ln_1.weight"] {
            XCTAssertFalse(WeightDecayGroups.nameExcludesDecay(name), name)
        }
    }

    func testMaskCoversWholeTensorsAndShardsFollowTheMap() {
        let layout = ParameterLayout([("emb.weight", [3, 2]), ("blk.ln.weight", [2]), ("blk.fc.weight", [2, 2]), ("blk.fc.bias", [2])])
        let mask = WeightDecayGroups.mask(layout: layout, normalizationParameters: ["blk.ln.weight"])
        XCTAssertEqual(mask, [1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0])
        // Two segments over two ranks: rank 1 owns [3, 6) and [11, 14) (chunks 4 and 4, the second padded).
        let segments: [(owned: Range<Int>, shardOffset: Int)] = [(3..<6, 0), (11..<14, 3)]
        XCTAssertEqual(WeightDecayGroups.shardMask(mask, segments: segments, shardCount: 7), [1, 1, 1, 1, 0, 0, 0])
    }
}
