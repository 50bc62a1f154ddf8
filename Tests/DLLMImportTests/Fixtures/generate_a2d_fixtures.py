#!/usr/bin/env python3
"""Fixtures of `dllm convert a2d` (A2DConversionTests), checked against transformers.

1. Writes `a2d-tiny-llama/`: a tiny random `LlamaForCausalLM` (2 layers, width 32, untied
   head) saved by `save_pretrained`, with a byte-level BPE tokenizer of exactly 320 tokens,
   so the vocabulary has no spare row for a mask token (320 is a multiple of 64, as
   SmolLM2's 49152 is).
2. Runs `DLLM convert a2d a2d-tiny-llama OUT` (the dllm binary given by --dllm).
3. Loads OUT with transformers as the base architecture (`LlamaForCausalLM.from_pretrained`,
   `AutoTokenizer.from_pretrained`) and checks that the grown vocabulary, the mask token and
   the old weights are what they should be; runs the model with the attention made
   bidirectional (a 4-D additive mask of zeros: every query sees every key), and writes
   `a2d_tiny_llama_reference.json`: what transformers loaded, the input ids, the
   bidirectional logits (float32 bit patterns), torch's mean/covariance of the old
   embedding and head rows (the statistics `resize_token_embeddings` draws new rows from),
   and what transformers' own `resize_token_embeddings(len(tokenizer), pad_to_multiple_of=64)`
   gives on the source model.
4. The same for `a2d-tiny-qwen2/` (`Qwen2ForCausalLM`, q/k/v biases, tied head, 384 rows for
   the same 320-token tokenizer: the mask token takes a spare row and nothing grows) into
   `a2d_tiny_qwen2_reference.json`.

Usage: python3 generate_a2d_fixtures.py --dllm .build/debug/dllm
(transformers 5.24.0, torch 2.15.0, tokenizers wrote the committed files).
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import tempfile

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (AutoConfig, AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast,
                          Qwen2Config, Qwen2ForCausalLM)

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENS = 320
TEXT = ("The quick brown fox jumps over the lazy dog. A diffusion language model fills in masked "
        "tokens; an autoregressive one predicts the next token. ") * 40
SHAPE = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=10000.0,
             bos_token_id=0, eos_token_id=0, attn_implementation="eager")
# name: (model class, config class, seed)
SOURCES = {
    "llama": (LlamaForCausalLM, LlamaConfig, dict(vocab_size=TOKENS, tie_word_embeddings=False), 13),
    "qwen2": (Qwen2ForCausalLM, Qwen2Config, dict(vocab_size=TOKENS + 64, tie_word_embeddings=True), 17),
}


def dllm_config(name):
    """dLLM's registration (`pipelines/a2d/models/*/modeling_*.py`): a subclass of the base
    config under `model_type` `a2d-<base>`, registered with AutoConfig."""
    base = SOURCES[name][1]
    cls = type(f"A2D{base.__name__}", (base,), {"model_type": f"a2d-{name}"})
    AutoConfig.register(f"a2d-{name}", cls)
    return cls


def hex_floats(tensor):
    return [format(struct.unpack("<I", struct.pack("<f", float(x)))[0], "08x") for x in tensor.flatten().tolist()]


def build_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=TOKENS, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([TEXT], trainer)
    assert tok.get_vocab_size() == TOKENS, tok.get_vocab_size()
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>")


def build_source(name):
    model_class, config_class, sizes, seed = SOURCES[name]
    torch.manual_seed(seed)
    model = model_class(config_class(**sizes, **SHAPE)).float()
    with torch.no_grad():
        for param_name, p in model.named_parameters():
            if param_name.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.2 * torch.randn_like(p))
    folder = os.path.join(HERE, f"a2d-tiny-{name}")
    if os.path.exists(folder):
        shutil.rmtree(folder)
    model.save_pretrained(folder)
    build_tokenizer().save_pretrained(folder)
    return folder, model


def mean_covariance(weight):
    """The statistics of `_init_added_embeddings_weights_with_mean`, computed the same way."""
    w = weight.detach().to(torch.float32)
    mean = torch.mean(w, axis=0)
    centred = w - mean
    return mean, centred.T @ centred / w.shape[0]


def convert_and_check(name, dllm):
    model_class = SOURCES[name][0]
    folder, source = build_source(name)
    rows = source.config.vocab_size
    out = tempfile.mkdtemp(prefix="a2d-fixture-")
    try:
        subprocess.run([dllm, "convert", "a2d", folder, out], check=True)
        with open(os.path.join(out, "config.json")) as f:
            written = json.load(f)
        model = model_class.from_pretrained(out, dtype=torch.float32, attn_implementation="eager")
        tokenizer = AutoTokenizer.from_pretrained(out)
        model.eval()
        emb = model.model.embed_tokens.weight
        head = model.lm_head.weight
        params = dict(model.named_parameters())
        old_equal = all(torch.equal(p, params[n]) for n, p in source.named_parameters()
                        if "embed_tokens" not in n and "lm_head" not in n)
        old_rows_equal = (torch.equal(emb[:rows], source.model.embed_tokens.weight)
                          and torch.equal(head[:rows], source.lm_head.weight))
        assert old_equal and old_rows_equal
        mask_id = tokenizer.mask_token_id
        assert tokenizer.mask_token == "<|mask|>" and mask_id == TOKENS, (tokenizer.mask_token, mask_id)
        assert written["mask_token_id"] == mask_id and written["model_type"] == f"a2d-{name}"
        a2d_config = dllm_config(name)
        auto = AutoConfig.from_pretrained(out)  # as dLLM's AutoModel.from_pretrained reads it
        assert type(auto) is a2d_config and auto.mask_token_id == mask_id

        ids = torch.tensor([[0, 41, 7, mask_id, mask_id, 100, 250, mask_id],
                            [0, mask_id, 12, 200, 5, mask_id, mask_id, 319]])
        B, T = ids.shape
        bidirectional = torch.zeros(B, 1, T, T)  # additive: every query sees every key
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=bidirectional).logits  # (B, T, V)
            causal = model(input_ids=ids).logits
            changed = ids.clone()
            changed[:, -1] = 3
            changed_logits = model(input_ids=changed, attention_mask=bidirectional).logits
        # The mask really is bidirectional: position 0 sees the last token.
        assert not torch.allclose(logits[:, 0], causal[:, 0])
        assert not torch.allclose(logits[:, 0], changed_logits[:, 0])

        emb_mean, emb_cov = mean_covariance(source.model.embed_tokens.weight)
        head_mean, head_cov = mean_covariance(source.lm_head.weight)
        resized = model_class.from_pretrained(folder, dtype=torch.float32)
        grown_tokenizer = AutoTokenizer.from_pretrained(folder)
        grown_tokenizer.add_special_tokens({"mask_token": "<|mask|>"})
        resized.resize_token_embeddings(len(grown_tokenizer), pad_to_multiple_of=64)
        hf_new = resized.model.embed_tokens.weight[rows:].detach()

        reference = {
            "transformers_version": transformers.__version__,
            "torch_version": torch.__version__,
            "transformers_loaded": {
                "class": type(model).__name__,
                "config_class": type(model.config).__name__,
                "vocab_size": model.config.vocab_size,
                "embedding_rows": emb.shape[0],
                "lm_head_rows": head.shape[0],
                "tied": emb.data_ptr() == head.data_ptr(),
                "mask_token": tokenizer.mask_token,
                "mask_token_id": mask_id,
                "len_tokenizer": len(tokenizer),
                "old_weights_equal": bool(old_equal and old_rows_equal),
            },
            "dllm_registered_config": {"class": type(auto).__name__, "model_type": auto.model_type,
                                       "vocab_size": auto.vocab_size, "mask_token_id": auto.mask_token_id},
            "source_vocab_size": rows,
            "transformers_resize": {
                "rows": resized.model.embed_tokens.weight.shape[0],
                "new_rows_max_abs_deviation_from_mean": float((hf_new - emb_mean).abs().max()) if len(hf_new) else None,
            },
            "written_config": written,
            "added_token": json.load(open(os.path.join(out, "tokenizer.json")))["added_tokens"][-1],
            "ids": ids.flatten().tolist(), "B": B, "T": T, "V": logits.shape[-1],
            "bidirectional_logits": hex_floats(logits),
            "embedding_mean": hex_floats(emb_mean), "embedding_covariance": hex_floats(emb_cov),
            "head_mean": hex_floats(head_mean), "head_covariance": hex_floats(head_cov),
        }
        path = os.path.join(HERE, f"a2d_tiny_{name}_reference.json")
        with open(path, "w") as f:
            json.dump(reference, f, indent=1)
            f.write("\n")
        print("wrote", folder, "and", path, "; transformers loaded", type(model).__name__,
              "with", emb.shape[0], "rows; mask id", mask_id)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dllm", required=True, help="the dllm executable")
    args = parser.parse_args()
    for name in SOURCES:
        convert_and_check(name, args.dllm)


if __name__ == "__main__":
    main()
