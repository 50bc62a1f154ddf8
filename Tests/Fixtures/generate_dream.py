#!/usr/bin/env python3
"""Reference outputs for Dream (model_type "Dream"): forward, the CART-weighted shifted loss, gradients,
and Dream's sampler, on a tiny randomly initialised Dream checkpoint.

Run from the repository root (needs torch and safetensors; the Swift tests do not):

    python3 Tests/Fixtures/generate_dream.py [--dream-src DIR]

Writes
  Tests/DLLMModelsTests/Fixtures/dream/        config.json (Dream's keys), model.safetensors (Dream's tensor
                                               names), reference.json + reference.safetensors
  Tests/DLLMSamplingTests/Fixtures/dream_sampler.json

The model is a transcription of Dream's `modeling_dream.py` (dLLM `dllm/pipelines/dream/models/`, the same file
as HKUNLP/Dream's): Qwen2's decoder (RMSNorm, Q/K/V projections with biases, rotate-half RoPE, grouped-query
attention, SwiGLU) with `is_causal = False` and no attention mask (`attention_mask="full"`). It reuses the
LLaMA-family arithmetic of generate_model_fixtures.py. With `--dream-src DIR` (a folder holding Dream's
modeling_dream.py, configuration_dream.py and generation_utils.py) the script also builds Dream's own
`DreamModel` with the same weights and asserts that its logits and gradients equal the transcription's
(float64, 1e-6: Dream computes its rotary angles in float32), and that its `diffusion_generate` gives the transcribed sampler's tokens in every
deterministic case (temperature 0, no alg_temp, alg != origin).

The loss is dLLM's `DreamTrainer` (`MDLMTrainer.compute_loss` with `right_shift_logits=True` and
`loss_weight_type="cart[geo_p:P]"`): BOS prepended with label -100 (`prepend_bos`, since not every row starts
with -100), masked positions replaced by the mask token, logits shifted right
(`cat([logits[:, :1], logits[:, :-1]], 1)`), per-token CE at masked positions times `cart_weight(masked, t, p)`,
divided by the number of maskable tokens ("token" normalisation), summed. `t` and the masked positions are
fixed inputs here (the Swift objective's deterministic core takes them). For the Swift side's
`weights` (aligned with logit rows, no shifting there) the weight of token i sits on row i - 1.

The sampler is a transcription of Dream's `_sample` and `sample_tokens` (generation_utils.py) in float32,
with its random draws replaced by counter-based noise that the Swift `CounterNoise` reproduces
(generate_sampler_fixtures.py's `gumbel_uniforms`/`remask_uniform`):
  * `Categorical(probs).sample()` -> Gumbel-max: argmax over tokens with p > 0 of p / -log(u_v), u = the V
    Gumbel uniforms at (step, sample, position);
  * `torch.rand(...) < p_transfer` (origin) -> remask_uniform(step, sample, position) < p_transfer;
  * `torch.multinomial(softmax(conf / alg_temp), k)` -> Gumbel-top-k: the k masked positions with the largest
    conf / alg_temp - log(-log u), u = remask_uniform(step, sample, position).
Each is the same distribution as Dream's call. Every case records the smallest margin of every decision
(argmax gaps, top-k confidence gaps, top-p cumulative distances, reveal thresholds); each case takes the first
noise seed (from 1000 + 100 n) whose margins are all above 2e-5, far above float32 rounding (about 1e-7 here), so the Swift sampler, whose logits differ from these by rounding,
must make the same decisions.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_model_fixtures import randomize_parameters, ref_llama_family  # noqa: E402
from generate_sampler_fixtures import gumbel_uniforms, remask_uniform  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_OUT = REPO_ROOT / "Tests" / "DLLMModelsTests" / "Fixtures" / "dream"
SAMPLER_OUT = REPO_ROOT / "Tests" / "DLLMSamplingTests" / "Fixtures" / "dream_sampler.json"

CONFIG = {
    "architectures": ["DreamModel"],
    "model_type": "Dream",
    "vocab_size": 64,
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "hidden_act": "silu",
    "max_position_embeddings": 64,
    "initializer_range": 0.02,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "rope_scaling": None,
    "tie_word_embeddings": False,
    "use_sliding_window": False,
    "sliding_window": 4096,
    "max_window_layers": 28,
    "attention_dropout": 0.0,
    "mask_token_id": 63,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
}
V = CONFIG["vocab_size"]
MASK, BOS = CONFIG["mask_token_id"], CONFIG["bos_token_id"]
GEO_P = 0.3
IGNORE = -100
NAMES = {
    "embed": "model.embed_tokens.weight", "final_norm": "model.norm.weight", "lm_head": "lm_head.weight",
    "layer": "model.layers.{i}.{role}",
    "attn_norm": "input_layernorm.weight", "q": "self_attn.q_proj.weight", "k": "self_attn.k_proj.weight",
    "v": "self_attn.v_proj.weight", "o": "self_attn.o_proj.weight", "ffn_norm": "post_attention_layernorm.weight",
    "gate": "mlp.gate_proj.weight", "up": "mlp.up_proj.weight", "down": "mlp.down_proj.weight",
}
REF_CFG = {"heads": 4, "kv_heads": 2, "head_dim": 8, "eps": 1e-6, "rope_theta": 10000.0, "layers": 2}

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)


def parameter_shapes():
    C, I, H, KV, d = 32, 48, 4, 2, 8
    shapes = {"model.embed_tokens.weight": (V, C), "model.norm.weight": (C,), "lm_head.weight": (V, C)}
    for i in range(REF_CFG["layers"]):
        p = f"model.layers.{i}."
        shapes.update({
            p + "input_layernorm.weight": (C,), p + "post_attention_layernorm.weight": (C,),
            p + "self_attn.q_proj.weight": (H * d, C), p + "self_attn.q_proj.bias": (H * d,),
            p + "self_attn.k_proj.weight": (KV * d, C), p + "self_attn.k_proj.bias": (KV * d,),
            p + "self_attn.v_proj.weight": (KV * d, C), p + "self_attn.v_proj.bias": (KV * d,),
            p + "self_attn.o_proj.weight": (C, H * d),
            p + "mlp.gate_proj.weight": (I, C), p + "mlp.up_proj.weight": (I, C), p + "mlp.down_proj.weight": (C, I),
        })
    return shapes


class Holder(torch.nn.Module):
    """Plain parameters under Dream's checkpoint names, so randomize_parameters treats them as it does HF models."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(V, 32)
        self.tensors = torch.nn.ParameterDict()
        for name, shape in parameter_shapes().items():
            if name != "model.embed_tokens.weight":
                self.tensors[name.replace(".", "__")] = torch.nn.Parameter(torch.empty(shape))

    def state(self):
        out = {"model.embed_tokens.weight": self.embed.weight}
        out.update({k.replace("__", "."): v for k, v in self.tensors.items()})
        return out


def dream_logits(p, ids):
    """(B, T, V): Dream's forward, bidirectional, positions 0..T-1."""
    B, T = ids.shape
    positions = torch.arange(T).expand(B, T)
    allowed = torch.ones(B, T, T, dtype=torch.bool)
    return ref_llama_family(p, NAMES, REF_CFG, ids, positions, allowed)


def cart_weight(masked, p):
    """dLLM `cart_weight`, transcribed: float32 (l, l) geometric kernel, clean-position row sums."""
    b, l = masked.shape
    idx = torch.arange(l)
    dist = idx[None, :] - idx[:, None]
    geo = (torch.log(torch.tensor(p)) + (dist.abs() - 1).clamp(min=0) * torch.log(torch.tensor(1 - p))).exp() * 0.5
    geo.masked_fill_(dist == 0, 0.0)
    return ((~masked).float() @ geo.T) * masked.float()


def prepend_bos(ids, labels):
    B = ids.shape[0]
    return (torch.cat([torch.full((B, 1), BOS), ids], 1), torch.cat([torch.full((B, 1), IGNORE), labels], 1))


# ------------------------------------------------------------------------------------------------------
# Training case
# ------------------------------------------------------------------------------------------------------

def training_case(params, gen):
    B, T = 2, 9
    clean = torch.randint(3, MASK, (B, T), generator=gen)
    labels = clean.clone()
    labels[0, :3] = IGNORE  # an SFT row: a 3-token prompt that is never masked
    ids, lab = prepend_bos(clean, labels)  # (B, T + 1)
    t = torch.tensor([0.35, 0.8], dtype=torch.float64)
    maskable = lab != IGNORE
    masked = (torch.rand(B, T + 1, generator=gen, dtype=torch.float64) < t[:, None]) & maskable
    assert masked.sum(1).min() >= 2 and (~masked & maskable).sum() >= 2
    noised = torch.where(masked, torch.full_like(ids, MASK), ids)

    p = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    logits = dream_logits(p, noised)
    shifted = torch.cat([logits[:, :1], logits[:, :-1]], 1)
    weights_cart = cart_weight(masked, GEO_P)
    nll = F.cross_entropy(shifted.transpose(1, 2), ids, reduction="none")
    nll = nll * weights_cart * masked.float() / maskable.sum().clamp_min(1)
    loss = nll.sum()
    loss.backward()

    # The same loss in the Swift form: logit row i - 1 scores token i with weight cart[i] / maskable.
    targets = torch.full((B, T + 1), IGNORE)
    weights = torch.zeros(B, T + 1)
    for b in range(B):
        for i in range(1, T + 1):
            if masked[b, i]:
                targets[b, i - 1] = ids[b, i]
                weights[b, i - 1] = weights_cart[b, i] / maskable.sum()
    ce = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), reduction="none", ignore_index=IGNORE)
    assert abs((weights.reshape(-1) * ce).sum().item() - loss.item()) < 1e-5 * abs(loss.item())

    ref = {
        "clean_input_ids": clean, "labels": labels, "t": t, "masked": masked.long(), "cart_weights": weights_cart,
        "input_ids": noised, "position_ids": torch.arange(T + 1).expand(B, T + 1).contiguous(),
        "key_padding": torch.ones(B, T + 1, dtype=torch.int64), "targets": targets, "weights": weights,
        "logits": logits.detach(), "loss": loss.detach().reshape(1),
    }
    for name, tensor in p.items():
        ref["grad." + name] = tensor.grad
    # CART at another p, for the weights alone.
    ref["cart_weights_p0.5"] = cart_weight(masked, 0.5)
    meta = {"case": "dream", "attention": "bidirectional", "batch": B, "seq_len": T + 1, "vocab_size": V,
            "loss": "dLLM DreamTrainer: right-shifted logits, CART weights (geo_p 0.3), token normalisation",
            "geo_p": GEO_P, "bos_token_id": BOS, "mask_token_id": MASK, "time_t": t.tolist()}
    return ref, meta


# ------------------------------------------------------------------------------------------------------
# Sampler (generation_utils.py `_sample`, noise made addressable)
# ------------------------------------------------------------------------------------------------------

class Margins:
    def __init__(self):
        self.smallest = math.inf

    def note(self, value):
        self.smallest = min(self.smallest, float(value))


def top_p_logits(logits, top_p, margins):
    sorted_logits, sorted_indices = torch.sort(logits, descending=True)
    cumulative = torch.cumsum(F.softmax(sorted_logits, dim=-1), dim=-1)
    margins.note((cumulative[..., :-1] - top_p).abs().min())
    remove = cumulative > top_p
    remove[..., 1:] = remove[..., :-1].clone()
    remove[..., 0] = 0
    mask = torch.zeros_like(logits, dtype=torch.bool).scatter_(-1, sorted_indices, remove)
    return logits.masked_fill(mask, torch.finfo(logits.dtype).min)


def top_k_logits(logits, top_k, margins):
    top_k = min(top_k, logits.size(-1))
    values = torch.topk(logits, top_k)[0]
    if top_k < logits.size(-1):
        following = torch.topk(logits, top_k + 1)[0][..., -1]
        margins.note((values[..., -1] - following).min())
    return logits.masked_fill(logits < values[..., -1, None], torch.finfo(logits.dtype).min)


def sample_tokens(logits, cfg, uniforms, margins):
    """Dream's sample_tokens for (n, V) float32 logits; `uniforms` (n, V) float64 replaces Categorical."""
    temperature, top_p, top_k = cfg["temperature"], cfg["top_p"], cfg["top_k"]
    if temperature > 0:
        logits = logits / temperature
    if top_p is not None and top_p < 1:
        logits = top_p_logits(logits, top_p, margins)
    if top_k is not None:
        logits = top_k_logits(logits, top_k, margins)
    probs = torch.softmax(logits, dim=-1)
    if temperature > 0:
        p64 = probs.double()
        scores = torch.where(p64 > 0, p64 / -torch.log(uniforms), torch.full_like(p64, -math.inf))
        top2 = torch.topk(scores, 2, dim=-1)[0]
        margins.note(((top2[:, 0] - top2[:, 1]) / top2[:, 0]).min())
        x0 = scores.argmax(-1)
        confidence = torch.gather(probs, -1, x0[:, None])[:, 0]
    else:
        top2 = torch.topk(probs, 2, dim=-1)[0]
        margins.note((top2[:, 0] - top2[:, 1]).min())
        confidence, x0 = probs.max(dim=-1)
    if cfg["alg"] == "topk_margin":
        sorted_probs, _ = torch.sort(probs, dim=-1, descending=True)
        confidence = sorted_probs[:, 0] - sorted_probs[:, 1]
    if cfg["alg"] == "entropy":
        confidence = torch.sum(probs * torch.log(probs + 1e-10), dim=-1)
    return confidence, x0


def dream_sample(params, prompt, cfg, seed, key, margins):
    steps, eps, alg, alg_temp = cfg["steps"], cfg["eps"], cfg["alg"], cfg["alg_temp"]
    x = torch.tensor([prompt + [MASK] * cfg["max_new_tokens"]])
    timesteps = torch.linspace(1, eps, steps + 1)
    for i in range(steps):
        mask_index = x == MASK
        with torch.no_grad():
            logits = dream_logits(params, x)
        logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
        mask_logits = logits[mask_index]
        positions = torch.nonzero(mask_index[0]).flatten().tolist()
        t, s = timesteps[i], timesteps[i + 1]
        if cfg["temperature"] > 0:
            uniforms = torch.tensor(np.stack([gumbel_uniforms(seed, i, key, pos, V) for pos in positions]))
        else:
            uniforms = None
        if alg == "origin":
            p_transfer = 1 - s / t if i < steps - 1 else 1
            x0 = torch.zeros_like(x[mask_index]) + MASK
            u = torch.tensor([remask_uniform(seed, i, key, pos) for pos in positions], dtype=torch.float64)
            if i < steps - 1:
                margins.note((u - float(p_transfer)).abs().min())
            transfer = u < float(p_transfer)
            if transfer.any():
                _, x0[transfer] = sample_tokens(mask_logits[transfer], cfg, None if uniforms is None else uniforms[transfer], margins)
            x[mask_index] = x0.clone()
        else:
            confidence, x0 = sample_tokens(mask_logits, cfg, uniforms, margins)
            num_mask_token = mask_index.sum() / mask_index.shape[0]
            number = int(num_mask_token * (1 - s / t)) if i < steps - 1 else int(num_mask_token)
            if i < steps - 1:
                product = float(num_mask_token * (1 - s / t))
                margins.note(abs(product - round(product)) if product > 0.5 else 1.0)
            full_confidence = torch.full_like(x, -torch.inf, dtype=logits.dtype)
            full_confidence[mask_index] = confidence
            if number > 0:
                if alg_temp is None or alg_temp == 0:
                    score = full_confidence[0].double()
                else:
                    u = torch.ones(x.shape[1], dtype=torch.float64)
                    for pos in positions:
                        u[pos] = remask_uniform(seed, i, key, pos)
                    gumbel = -torch.log(-torch.log(u))
                    # softmax gives unmasked positions (confidence -inf) probability 0: never drawn.
                    score = torch.where(mask_index[0], (full_confidence[0] / alg_temp).double() + gumbel,
                                        torch.full_like(gumbel, -math.inf))
                order = torch.argsort(score, descending=True, stable=True)
                assert bool(mask_index[0, order[:number]].all())
                if number < len(positions):
                    margins.note(abs(score[order[number - 1]] - score[order[number]]))
                chosen = order[:number]
                x_ = torch.zeros_like(x) + MASK
                x_[mask_index] = x0.clone()
                x[0, chosen] = x_[0, chosen]
    return x[0].tolist()


SAMPLER_CASES = [
    dict(alg="origin", temperature=0.0, top_p=None, top_k=None, alg_temp=None, steps=6, max_new_tokens=8),
    dict(alg="origin", temperature=0.8, top_p=None, top_k=None, alg_temp=None, steps=5, max_new_tokens=8),
    dict(alg="origin", temperature=1.0, top_p=0.9, top_k=None, alg_temp=None, steps=8, max_new_tokens=8),
    dict(alg="maskgit_plus", temperature=0.0, top_p=None, top_k=None, alg_temp=None, steps=5, max_new_tokens=8),
    dict(alg="maskgit_plus", temperature=0.7, top_p=0.95, top_k=None, alg_temp=None, steps=4, max_new_tokens=8),
    dict(alg="topk_margin", temperature=0.0, top_p=None, top_k=None, alg_temp=None, steps=6, max_new_tokens=8),
    dict(alg="topk_margin", temperature=0.5, top_p=None, top_k=5, alg_temp=None, steps=4, max_new_tokens=8),
    dict(alg="entropy", temperature=0.0, top_p=None, top_k=None, alg_temp=None, steps=8, max_new_tokens=8),
    dict(alg="entropy", temperature=0.2, top_p=None, top_k=None, alg_temp=0.5, steps=5, max_new_tokens=8),
    dict(alg="entropy", temperature=1.0, top_p=0.8, top_k=10, alg_temp=0.1, steps=3, max_new_tokens=8),
    dict(alg="maskgit_plus", temperature=0.0, top_p=None, top_k=None, alg_temp=2.0, steps=8, max_new_tokens=8),
]
PROMPTS = [[1, 17, 40, 9], [1, 5, 33, 21, 12, 58, 7]]
MIN_MARGIN = 2e-5


def sampler_cases(params):
    params32 = {k: v.detach().float() for k, v in params.items()}
    cases = []
    for n, cfg in enumerate(SAMPLER_CASES):
        cfg = dict(cfg, eps=1e-3)
        # The first noise seed whose every decision is clear of a tie by MIN_MARGIN.
        for seed in range(1000 + 100 * n, 1100 + 100 * n):
            margins = Margins()
            outputs = [dream_sample(params32, prompt, cfg, seed, key, margins) for key, prompt in enumerate(PROMPTS)]
            if margins.smallest > MIN_MARGIN:
                break
        assert margins.smallest > MIN_MARGIN, f"case {n}: no seed keeps every decision clear of a tie"
        cases.append(dict(cfg, seed=seed, prompts=PROMPTS, sequences=outputs, smallest_margin=margins.smallest))
    return cases


# ------------------------------------------------------------------------------------------------------
# Dream's published code, when given
# ------------------------------------------------------------------------------------------------------

def check_against_published(src, params, ref, cases):
    import importlib.util
    import types

    from transformers import modeling_rope_utils

    if "default" not in modeling_rope_utils.ROPE_INIT_FUNCTIONS:  # transformers >= 5 dropped the plain RoPE entry
        def default_rope(config, device=None, **_):
            dim = config.hidden_size // config.num_attention_heads
            return 1.0 / (config.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim)), 1.0
        modeling_rope_utils.ROPE_INIT_FUNCTIONS["default"] = default_rope
    package = types.ModuleType("dream_published")
    package.__path__ = [str(src)]
    sys.modules["dream_published"] = package
    for name in ["configuration_dream", "generation_utils", "modeling_dream"]:
        spec = importlib.util.spec_from_file_location(f"dream_published.{name}", Path(src) / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    DreamConfig = sys.modules["dream_published.configuration_dream"].DreamConfig
    DreamModel = sys.modules["dream_published.modeling_dream"].DreamModel
    GenerationConfig = sys.modules["dream_published.generation_utils"].DreamGenerationConfig
    config = DreamConfig(**{k: v for k, v in CONFIG.items() if k not in ("architectures", "model_type")})
    config._attn_implementation = "sdpa"
    model = DreamModel(config).double().eval()
    missing, unexpected = model.load_state_dict({k: v.double() for k, v in params.items()}, strict=False)
    assert not unexpected and all("rotary" in m for m in missing), (missing, unexpected)

    p64 = {k: v.detach().double().requires_grad_(True) for k, v in params.items()}
    ids = ref["input_ids"]
    ours = dream_logits(p64, ids)
    theirs = model(ids).logits
    assert (ours - theirs).abs().max().item() <= 1e-6 * theirs.abs().max().item(), "logits differ from modeling_dream.py"
    w = torch.randn(ours.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    (ours * w).sum().backward()
    (theirs * w).sum().backward()
    named = dict(model.named_parameters())
    for name, tensor in p64.items():
        assert (tensor.grad - named[name].grad).abs().max().item() <= 1e-6 * named[name].grad.abs().max().item(), name
    model = model.float()
    checked = 0
    for case in cases:
        if case["temperature"] != 0 or case["alg_temp"] or case["alg"] == "origin":
            continue
        for prompt, expected in zip(case["prompts"], case["sequences"]):
            generation = GenerationConfig(max_new_tokens=case["max_new_tokens"], max_length=len(prompt) + case["max_new_tokens"],
                                          steps=case["steps"], alg=case["alg"], temperature=0.0, mask_token_id=MASK, eps=case["eps"])
            out = model.diffusion_generate(torch.tensor([prompt]), generation_config=generation)
            sequence = (out.sequences if hasattr(out, "sequences") else out)[0].tolist()
            assert sequence == expected, (case["alg"], prompt, sequence, expected)
            checked += 1
    return checked


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dream-src", help="folder with Dream's modeling_dream.py, configuration_dream.py, generation_utils.py")
    args = parser.parse_args()

    gen = torch.Generator().manual_seed(20)
    holder = Holder()
    randomize_parameters(holder, gen)
    params = {k: v.detach().clone() for k, v in holder.state().items()}

    ref, meta = training_case(params, gen)
    cases = sampler_cases(params)
    if args.dream_src:
        meta["checked_against"] = "modeling_dream.py / generation_utils.py (dLLM pipelines/dream/models): logits and " \
            f"gradients to 1e-6 in float64, diffusion_generate tokens in {check_against_published(args.dream_src, params, ref, cases)} " \
            "deterministic runs"
    meta["checkpoint_names"] = sorted(params)

    MODEL_OUT.mkdir(parents=True, exist_ok=True)
    (MODEL_OUT / "config.json").write_text(json.dumps(CONFIG, indent=2, sort_keys=True) + "\n")
    save_file({k: v.contiguous() for k, v in params.items()}, str(MODEL_OUT / "model.safetensors"), metadata={"format": "pt"})
    tensors = {}
    for k, v in ref.items():
        v = v.detach()
        tensors[k] = v.contiguous() if v.dtype in (torch.int64, torch.float64) else v.float().contiguous()
    save_file(tensors, str(MODEL_OUT / "reference.safetensors"))
    (MODEL_OUT / "reference.json").write_text(json.dumps(meta, indent=2) + "\n")
    SAMPLER_OUT.write_text(json.dumps({"model": "Tests/DLLMModelsTests/Fixtures/dream", "cases": cases}, indent=1) + "\n")
    print(f"wrote {MODEL_OUT} and {SAMPLER_OUT}; loss {ref['loss'].item():.6f}; "
          f"smallest sampler margin {min(c['smallest_margin'] for c in cases):.2e}")


if __name__ == "__main__":
    main()
