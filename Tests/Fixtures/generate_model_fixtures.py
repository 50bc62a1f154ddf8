#!/usr/bin/env python3
"""Reference fixtures for the Swift transformer implementations in DLLMModels.

Run from the repository root:

    python3 Tests/Fixtures/generate_model_fixtures.py            # every case
    python3 Tests/Fixtures/generate_model_fixtures.py qwen3      # only the named cases (same seeds)

For every case this writes Tests/DLLMModelsTests/Fixtures/<case>/ with

  config.json            the checkpoint's own config (HF `save_pretrained`, or LLaDA's keys for `llada`)
  model.safetensors      the weights exactly as a real checkpoint stores them (names and layouts)
  reference.safetensors  inputs, targets, loss weights, masks, logits, loss, gradients and a 10-step AdamW run
  reference.json         a description of the case (attention type, loss, optimizer settings, versions)

Conventions shared by all cases (B=2, T=7):

  * `key_padding[b, j]` = 1 for a real token, 0 for a padding key.  A query may attend key j only if
    key_padding[b, j] == 1 (and, for causal cases, j <= i).  Padded *query* rows still produce logits;
    they attend to the valid keys, so no row is ever fully masked.  Their targets are -100.
  * `position_ids` is 0..T-1 for every row.
  * Targets are already aligned with the logits: logits[b, t] is scored against targets[b, t] (for the
    causal cases the targets are the next tokens, shifted here; the Swift side does no shifting).
  * loss = sum_{b,t: target != -100} weights[b, t] * CE(logits[b, t], targets[b, t]), in float32.
  * `grad.<name>` / `final.<name>` use the checkpoint's own tensor names and layouts.  With tied
    embeddings the lm_head tensor is absent and the embedding's gradient contains both contributions.
  * AdamW: torch.optim.AdamW(lr=2e-3, betas=(0.9, 0.95), eps=1e-8) with Hugging Face Trainer's default
    parameter groups (`Trainer.create_optimizer`): weight_decay=0.1 on the names
    `Trainer.get_decay_parameter_names` returns, 0.0 on the rest (biases, `nn.LayerNorm` modules and names
    matching its norm patterns); reference.json's `no_decay` lists the latter by checkpoint name, and the
    script checks that decaying everything would have ended elsewhere.  Each step = zero_grad, loss on the
    same batch, backward,
    clip_grad_norm_(1.0) (its return value, the pre-clip total norm, is `adamw_grad_norms`), step.
    `adamw_losses[k]` is the loss before step k (so adamw_losses[0] == loss).

Before anything is written the script asserts that the transformers logits equal an independent pure-torch
forward written below (which reads the tensors back from the *saved* model.safetensors, so it also checks
names, layouts and tying), that the gradients agree too, and that the 4D masks we pass reproduce what
transformers builds itself from a 2D padding mask.

Transformers 5.x masking facts this relies on (checked against masking_utils.py of 5.23):
  * A 4D `attention_mask` (B, 1, T, T) is returned as-is by `create_causal_mask` (early exit in
    `_preprocess_mask_arguments`): no causal mask is combined with it, so a 4D mask fully defines the
    pattern, causal or not.
  * The eager attention *adds* the 4D mask to the scores.  It must therefore be a float mask with 0 for
    "attend" and a large negative value (finfo.min) for "masked".  A 4D *bool* mask is NOT converted for
    eager: True/False are added as 1.0/0.0, which silently masks nothing (sdpa, in contrast, does treat a bool
    mask as a mask).  We always pass float masks.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import load_file, save_file
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
    Trainer,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT_ROOT = REPO_ROOT / "Tests" / "DLLMModelsTests" / "Fixtures"

B, T, V = 2, 7, 67
IGNORE = -100
LOGIT_TOL = 1e-5
ADAMW = dict(lr=2e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, max_grad_norm=1.0, steps=10)
NEG = torch.finfo(torch.float32).min

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)  # bitwise reproducible reductions across machines
torch.set_default_dtype(torch.float32)
transformers.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()


# ----------------------------------------------------------------------------------------------------------
# Independent pure-torch reference forwards (no transformers code).  They read checkpoint tensors by name.
# ----------------------------------------------------------------------------------------------------------

def linear(x, w, b=None):
    """nn.Linear layout: w is (out, in)."""
    y = x @ w.t()
    return y if b is None else y + b


def conv1d(x, w, b):
    """GPT-2 Conv1D layout: w is (in, out)."""
    return x @ w + b


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = (x - mu).pow(2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


def rope_tables(position_ids, head_dim, theta):
    """Non-interleaved ("rotate_half") RoPE: pair i is (x[i], x[i + head_dim/2]). Computed in float64."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    ang = position_ids.to(torch.float64)[..., None] * inv_freq  # (B, T, head_dim/2)
    return ang.cos().float()[:, None], ang.sin().float()[:, None]  # (B, 1, T, head_dim/2)


def apply_rope(x, cos, sin):
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def attention(q, k, v, allowed):
    """q (B,H,T,d); k, v (B,KV,T,d); allowed (B,T,T) bool [query, key]. Query head h uses kv head h // (H/KV)."""
    n_rep = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(n_rep, dim=1)
    v = v.repeat_interleave(n_rep, dim=1)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    s = s.masked_fill(~allowed[:, None], float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def split_heads(x, n, d):
    b, t, _ = x.shape
    return x.view(b, t, n, d).transpose(1, 2)


def merge_heads(x):
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


def ref_llama_family(p, names, cfg, input_ids, position_ids, allowed):
    """LLaMA arithmetic (pre-norm RMSNorm, RoPE, GQA, SwiGLU), used for llada, llama_gqa, qwen2 and qwen3.

    `names` maps roles to checkpoint tensor names, so the same arithmetic reads LLaDA- and HF-named files.
    With `q_norm`/`k_norm` roles (qwen3), each head's query and key vectors are RMS-normalised (weight of
    width head_dim) after the projection and before the rotary embedding.
    """
    H, KV, d, eps = cfg["heads"], cfg["kv_heads"], cfg["head_dim"], cfg["eps"]
    x = p[names["embed"]][input_ids]
    cos, sin = rope_tables(position_ids, d, cfg["rope_theta"])
    for i in range(cfg["layers"]):
        n = lambda role: names["layer"].format(i=i, role=names[role])  # noqa: E731
        bias = lambda role: p.get(n(role).replace(".weight", ".bias"))  # noqa: E731
        h = rms_norm(x, p[n("attn_norm")], eps)
        q = split_heads(linear(h, p[n("q")], bias("q")), H, d)
        k = split_heads(linear(h, p[n("k")], bias("k")), KV, d)
        v = split_heads(linear(h, p[n("v")], bias("v")), KV, d)
        if "q_norm" in names:
            q, k = rms_norm(q, p[n("q_norm")], eps), rms_norm(k, p[n("k_norm")], eps)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        x = x + linear(merge_heads(attention(q, k, v, allowed)), p[n("o")])
        h = rms_norm(x, p[n("ffn_norm")], eps)
        x = x + linear(F.silu(linear(h, p[n("gate")])) * linear(h, p[n("up")]), p[n("down")])
    x = rms_norm(x, p[names["final_norm"]], eps)
    head = p[names["lm_head"]] if names["lm_head"] in p else p[names["embed"]]  # tied: reuse the embedding
    return linear(x, head)


def ref_gpt2(p, cfg, input_ids, position_ids, allowed):
    H, C, eps = cfg["heads"], cfg["hidden"], cfg["eps"]
    d = C // H
    x = p["transformer.wte.weight"][input_ids] + p["transformer.wpe.weight"][position_ids]
    for i in range(cfg["layers"]):
        pre = f"transformer.h.{i}."
        h = layer_norm(x, p[pre + "ln_1.weight"], p[pre + "ln_1.bias"], eps)
        qkv = conv1d(h, p[pre + "attn.c_attn.weight"], p[pre + "attn.c_attn.bias"])
        q, k, v = (split_heads(t, H, d) for t in qkv.split(C, dim=-1))
        a = merge_heads(attention(q, k, v, allowed))
        x = x + conv1d(a, p[pre + "attn.c_proj.weight"], p[pre + "attn.c_proj.bias"])
        h = layer_norm(x, p[pre + "ln_2.weight"], p[pre + "ln_2.bias"], eps)
        h = gelu_new(conv1d(h, p[pre + "mlp.c_fc.weight"], p[pre + "mlp.c_fc.bias"]))
        x = x + conv1d(h, p[pre + "mlp.c_proj.weight"], p[pre + "mlp.c_proj.bias"])
    x = layer_norm(x, p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], eps)
    return linear(x, p["transformer.wte.weight"])  # tied lm_head


HF_LLAMA_NAMES = dict(
    embed="model.embed_tokens.weight",
    layer="model.layers.{i}.{role}",
    attn_norm="input_layernorm.weight",
    q="self_attn.q_proj.weight",
    k="self_attn.k_proj.weight",
    v="self_attn.v_proj.weight",
    o="self_attn.o_proj.weight",
    ffn_norm="post_attention_layernorm.weight",
    gate="mlp.gate_proj.weight",
    up="mlp.up_proj.weight",
    down="mlp.down_proj.weight",
    final_norm="model.norm.weight",
    lm_head="lm_head.weight",
)

HF_QWEN3_NAMES = dict(HF_LLAMA_NAMES, q_norm="self_attn.q_norm.weight", k_norm="self_attn.k_norm.weight")

LLADA_NAMES = dict(
    embed="model.transformer.wte.weight",
    layer="model.transformer.blocks.{i}.{role}",
    attn_norm="attn_norm.weight",
    q="q_proj.weight",
    k="k_proj.weight",
    v="v_proj.weight",
    o="attn_out.weight",
    ffn_norm="ff_norm.weight",
    gate="ff_proj.weight",  # SiLU is applied to ff_proj (the gate), then multiplied by up_proj
    up="up_proj.weight",
    down="ff_out.weight",
    final_norm="model.transformer.ln_f.weight",
    lm_head="model.transformer.ff_out.weight",
)


def llada_to_hf_name(name: str, n_layers: int) -> str:
    """LLaDA checkpoint name -> name of the same tensor in the LlamaForCausalLM we compute with."""
    table = {LLADA_NAMES[r]: HF_LLAMA_NAMES[r] for r in ("embed", "final_norm", "lm_head")}
    for i in range(n_layers):
        for role in ("attn_norm", "q", "k", "v", "o", "ffn_norm", "gate", "up", "down"):
            table[LLADA_NAMES["layer"].format(i=i, role=LLADA_NAMES[role])] = HF_LLAMA_NAMES["layer"].format(
                i=i, role=HF_LLAMA_NAMES[role]
            )
    return table[name]


# ----------------------------------------------------------------------------------------------------------
# Case definitions
# ----------------------------------------------------------------------------------------------------------

def case_llada():
    # LLaDA-style: LLaMA arithmetic, bidirectional attention, untied head, MHA (n_kv_heads == n_heads).
    c = dict(hidden=32, layers=2, heads=4, kv_heads=4, head_dim=8, inter=48, rope_theta=500000.0, eps=1e-5)
    mask_id, eos_id = 66, 65
    hf = LlamaConfig(
        vocab_size=V, hidden_size=c["hidden"], intermediate_size=c["inter"], num_hidden_layers=c["layers"],
        num_attention_heads=c["heads"], num_key_value_heads=c["kv_heads"], head_dim=c["head_dim"],
        hidden_act="silu", rms_norm_eps=c["eps"], rope_parameters={"rope_type": "default", "rope_theta": c["rope_theta"]},
        attention_bias=False, mlp_bias=False, tie_word_embeddings=False, max_position_embeddings=64,
        # No pad_token_id here: it would give nn.Embedding a padding_idx (zero gradient for that row),
        # which LLaDA's plain nn.Embedding `wte` does not have.
        pad_token_id=None, bos_token_id=None, eos_token_id=eos_id, use_cache=False,
    )
    llada_config = {
        "architectures": ["LLaDAModelLM"],
        "model_type": "llada",
        "d_model": c["hidden"],
        "n_heads": c["heads"],
        "n_kv_heads": c["kv_heads"],
        "n_layers": c["layers"],
        "mlp_hidden_size": c["inter"],
        # As in the real LLaDA-8B config (mlp_ratio 4, mlp_hidden_size 12288 != 4*4096), mlp_ratio is NOT
        # consistent with mlp_hidden_size: loaders must use mlp_hidden_size when it is present.
        "mlp_ratio": 4,
        "rope_theta": c["rope_theta"],
        "rope": True,
        "rope_full_precision": True,
        "alibi": False,
        "vocab_size": V,
        "embedding_size": V,
        "mask_token_id": mask_id,
        "eos_token_id": eos_id,
        "pad_token_id": eos_id,
        "weight_tying": False,
        "rms_norm_eps": c["eps"],
        "include_bias": False,
        "include_qkv_bias": False,
        "bias_for_layer_norm": False,
        "layer_norm_type": "rms",
        "layer_norm_with_affine": True,
        "attention_layer_norm": False,
        "input_emb_norm": False,
        "scale_logits": False,
        "block_type": "llama",
        "activation_type": "silu",
        "max_sequence_length": 64,
        "use_cache": False,
    }
    return dict(
        name="llada", attention="bidirectional", model_cls=LlamaForCausalLM, hf_config=hf, dims=c,
        pad_lens=[0, 2], llada_config=llada_config, mask_token_id=mask_id, pad_token_id=eos_id,
        ref=lambda p, ids, pos, allowed: ref_llama_family(p, LLADA_NAMES, c, ids, pos, allowed),
    )


def case_llama_gqa():
    # hidden 24 with head_dim 8 * 4 heads = 32: q/o projections are not square (catches head_dim bugs).
    c = dict(hidden=24, layers=2, heads=4, kv_heads=2, head_dim=8, inter=48, rope_theta=10000.0, eps=1e-5)
    hf = LlamaConfig(
        vocab_size=V, hidden_size=c["hidden"], intermediate_size=c["inter"], num_hidden_layers=c["layers"],
        num_attention_heads=c["heads"], num_key_value_heads=c["kv_heads"], head_dim=c["head_dim"],
        hidden_act="silu", rms_norm_eps=c["eps"], rope_parameters={"rope_type": "default", "rope_theta": c["rope_theta"]},
        attention_bias=False, mlp_bias=False, tie_word_embeddings=False, max_position_embeddings=64,
        pad_token_id=None, bos_token_id=1, eos_token_id=2, use_cache=False,
    )
    return dict(
        name="llama_gqa", attention="causal", model_cls=LlamaForCausalLM, hf_config=hf, dims=c, pad_lens=[0, 1],
        ref=lambda p, ids, pos, allowed: ref_llama_family(p, HF_LLAMA_NAMES, c, ids, pos, allowed),
    )


def case_qwen2():
    c = dict(hidden=24, layers=2, heads=4, kv_heads=2, head_dim=6, inter=40, rope_theta=1000000.0, eps=1e-6)
    hf = Qwen2Config(
        vocab_size=V, hidden_size=c["hidden"], intermediate_size=c["inter"], num_hidden_layers=c["layers"],
        num_attention_heads=c["heads"], num_key_value_heads=c["kv_heads"], hidden_act="silu",
        rms_norm_eps=c["eps"], rope_parameters={"rope_type": "default", "rope_theta": c["rope_theta"]},
        tie_word_embeddings=True, use_sliding_window=False, max_position_embeddings=64,
        pad_token_id=None, bos_token_id=None, eos_token_id=66, use_cache=False,
    )
    return dict(
        name="qwen2", attention="causal", model_cls=Qwen2ForCausalLM, hf_config=hf, dims=c, pad_lens=[0, 2],
        ref=lambda p, ids, pos, allowed: ref_llama_family(p, HF_LLAMA_NAMES, c, ids, pos, allowed),
    )


def case_qwen3():
    # Per-head q/k RMSNorm, no biases, tied head; head_dim 8 * 4 heads = 32 != hidden 16, so q_proj is
    # (32, 16) and o_proj (16, 32), and the norms' width (8) differs from hidden / heads (4).
    c = dict(hidden=16, layers=2, heads=4, kv_heads=2, head_dim=8, inter=40, rope_theta=1000000.0, eps=1e-6)
    hf = Qwen3Config(
        vocab_size=V, hidden_size=c["hidden"], intermediate_size=c["inter"], num_hidden_layers=c["layers"],
        num_attention_heads=c["heads"], num_key_value_heads=c["kv_heads"], head_dim=c["head_dim"],
        hidden_act="silu", rms_norm_eps=c["eps"], rope_parameters={"rope_type": "default", "rope_theta": c["rope_theta"]},
        attention_bias=False, tie_word_embeddings=True, use_sliding_window=False, max_position_embeddings=64,
        pad_token_id=None, bos_token_id=None, eos_token_id=66, use_cache=False,
    )
    return dict(
        name="qwen3", attention="causal", model_cls=Qwen3ForCausalLM, hf_config=hf, dims=c, pad_lens=[0, 2],
        ref=lambda p, ids, pos, allowed: ref_llama_family(p, HF_QWEN3_NAMES, c, ids, pos, allowed),
    )


def case_gpt2():
    # n_inner=48 (not 4*n_embd): loaders must honour n_inner when it is set.
    c = dict(hidden=32, layers=2, heads=4, inner=48, positions=16, eps=1e-5)
    hf = GPT2Config(
        vocab_size=V, n_embd=c["hidden"], n_layer=c["layers"], n_head=c["heads"], n_inner=c["inner"],
        n_positions=c["positions"], activation_function="gelu_new", layer_norm_epsilon=c["eps"],
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, summary_first_dropout=0.0,
        scale_attn_weights=True, scale_attn_by_inverse_layer_idx=False, reorder_and_upcast_attn=False,
        tie_word_embeddings=True, bos_token_id=66, eos_token_id=66, pad_token_id=None, use_cache=False,
    )
    return dict(
        name="gpt2", attention="causal", model_cls=GPT2LMHeadModel, hf_config=hf, dims=c, pad_lens=[0, 1],
        ref=lambda p, ids, pos, allowed: ref_gpt2(p, c, ids, pos, allowed),
    )


# ----------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------

def randomize_parameters(model, gen):
    """Replace transformers' tiny init (std 0.02) with O(1) activations so that every tensor matters."""
    from transformers.pytorch_utils import Conv1D

    conv_weights = {id(m.weight) for m in model.modules() if isinstance(m, Conv1D)}
    emb_weights = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            r = torch.randn(p.shape, generator=gen)
            if p.ndim == 1 and name.endswith("weight"):  # norm gains
                p.copy_(1.0 + 0.2 * r)
            elif p.ndim == 1:  # biases
                p.copy_(0.1 * r)
            elif id(p) in emb_weights:
                p.copy_(0.4 * r)
            else:
                fan_in = p.shape[0] if id(p) in conv_weights else p.shape[1]
                p.copy_(r / math.sqrt(fan_in))


def make_batch(case, gen):
    pad_lens = case["pad_lens"]
    key_padding = torch.ones(B, T, dtype=torch.int64)
    for b, n in enumerate(pad_lens):
        if n:
            key_padding[b, T - n:] = 0
    valid = key_padding.bool()
    position_ids = torch.arange(T, dtype=torch.int64).expand(B, T).contiguous()

    if case["name"] == "llada":
        # Masked-diffusion training example: clean tokens x0, a random subset replaced by [MASK],
        # targets = x0 at masked positions, -100 elsewhere (and at padding).
        x0 = torch.randint(0, case["pad_token_id"], (B, T), generator=gen)
        masked = (torch.rand(B, T, generator=gen) < 0.5) & valid
        for b in range(B):  # at least two masked positions per row, chosen at random among the valid ones
            idx = torch.nonzero(valid[b]).flatten()
            masked[b, idx[torch.randperm(len(idx), generator=gen)[:2]]] = True
        input_ids = torch.where(masked, torch.full_like(x0, case["mask_token_id"]), x0)
        input_ids = torch.where(valid, input_ids, torch.full_like(x0, case["pad_token_id"]))
        targets = torch.where(masked, x0, torch.full_like(x0, IGNORE))
    else:
        input_ids = torch.randint(0, V, (B, T), generator=gen)
        input_ids = torch.where(valid, input_ids, torch.zeros_like(input_ids))  # padding holds token 0
        targets = torch.full((B, T), IGNORE, dtype=torch.int64)
        next_valid = torch.zeros_like(valid)
        next_valid[:, :-1] = valid[:, 1:]
        ok = valid & next_valid  # position t predicts token t+1 when both are real
        targets[:, :-1] = torch.where(ok[:, :-1], input_ids[:, 1:], targets[:, :-1])
    weights = torch.rand(B, T, generator=gen) + 0.5
    weights = torch.where(targets != IGNORE, weights, torch.zeros_like(weights)).float()
    return dict(input_ids=input_ids, targets=targets, weights=weights, key_padding=key_padding,
                position_ids=position_ids)


def allowed_matrix(attention, key_padding):
    """(B, T, T) bool: query i may attend key j."""
    allowed = key_padding.bool()[:, None, :].expand(B, T, T)
    if attention == "causal":
        allowed = allowed & torch.ones(T, T, dtype=torch.bool).tril()
    return allowed.contiguous()


def additive_4d_mask(allowed):
    """The float (B, 1, T, T) mask eager attention adds to the scores: 0 = attend, finfo.min = masked."""
    zero = torch.zeros((), dtype=torch.float32)
    neg = torch.full((), NEG, dtype=torch.float32)
    return torch.where(allowed, zero, neg)[:, None].contiguous()


def weighted_ce(logits, targets, weights):
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1),
                         reduction="none", ignore_index=IGNORE)
    return (weights.reshape(-1) * ce).sum().reshape(1)


def hf_logits(model, batch, mask):
    return model(input_ids=batch["input_ids"], attention_mask=mask, position_ids=batch["position_ids"],
                 use_cache=False).logits


def check_close(what, a, b, atol, rtol=0.0):
    diff = (a - b).abs().max().item()
    bound = atol + rtol * b.abs().max().item()
    assert diff <= bound, f"{what}: max |diff| {diff:.3e} > {bound:.3e}"
    return diff


def save_checkpoint(case, model, out):
    if case["name"] == "llada":
        hf_params = dict(model.named_parameters())
        tensors = {}
        for name in llada_names(case):
            tensors[name] = hf_params[llada_to_hf_name(name, case["dims"]["layers"])].detach().clone().contiguous()
        save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
        (out / "config.json").write_text(json.dumps(case["llada_config"], indent=2) + "\n")
    else:
        model.save_pretrained(str(out))
        for extra in ("generation_config.json",):  # not part of the fixture layout
            if (out / extra).exists():
                (out / extra).unlink()


def llada_names(case):
    L = case["dims"]["layers"]
    names = [LLADA_NAMES["embed"]]
    for i in range(L):
        for role in ("attn_norm", "q", "k", "v", "o", "ffn_norm", "gate", "up", "down"):
            names.append(LLADA_NAMES["layer"].format(i=i, role=LLADA_NAMES[role]))
    names += [LLADA_NAMES["final_norm"], LLADA_NAMES["lm_head"]]
    return names


def hf_param_groups(model, decay_names):
    """The two groups `Trainer.create_optimizer` builds: decayed names, and the rest with weight_decay 0."""
    params = list(model.named_parameters())
    return [{"params": [p for n, p in params if n in decay_names], "weight_decay": ADAMW["weight_decay"]},
            {"params": [p for n, p in params if n not in decay_names], "weight_decay": 0.0}]


def adamw_run(model, batch, mask4d, groups):
    """ADAMW["steps"] steps on the same batch; returns (loss before each step, pre-clip grad norm of each step)."""
    opt = torch.optim.AdamW(groups, lr=ADAMW["lr"], betas=(ADAMW["beta1"], ADAMW["beta2"]), eps=ADAMW["eps"])
    losses, norms = [], []
    for _ in range(ADAMW["steps"]):
        opt.zero_grad(set_to_none=True)
        step_loss = weighted_ce(hf_logits(model, batch, mask4d), batch["targets"], batch["weights"])
        step_loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=ADAMW["max_grad_norm"])
        opt.step()
        losses.append(step_loss.item())
        norms.append(norm.item())
    return losses, norms


def checkpoint_to_parameter(case, model, ckpt_names):
    """Map every checkpoint tensor name to the (unique) model Parameter it holds."""
    all_params = dict(model.named_parameters(remove_duplicate=False))
    mapping = {}
    for name in ckpt_names:
        hf_name = llada_to_hf_name(name, case["dims"]["layers"]) if case["name"] == "llada" else name
        assert hf_name in all_params, f"{case['name']}: checkpoint tensor {name} is not a model parameter"
        mapping[name] = all_params[hf_name]
    unique = {id(p) for p in model.parameters()}
    covered = [id(p) for p in mapping.values()]
    assert len(covered) == len(set(covered)), f"{case['name']}: a parameter is stored twice"
    assert set(covered) == unique, f"{case['name']}: some parameters are missing from the checkpoint"
    return mapping


# ----------------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------------

def build_case(case, seed):
    name = case["name"]
    out = OUT_ROOT / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = case["model_cls"]._from_config(case["hf_config"], attn_implementation="eager", dtype=torch.float32)
    model.eval()  # dropout is 0 anyway; eval() only makes that explicit
    randomize_parameters(model, gen)
    batch = make_batch(case, gen)
    allowed = allowed_matrix(case["attention"], batch["key_padding"])
    mask4d = additive_4d_mask(allowed)

    # 1. checkpoint, then read it back exactly as the Swift loader will
    save_checkpoint(case, model, out)
    ckpt = load_file(str(out / "model.safetensors"))
    param_of = checkpoint_to_parameter(case, model, sorted(ckpt))
    for k, t in ckpt.items():
        assert t.dtype == torch.float32 and torch.equal(t, param_of[k].detach()), f"{name}: {k} differs"
    if case["hf_config"].tie_word_embeddings:
        assert not any(k.startswith("lm_head") for k in ckpt), f"{name}: tied lm_head should not be stored"

    # 2. transformers forward/backward with our 4D float mask
    model.zero_grad(set_to_none=True)
    logits = hf_logits(model, batch, mask4d)
    loss = weighted_ce(logits, batch["targets"], batch["weights"])
    loss.backward()
    grads = {k: param_of[k].grad.detach().clone() for k in sorted(ckpt)}

    # 3. independent reference forward from the saved tensors; compare logits and gradients
    ref_params = {k: t.clone().requires_grad_(True) for k, t in ckpt.items()}
    ref_logits = case["ref"](ref_params, batch["input_ids"], batch["position_ids"], allowed)
    d_logits = check_close(f"{name} logits (transformers vs pure torch)", logits.detach(), ref_logits.detach(), LOGIT_TOL)
    ref_loss = weighted_ce(ref_logits, batch["targets"], batch["weights"])
    check_close(f"{name} loss", loss.detach(), ref_loss.detach(), 1e-5, 1e-6)
    ref_grads = torch.autograd.grad(ref_loss, [ref_params[k] for k in sorted(ckpt)])
    d_grad = 0.0
    for k, g in zip(sorted(ckpt), ref_grads):
        d_grad = max(d_grad, check_close(f"{name} grad {k}", grads[k], g, 1e-5, 1e-5))

    # 4. the mask is what we think it is: compare with transformers' own mask construction
    with torch.no_grad():
        if case["attention"] == "causal":
            native = hf_logits(model, batch, batch["key_padding"])  # 2D padding mask -> causal & padding
            check_close(f"{name} 4D mask vs transformers' own 2D->4D mask", logits.detach(), native, 1e-6)
            # sanity: without any mask the padded keys would leak into batch element 1
            nomask = hf_logits(model, batch, None)
            assert (nomask[1] - logits[1]).abs().max() > 1e-3 or case["pad_lens"][1] == 0
        else:
            bidir_cfg = case["hf_config"].__class__.from_dict(case["hf_config"].to_dict())
            bidir_cfg.is_causal = False  # transformers 5.x switch: create_causal_mask -> bidirectional mask
            m2 = case["model_cls"]._from_config(bidir_cfg, attn_implementation="eager", dtype=torch.float32).eval()
            m2.load_state_dict(model.state_dict())
            native = hf_logits(m2, batch, batch["key_padding"])
            check_close(f"{name} 4D mask vs transformers is_causal=False + 2D mask", logits.detach(), native, 1e-6)
            causal = hf_logits(model, batch, batch["key_padding"])  # plain Llama config: causal
            assert (causal - logits).abs().max() > 1e-3, "bidirectional and causal logits should differ"

    # 5. AdamW trajectory, with HF Trainer's default decay grouping
    decay_names = set(Trainer.get_decay_parameter_names(None, model))
    no_decay = sorted(k for k in ckpt if not any(param_of[k] is p for n, p in model.named_parameters() if n in decay_names))
    assert no_decay and len(no_decay) < len(ckpt), f"{name}: the grouping should split the parameters {no_decay}"
    start_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    losses, norms = adamw_run(model, batch, mask4d, hf_param_groups(model, decay_names))
    assert losses[0] == loss.item(), "first AdamW loss must equal the reference loss"
    assert losses[-1] < losses[0], f"{name}: AdamW did not reduce the loss {losses}"
    final = {k: param_of[k].detach().float().clone() for k in sorted(ckpt)}
    # The old behaviour (decay on every tensor) must end measurably elsewhere, so the Swift test can tell.
    model.load_state_dict(start_state)
    adamw_run(model, batch, mask4d, [{"params": list(model.parameters()), "weight_decay": ADAMW["weight_decay"]}])
    all_decay_diff = max((param_of[k].detach() - final[k]).abs().max().item() / max(final[k].abs().max().item(), 1e-12)
                         for k in no_decay)
    assert all_decay_diff > 1e-4, f"{name}: decaying every tensor changes the result by only {all_decay_diff}"

    # 6. write reference tensors
    ref = dict(batch)
    ref["logits"] = logits.detach().float().contiguous()
    ref["loss"] = loss.detach().float().reshape(1)
    for k in sorted(ckpt):
        ref[f"grad.{k}"] = grads[k].float().contiguous()
        ref[f"final.{k}"] = final[k].contiguous()
    ref["adamw_losses"] = torch.tensor(losses, dtype=torch.float32)
    ref["adamw_grad_norms"] = torch.tensor(norms, dtype=torch.float32)
    save_file({k: v.contiguous() for k, v in ref.items()}, str(out / "reference.safetensors"),
              metadata={"format": "pt"})

    desc = {
        "case": name,
        "attention": case["attention"],
        "loss": "sum(weights*ce)",
        "loss_detail": "sum over b,t with targets != -100 of weights[b,t] * cross_entropy(logits[b,t], targets[b,t]); "
                       "float32; targets already aligned with logits (no shifting on the Swift side)",
        "mask": "query i may attend key j iff key_padding[b,j] == 1"
                + (" and j <= i" if case["attention"] == "causal" else "")
                + "; padded query rows still produce logits (targets -100)",
        "batch": B, "seq_len": T, "vocab_size": V,
        "pad_lens": case["pad_lens"],
        "checkpoint_names": sorted(ckpt),
        "num_parameters": int(sum(t.numel() for t in ckpt.values())),
        "tied_embeddings": bool(case["hf_config"].tie_word_embeddings),
        "adamw": ADAMW,
        "adamw_note": "torch.optim.AdamW (decoupled decay p -= lr*wd*p, bias-corrected moments) with HF Trainer's "
                      "default groups: weight_decay on Trainer.get_decay_parameter_names, 0 on `no_decay`; "
                      "clip_grad_norm_(max_norm) before each step; adamw_losses[k] = loss before step k",
        "no_decay": no_decay,
        "all_decay_max_rel_diff_on_no_decay": all_decay_diff,
        "seed": seed,
        "self_check": {"max_abs_logit_diff_vs_pure_torch": d_logits, "max_abs_grad_diff_vs_pure_torch": d_grad},
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    if name == "llada":
        desc["mask_token_id"] = case["mask_token_id"]
        desc["note"] = ("LLaDA names; computed as LlamaForCausalLM with a bidirectional 4D float mask. "
                        "ff_proj = gate (SiLU applied), up_proj = up, ff_out = down, attn_out = o_proj, "
                        "model.transformer.ff_out = lm_head.")
    (out / "reference.json").write_text(json.dumps(desc, indent=2) + "\n")

    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    print(f"{name:10s} params={desc['num_parameters']:6d} logits|diff|={d_logits:.2e} grad|diff|={d_grad:.2e} "
          f"loss={loss.item():.5f} -> {losses[-1]:.5f}  files={sizes}")
    return sum(sizes.values())


CASES = (case_llada, case_llama_gqa, case_qwen2, case_gpt2, case_qwen3)  # seed = 1234 + index


def main():
    os.chdir(REPO_ROOT)
    wanted = set(sys.argv[1:])
    known = {make.__name__.removeprefix("case_") for make in CASES}
    assert wanted <= known, f"unknown case(s) {sorted(wanted - known)}; known: {sorted(known)}"
    for seed, make in enumerate(CASES, start=1234):
        if not wanted or make.__name__.removeprefix("case_") in wanted:
            build_case(make(), seed)
    total = sum(f.stat().st_size for f in OUT_ROOT.rglob("*") if f.is_file())
    print(f"total fixture size: {total} bytes ({total / 1024:.1f} KiB) in {OUT_ROOT.relative_to(REPO_ROOT)}")
    assert total < 1_000_000, "fixtures should stay well under 1 MB"


if __name__ == "__main__":
    sys.exit(main())
