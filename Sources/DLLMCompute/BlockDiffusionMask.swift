extension AttentionMask {
    /// BD3LM's training mask over the 2L sequence `[x_t, x_0]` (Arriola et al. 2025, "Block
    /// Diffusion"; mirrors bd3lms `models/dit.py` `block_diff_mask`). With `n` = L and block
    /// index `i / blockSize` taken within each half, query `q` may attend to key `k` when
    /// - both are in the same half and the same block (block diagonal), or
    /// - `q` is in `x_t`, `k` in `x_0`, and `k`'s block is strictly earlier (offset block causal), or
    /// - both are in `x_0` and `k`'s block is not later (block causal).
    /// One (2L, 2L) byte pattern is shared by the batch.
    public static func blockDiffusion(B: Int, L: Int, blockSize: Int, keyPadding: [Bool]? = nil) -> AttentionMask {
        precondition(L > 0 && blockSize > 0, "AttentionMask.blockDiffusion: L and blockSize must be positive")
        return AttentionMask(.bidirectional, B: B, T: 2 * L, keyPadding: keyPadding) { q, k in
            let qClean = q >= L, kClean = k >= L
            let qBlock = (qClean ? q - L : q) / blockSize, kBlock = (kClean ? k - L : k) / blockSize
            let blockDiagonal = qBlock == kBlock && qClean == kClean
            let offsetBlockCausal = qBlock > kBlock && kClean && !qClean
            let blockCausal = qBlock >= kBlock && kClean && qClean
            return blockDiagonal || offsetBlockCausal || blockCausal
        }
    }
}
