#!/usr/bin/env python3
"""A tiny random llama GGUF and transformers' logits for it, so the import path (metadata
→ config, tensor names, q/k un-permutation, quantised tensors, tied head) is checked
against transformers without the real SmolLM2 file.

Writes tiny_llama.gguf the way llama.cpp's convert_hf_to_gguf.py writes a llama model:
q/k rows permuted per head ((2, D/2) → (D/2, 2), `LlamaModel.permute`), projections
quantised with gguf-py (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1), norms F32, embedding F16, no
`output.weight` (tied). Then loads the file with
`AutoModelForCausalLM.from_pretrained(dir, gguf_file=…, dtype=float32)` and writes
tiny_llama_logits.json: the prompt ids and every position's logits as float32 bit
patterns (hex).
"""
import json
import os
import struct

import numpy as np
import torch
import gguf
from gguf import GGMLQuantizationType as T
from transformers import AutoModelForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
HIDDEN, HEADS, KV_HEADS, FFN, LAYERS, VOCAB, CONTEXT = 64, 4, 2, 128, 2, 96, 64
HEAD_DIM = HIDDEN // HEADS
PROMPT = [5, 17, 90, 3, 44, 61, 8, 29]
rng = np.random.default_rng(7)


def permute(weights, heads):
    """llama.cpp convert_hf_to_gguf.py `LlamaModel.permute`."""
    return (weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def normal(*shape, scale=0.08):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def main():
    path = os.path.join(HERE, "tiny_llama.gguf")
    writer = gguf.GGUFWriter(path, arch="llama")
    writer.add_block_count(LAYERS)
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(HIDDEN)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(VOCAB)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)

    def quantized(name, weights, qtype):
        writer.add_tensor(name, gguf.quants.quantize(weights, qtype), raw_dtype=qtype)

    writer.add_tensor("token_embd.weight", normal(VOCAB, HIDDEN, scale=0.5).astype(np.float16))
    types = [T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q4_1]
    for layer in range(LAYERS):
        prefix = f"blk.{layer}."
        writer.add_tensor(prefix + "attn_norm.weight", 1 + normal(HIDDEN, scale=0.1))
        quantized(prefix + "attn_q.weight", permute(normal(HIDDEN, HIDDEN), HEADS), types[(layer + 0) % 7])
        quantized(prefix + "attn_k.weight", permute(normal(KV_HEADS * HEAD_DIM, HIDDEN), KV_HEADS), types[(layer + 1) % 7])
        quantized(prefix + "attn_v.weight", normal(KV_HEADS * HEAD_DIM, HIDDEN), types[(layer + 2) % 7])
        quantized(prefix + "attn_output.weight", normal(HIDDEN, HIDDEN), types[(layer + 3) % 7])
        writer.add_tensor(prefix + "ffn_norm.weight", 1 + normal(HIDDEN, scale=0.1))
        quantized(prefix + "ffn_gate.weight", normal(FFN, HIDDEN), types[(layer + 4) % 7])
        quantized(prefix + "ffn_up.weight", normal(FFN, HIDDEN), types[(layer + 5) % 7])
        quantized(prefix + "ffn_down.weight", normal(HIDDEN, FFN), types[(layer + 6) % 7])
    writer.add_tensor("output_norm.weight", 1 + normal(HIDDEN, scale=0.1))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    model = AutoModelForCausalLM.from_pretrained(HERE, gguf_file="tiny_llama.gguf", dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(torch.tensor([PROMPT])).logits[0].float().numpy()
    bits = [["%08x" % struct.unpack("<I", struct.pack("<f", float(v)))[0] for v in row] for row in logits]
    with open(os.path.join(HERE, "tiny_llama_logits.json"), "w") as out:
        json.dump({"ids": PROMPT, "vocab": VOCAB, "logits": bits}, out)
        out.write("\n")
    print(f"{path}: {os.path.getsize(path)} bytes; logits {logits.shape}")


if __name__ == "__main__":
    main()
