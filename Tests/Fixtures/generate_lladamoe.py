#!/usr/bin/env python3
"""Reference forward, loss and gradients for LLaDA-MoE (model_type "lladamoe") on a tiny random checkpoint.

Run from the repository root (needs torch and safetensors; the Swift tests do not):

    python3 Tests/Fixtures/generate_lladamoe.py [--lladamoe-src DIR]

Writes Tests/DLLMModelsTests/Fixtures/lladamoe/ (config.json in LLaDA-MoE's keys, model.safetensors in its tensor
names, reference.json + reference.safetensors in the format of generate_model_fixtures.py, read by
PyTorchParityTests).

The forward is a transcription of dLLM's `dllm/pipelines/llada/models/modeling_lladamoe.py` (OLMoE's decoder with
`is_causal = False` and no attention mask): RMSNorm, Q/K/V projections, per-head q/k RMSNorm (`qk_layernorm`),
rotate-half RoPE, grouped-query attention, O projection; then in layers with `moe_layer_freq[l] != 0` the
`LLaDAMoESparseMoeBlock` — router logits `h @ gate.T`, `softmax` in float32, `topk(num_experts_per_tok)` with
the top-k probabilities as weights (`norm_topk_prob` is hard-coded False), `Σ_j w_j · expert_j(h)` with SwiGLU
experts — plus the shared expert; other layers use a dense SwiGLU MLP. With `--lladamoe-src DIR` (holding dLLM's
modeling_lladamoe.py and configuration_lladamoe.py) the script also builds `LLaDAMoEModelLM` with the same
weights and asserts its logits and gradients equal the transcription's (float64).

The loss is `sum(weights * CE(logits, targets))` over a masked-diffusion batch (mask tokens in the input,
targets at the masked positions, random positive weights), as for the other parity fixtures. The script checks
that every token's k-th and (k+1)-th router probabilities differ by more than 1e-4, so rounding cannot change
which experts the Swift side selects.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import types
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_model_fixtures import (  # noqa: E402
    apply_rope, attention, linear, merge_heads, randomize_parameters, rms_norm, rope_tables, split_heads,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT = REPO_ROOT / "Tests" / "DLLMModelsTests" / "Fixtures" / "lladamoe"

CONFIG = {
    "architectures": ["LLaDAMoEModelLM"],
    "model_type": "lladamoe",
    "vocab_size": 48,
    "hidden_size": 32,
    "dense_intermediate_size": 40,
    "expert_intermediate_size": 16,
    "shared_expert_intermediate_size": 24,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "hidden_act": "silu",
    "max_position_embeddings": 64,
    "initializer_range": 0.02,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "rope_theta": 50000.0,
    "partial_rotary_factor": 1.0,
    "rope_scaling": None,
    "attention_bias": False,
    "attention_dropout": 0.0,
    "clip_qkv": None,
    "num_experts_per_tok": 2,
    "num_experts": 6,
    "output_router_logits": False,
    "router_aux_loss_coef": 0.01,
    "norm_topk_prob": None,
    "qk_layernorm": True,
    "moe_layer_freq": [0, 1, 1],
    "moe_router_enable_expert_bias": None,
    "moe_router_score_function": "softmax",
    "routed_scaling_factor": 1,
    "router_num_group": -2,
    "router_topk_group": -2,
    "pad_token_id": 1,
    "eos_token_id": 2,
    "mask_token_id": 47,
}
V, C = CONFIG["vocab_size"], CONFIG["hidden_size"]
H, KV = CONFIG["num_attention_heads"], CONFIG["num_key_value_heads"]
D = C // H
E, K = CONFIG["num_experts"], CONFIG["num_experts_per_tok"]
EPS = CONFIG["rms_norm_eps"]
B, T = 2, 7
IGNORE = -100
MIN_ROUTER_GAP = 1e-4

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)


def parameter_shapes():
    shapes = {"model.embed_tokens.weight": (V, C), "model.norm.weight": (C,), "lm_head.weight": (V, C)}

    def swiglu(prefix, inner):
        shapes.update({prefix + "gate_proj.weight": (inner, C), prefix + "up_proj.weight": (inner, C),
                       prefix + "down_proj.weight": (C, inner)})

    for i, freq in enumerate(CONFIG["moe_layer_freq"]):
        p = f"model.layers.{i}."
        shapes.update({
            p + "input_layernorm.weight": (C,), p + "post_attention_layernorm.weight": (C,),
            p + "self_attn.q_proj.weight": (H * D, C), p + "self_attn.k_proj.weight": (KV * D, C),
            p + "self_attn.v_proj.weight": (KV * D, C), p + "self_attn.o_proj.weight": (C, C),
            p + "self_attn.q_norm.weight": (D,), p + "self_attn.k_norm.weight": (D,),
        })
        if freq == 0:
            swiglu(p + "mlp.", CONFIG["dense_intermediate_size"])
        else:
            shapes[p + "mlp.gate.weight"] = (E, C)
            for e in range(E):
                swiglu(p + f"mlp.experts.{e}.", CONFIG["expert_intermediate_size"])
            swiglu(p + "shared_expert.", CONFIG["shared_expert_intermediate_size"])
    return shapes


class Holder(torch.nn.Module):
    """Plain parameters under LLaDA-MoE's names, for randomize_parameters."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(V, C)
        self.tensors = torch.nn.ParameterDict({
            name.replace(".", "__"): torch.nn.Parameter(torch.empty(shape))
            for name, shape in parameter_shapes().items() if name != "model.embed_tokens.weight"})

    def state(self):
        out = {"model.embed_tokens.weight": self.embed.weight}
        out.update({k.replace("__", "."): v for k, v in self.tensors.items()})
        return out


def swiglu_mlp(p, prefix, h):
    return linear(F.silu(linear(h, p[prefix + "gate_proj.weight"])) * linear(h, p[prefix + "up_proj.weight"]),
                  p[prefix + "down_proj.weight"])


def lladamoe_logits(p, ids, gaps=None):
    """(B, T, V). `gaps` collects each token's gap between its k-th and (k+1)-th router probability."""
    b, t = ids.shape
    x = p["model.embed_tokens.weight"][ids]
    cos, sin = rope_tables(torch.arange(t).expand(b, t), D, CONFIG["rope_theta"])
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    allowed = torch.ones(b, t, t, dtype=torch.bool)
    for i, freq in enumerate(CONFIG["moe_layer_freq"]):
        n = f"model.layers.{i}."
        h = rms_norm(x, p[n + "input_layernorm.weight"], EPS)
        q = rms_norm(split_heads(linear(h, p[n + "self_attn.q_proj.weight"]), H, D), p[n + "self_attn.q_norm.weight"], EPS)
        k = rms_norm(split_heads(linear(h, p[n + "self_attn.k_proj.weight"]), KV, D), p[n + "self_attn.k_norm.weight"], EPS)
        v = split_heads(linear(h, p[n + "self_attn.v_proj.weight"]), KV, D)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        x = x + linear(merge_heads(attention(q, k, v, allowed)), p[n + "self_attn.o_proj.weight"])
        h = rms_norm(x, p[n + "post_attention_layernorm.weight"], EPS)
        if freq == 0:
            y = swiglu_mlp(p, n + "mlp.", h)
        else:
            flat = h.reshape(-1, C)
            probs = F.softmax(linear(flat, p[n + "mlp.gate.weight"]), dim=1, dtype=torch.float).to(h.dtype)
            top = torch.topk(probs, K + 1, dim=-1)
            if gaps is not None:
                gaps.append((top.values[:, K - 1] - top.values[:, K]).min().item())
            weights, selected = top.values[:, :K], top.indices[:, :K]
            y = torch.zeros_like(flat)
            for e in range(E):
                rows, slot = torch.where(selected == e)
                if len(rows):
                    y = y.index_add(0, rows, swiglu_mlp(p, n + f"mlp.experts.{e}.", flat[rows]) * weights[rows, slot, None])
            y = y.reshape(h.shape) + swiglu_mlp(p, n + "shared_expert.", h)
        x = x + y
    return linear(rms_norm(x, p["model.norm.weight"], EPS), p["lm_head.weight"])


def make_batch(gen):
    x0 = torch.randint(3, CONFIG["mask_token_id"], (B, T), generator=gen)
    masked = torch.rand(B, T, generator=gen) < 0.5
    masked[:, 1] = True
    input_ids = torch.where(masked, torch.full_like(x0, CONFIG["mask_token_id"]), x0)
    targets = torch.where(masked, x0, torch.full_like(x0, IGNORE))
    weights = torch.where(masked, torch.rand(B, T, generator=gen) + 0.5, torch.zeros(B, T))
    return input_ids, targets, weights


def loss_of(logits, targets, weights):
    ce = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), reduction="none", ignore_index=IGNORE)
    return (weights.reshape(-1).to(ce.dtype) * ce).sum()


def shim_old_transformers_names():
    """Names modeling_lladamoe.py imports that transformers >= 5 removed; none of them is used on the path run
    here (no attention mask, no cache), so empty stand-ins suffice."""
    import transformers
    import transformers.pytorch_utils as pytorch_utils

    if importlib.util.find_spec("transformers.modeling_attn_mask_utils") is None:
        module = types.ModuleType("transformers.modeling_attn_mask_utils")
        module.AttentionMaskConverter = type("AttentionMaskConverter", (), {})
        sys.modules[module.__name__] = module
        transformers.modeling_attn_mask_utils = module
    if not hasattr(pytorch_utils, "ALL_LAYERNORM_LAYERS"):
        pytorch_utils.ALL_LAYERNORM_LAYERS = [torch.nn.LayerNorm]


def check_against_published(src, params, input_ids, targets, weights):
    shim_old_transformers_names()
    package = types.ModuleType("lladamoe_published")
    package.__path__ = [str(src)]
    sys.modules["lladamoe_published"] = package
    for name in ["configuration_lladamoe", "modeling_lladamoe"]:
        spec = importlib.util.spec_from_file_location(f"lladamoe_published.{name}", Path(src) / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    from transformers import modeling_rope_utils

    if "default" not in modeling_rope_utils.ROPE_INIT_FUNCTIONS:  # transformers >= 5 dropped the plain RoPE entry
        def default_rope(config, device=None, **_):
            dim = int((config.hidden_size // config.num_attention_heads) * config.partial_rotary_factor)
            return 1.0 / (config.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim)), 1.0
        modeling_rope_utils.ROPE_INIT_FUNCTIONS["default"] = default_rope
    sys.modules["lladamoe_published.modeling_lladamoe"].ROPE_INIT_FUNCTIONS.setdefault(
        "default", modeling_rope_utils.ROPE_INIT_FUNCTIONS["default"])
    Config = sys.modules["lladamoe_published.configuration_lladamoe"].LLaDAMoEConfig
    Model = sys.modules["lladamoe_published.modeling_lladamoe"].LLaDAMoEModelLM
    config = Config(**{k: v for k, v in CONFIG.items() if k not in ("architectures", "model_type", "mask_token_id")})
    config._attn_implementation = "eager"
    model = Model(config).double().eval()
    missing, unexpected = model.load_state_dict({k: v.double() for k, v in params.items()}, strict=False)
    assert not unexpected and not [m for m in missing if "rotary" not in m], (missing, unexpected)
    p64 = {k: v.detach().double().requires_grad_(True) for k, v in params.items()}
    ours = lladamoe_logits(p64, input_ids)
    theirs = model(input_ids=input_ids).logits
    error = (ours - theirs).abs().max().item() / theirs.abs().max().item()
    assert error <= 1e-6, f"logits differ from modeling_lladamoe.py by {error:.2e}"
    loss_of(ours, targets, weights).backward()
    loss_of(theirs, targets, weights).backward()
    named = dict(model.named_parameters())
    worst = 0.0
    for name, tensor in p64.items():
        scale = named[name].grad.abs().max().item()
        ours_grad = tensor.grad if tensor.grad is not None else torch.zeros_like(tensor)  # an expert no token chose
        worst = max(worst, (ours_grad - named[name].grad).abs().max().item() / max(scale, 1e-30))
    assert worst <= 1e-6, f"gradients differ from modeling_lladamoe.py by {worst:.2e}"
    return f"modeling_lladamoe.py (dLLM pipelines/llada/models): logits {error:.1e}, gradients {worst:.1e} relative, float64"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lladamoe-src", help="folder with dLLM's modeling_lladamoe.py and configuration_lladamoe.py")
    args = parser.parse_args()

    # The first parameter seed whose routing is clear of ties for the fixture batch.
    for seed in range(30, 80):
        gen = torch.Generator().manual_seed(seed)
        holder = Holder()
        randomize_parameters(holder, gen)
        params = {k: v.detach().clone() for k, v in holder.state().items()}
        input_ids, targets, weights = make_batch(gen)
        gaps = []
        with torch.no_grad():
            lladamoe_logits(params, input_ids, gaps)
        if min(gaps) > MIN_ROUTER_GAP:
            break
    assert min(gaps) > MIN_ROUTER_GAP

    p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    logits = lladamoe_logits(p, input_ids)
    loss = loss_of(logits, targets, weights)
    loss.backward()
    meta = {"case": "lladamoe", "attention": "bidirectional", "batch": B, "seq_len": T, "vocab_size": V, "seed": seed,
            "loss": "sum(weights*ce)", "smallest_router_gap": min(gaps), "checkpoint_names": sorted(params)}
    if args.lladamoe_src:
        meta["checked_against"] = check_against_published(args.lladamoe_src, params, input_ids, targets, weights)
    ref = {"input_ids": input_ids, "position_ids": torch.arange(T).expand(B, T).contiguous(),
           "key_padding": torch.ones(B, T, dtype=torch.int64), "targets": targets, "weights": weights.float(),
           "logits": logits.detach(), "loss": loss.detach().reshape(1)}
    for name, tensor in p.items():
        ref["grad." + name] = tensor.grad if tensor.grad is not None else torch.zeros_like(tensor)
    meta["unchosen_experts"] = sorted(n for n, t in p.items() if t.grad is None)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "config.json").write_text(json.dumps(CONFIG, indent=2, sort_keys=True) + "\n")
    save_file({k: v.contiguous() for k, v in params.items()}, str(OUT / "model.safetensors"), metadata={"format": "pt"})
    save_file({k: v.contiguous() for k, v in ref.items()}, str(OUT / "reference.safetensors"))
    (OUT / "reference.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {OUT}: seed {seed}, loss {loss.item():.6f}, smallest router gap {min(gaps):.2e}; "
          f"{meta.get('checked_against', 'not checked against the published code')}")


if __name__ == "__main__":
    main()
