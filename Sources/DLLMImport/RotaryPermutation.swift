/// llama.cpp's q/k row permutation for LLaMA checkpoints, and its inverse.
///
/// `convert_hf_to_gguf.py` (`LlamaModel.permute`) reorders the rows of `q_proj` and
/// `k_proj` so ggml's rotary kernel, which rotates adjacent pairs (2i, 2i+1), computes
/// what Hugging Face's `rotate_half`, which pairs (i, i + D/2), computes. Per head of
/// D rows it views the rows as (2, D/2) and transposes to (D/2, 2):
///
///     gguf[h·D + 2i + j] = hf[h·D + j·D/2 + i]      (h < heads, i < D/2, j ∈ {0, 1})
///
/// with heads = `num_attention_heads` for q and `num_key_value_heads` for k (transformers'
/// `reverse_permute_weights` in `modeling_gguf_pytorch_utils.py` undoes it the same way).
/// Qwen2 files are not permuted. It moves whole rows, so quantised rows can be moved as
/// blocks without dequantising.
public enum GGUFRotaryPermutation {
    /// The GGUF row that holds Hugging Face row `hfRow` of a q/k projection with
    /// `heads` heads of `headDim` rows each (`headDim` even, `hfRow < heads·headDim`).
    @inline(__always)
    public static func ggufRow(forHuggingFaceRow hfRow: Int, headDim: Int) -> Int {
        precondition(headDim > 0 && headDim % 2 == 0, "head dimension must be even")
        let head = hfRow / headDim, within = hfRow % headDim, half = headDim / 2
        let j = within / half, i = within % half
        return head * headDim + 2 * i + j
    }

    /// The Hugging Face row stored at GGUF row `ggufRow` (inverse of ``ggufRow(forHuggingFaceRow:headDim:)``).
    @inline(__always)
    public static func huggingFaceRow(forGGUFRow ggufRow: Int, headDim: Int) -> Int {
        precondition(headDim > 0 && headDim % 2 == 0, "head dimension must be even")
        let head = ggufRow / headDim, within = ggufRow % headDim, half = headDim / 2
        return head * headDim + (within % 2) * half + within / 2
    }

    /// Whether the importer un-permutes q/k for this architecture (llama yes, qwen2 no).
    public static func isPermuted(architecture: String) -> Bool { architecture == "llama" }
}
