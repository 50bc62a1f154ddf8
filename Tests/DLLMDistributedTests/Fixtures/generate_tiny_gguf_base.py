#!/usr/bin/env python3
"""Writes `gguf/tiny_llama_q4.gguf`: the LoRA-over-a-GGUF-base fixture (docs/qlora.md).

Run from the repository root (needs `gguf` and `numpy` only):

    python3 Tests/DLLMDistributedTests/Fixtures/generate_tiny_gguf_base.py

A tiny llama as llama.cpp's writer lays one out (GGUF v3, `general.architecture` llama,
hidden 32, 2 layers, 4 heads / 2 key-value heads, feed-forward 64, 64 positions, tied head),
seeded random weights quantised by gguf-py (`gguf.quants.quantize`): every block matrix in
Q4_1 or Q8_0 (alternating), the token embedding in Q8_0, the norms in F32. Its tokenizer is
the 512-token byte-level BPE of `model/tokenizer.json` (same fixture folder) as GGUF
metadata (`tokenizer.ggml.model` gpt2, tokens, token types, merges, EOS/padding ids 0), so
the trainer's tokenizer, the vocabulary and the mask token `<|mdm_mask|>` all come from the
file. The rows of q/k are random, so llama.cpp's rotary permutation needs no undoing here:
the Swift importer's un-permutation is applied to both paths the tests compare.
"""
import json
import os

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter, TokenType
from gguf.quants import quantize

HERE = os.path.dirname(os.path.abspath(__file__))
HIDDEN, LAYERS, HEADS, KV_HEADS, FFN, CONTEXT = 32, 2, 4, 2, 64, 64
HEAD_DIM = HIDDEN // HEADS

with open(os.path.join(HERE, "model", "tokenizer.json"), encoding="utf-8") as f:
    tokenizer = json.load(f)
vocab = tokenizer["model"]["vocab"]
added = {t["id"]: t["content"] for t in tokenizer["added_tokens"]}
size = max(list(vocab.values()) + list(added.keys())) + 1
tokens = [""] * size
for text, i in vocab.items():
    tokens[i] = text
types = [TokenType.NORMAL] * size
for i, text in added.items():
    tokens[i] = text
    types[i] = TokenType.CONTROL
merges = [m if isinstance(m, str) else " ".join(m) for m in tokenizer["model"]["merges"]]

rng = np.random.default_rng(20261201)
writer = GGUFWriter(os.path.join(HERE, "gguf", "tiny_llama_q4.gguf"), "llama")
writer.add_block_count(LAYERS)
writer.add_context_length(CONTEXT)
writer.add_embedding_length(HIDDEN)
writer.add_feed_forward_length(FFN)
writer.add_head_count(HEADS)
writer.add_head_count_kv(KV_HEADS)
writer.add_rope_dimension_count(HEAD_DIM)
writer.add_rope_freq_base(10000.0)
writer.add_layer_norm_rms_eps(1e-5)
writer.add_vocab_size(size)
writer.add_tokenizer_model("gpt2")
writer.add_token_list(tokens)
writer.add_token_types(types)
writer.add_token_merges(merges)
writer.add_eos_token_id(0)
writer.add_pad_token_id(0)


def add(name, rows, cols, kind, std=0.2):
    values = (rng.standard_normal((rows, cols)) * std).astype(np.float32)
    writer.add_tensor(name, quantize(values, kind), raw_dtype=kind)


add("token_embd.weight", size, HIDDEN, GGMLQuantizationType.Q8_0, std=1.0)
kinds = [GGMLQuantizationType.Q4_1, GGMLQuantizationType.Q8_0]
for layer in range(LAYERS):
    prefix = f"blk.{layer}."
    shapes = [("attn_q", HIDDEN, HIDDEN), ("attn_k", KV_HEADS * HEAD_DIM, HIDDEN), ("attn_v", KV_HEADS * HEAD_DIM, HIDDEN),
              ("attn_output", HIDDEN, HIDDEN), ("ffn_gate", FFN, HIDDEN), ("ffn_up", FFN, HIDDEN), ("ffn_down", HIDDEN, FFN)]
    for n, (name, rows, cols) in enumerate(shapes):
        add(prefix + name + ".weight", rows, cols, kinds[(n + layer) % 2])
    for norm in ("attn_norm", "ffn_norm"):
        writer.add_tensor(prefix + norm + ".weight", (1 + 0.1 * rng.standard_normal(HIDDEN)).astype(np.float32))
writer.add_tensor("output_norm.weight", (1 + 0.1 * rng.standard_normal(HIDDEN)).astype(np.float32))

writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()
