import DLLMGGUF
import DLLMImport
import XCTest

final class GGUFTensorNamesTests: XCTestCase {
    func testEveryLlamaNameMapsBothWays() {
        let pairs = [
            ("token_embd.weight", "model.embed_tokens.weight"),
            ("blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight"),
            ("blk.12.attn_q.weight", "model.layers.12.self_attn.q_proj.weight"),
            ("blk.12.attn_q.bias", "model.layers.12.self_attn.q_proj.bias"),
            ("blk.3.attn_k.weight", "model.layers.3.self_attn.k_proj.weight"),
            ("blk.3.attn_v.bias", "model.layers.3.self_attn.v_proj.bias"),
            ("blk.29.attn_output.weight", "model.layers.29.self_attn.o_proj.weight"),
            ("blk.1.ffn_norm.weight", "model.layers.1.post_attention_layernorm.weight"),
            ("blk.1.ffn_gate.weight", "model.layers.1.mlp.gate_proj.weight"),
            ("blk.1.ffn_up.weight", "model.layers.1.mlp.up_proj.weight"),
            ("blk.1.ffn_down.weight", "model.layers.1.mlp.down_proj.weight"),
            ("output_norm.weight", "model.norm.weight"),
            ("output.weight", "lm_head.weight"),
        ]
        for (gguf, hf) in pairs {
            XCTAssertEqual(GGUFTensorNames.huggingFaceName(ofGGUF: gguf), hf)
            XCTAssertEqual(GGUFTensorNames.ggufName(ofHuggingFace: hf), gguf)
        }
        for unmapped in ["rope_freqs.weight", "blk.x.attn_q.weight", "blk.01.attn_q.weight", "blk.1.attn_q", "blk.1.ffn_gate_exps.weight"] {
            XCTAssertNil(GGUFTensorNames.huggingFaceName(ofGGUF: unmapped), unmapped)
        }
        XCTAssertNil(GGUFTensorNames.ggufName(ofHuggingFace: "model.layers.1.self_attn.rotary_emb.inv_freq"))
    }

    /// The row map against transformers' `_reverse_permute_weights` on SmolLM2's q and k
    /// shapes (recorded by the fixture script).
    func testPermutationMatchesTransformers() throws {
        let permutation = try XCTUnwrap(try ImportFixtures.reference()["permutation"] as? [String: Any])
        let headDim = try XCTUnwrap(permutation["head_dim"] as? Int)
        for key in ["q", "k"] {
            let rows = try XCTUnwrap(permutation[key] as? [Int])
            XCTAssertEqual(rows.count % headDim, 0)
            let mine = (0 ..< rows.count).map { GGUFRotaryPermutation.ggufRow(forHuggingFaceRow: $0, headDim: headDim) }
            XCTAssertEqual(mine, rows, key)
            for (hf, gguf) in mine.enumerated() {
                XCTAssertEqual(GGUFRotaryPermutation.huggingFaceRow(forGGUFRow: gguf, headDim: headDim), hf)
            }
        }
        XCTAssertTrue(GGUFRotaryPermutation.isPermuted(architecture: "llama"))
        XCTAssertFalse(GGUFRotaryPermutation.isPermuted(architecture: "qwen2"))
    }
}
