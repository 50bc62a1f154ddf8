#!/usr/bin/env python3
"""Reference fixtures for Edit Flows (docs/objectives.md, "Edit Flows").

Run from the repository root (needs torch and transformers; the Swift tests do not):

    python3 Tests/Fixtures/generate_editflow.py

Writes

  Tests/DLLMModelsTests/Fixtures/editflow_llama/{config.json,model.safetensors}  a tiny editflow-llama model
  Tests/DLLMTrainingTests/Fixtures/editflow.json and editflow.safetensors         alignment, κ, loss, gradients
  Tests/DLLMSamplingTests/Fixtures/editflow_sampler.json                           τ-leaping steps

Each part transcribes the named function of ZHZisZZ/dllm (dllm/pipelines/editflow/*.py,
dllm/core/schedulers/kappa.py); only the random draws are taken out and recorded:

1. `align_with_blanks` (Needleman-Wunsch, ties diagonal > up > left) and `build_remaining_edits`
   on random integer strings that share a first (BOS) token.
2. The κ schedulers' kappa, derivative and weight (float32) at a few t.
3. `EditFlowTrainer.compute_loss` on the tiny model: the model is dLLM's `EditFlowQwen3Model`
   shape over a LLaMA backbone run without the causal mask (dLLM's A2D models): the heads
   `sub_logits`, `ins_logits` (Linear C->V, no bias) and `rate_heads` (Linear C->3 + Softplus) read
   `hidden_states[-1]`, the final norm's output. `torch.rand` for t and for the per-column κ choice
   is replaced by recorded uniforms (t itself, and `u < κ`). Loss and every parameter's gradient.
4. `tau_leap_step` (sampler.py) with temperature 0 (argmax): `torch.bernoulli(p)` is `u < p` and
   `torch.rand_like` is a recorded uniform. Several steps at different t on one prompt.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO_ROOT / "Tests" / "DLLMModelsTests" / "Fixtures" / "editflow_llama"
TRAIN_OUT = REPO_ROOT / "Tests" / "DLLMTrainingTests" / "Fixtures"
SAMPLER_OUT = REPO_ROOT / "Tests" / "DLLMSamplingTests" / "Fixtures" / "editflow_sampler.json"
BLANK = -1
V, BOS, MASK, PAD = 40, 1, 39, 0

torch.set_num_threads(1)


# ---------------------------------------------------------------------------------------------
# 1. Alignment (trainer.py align_with_blanks, build_remaining_edits)
# ---------------------------------------------------------------------------------------------

def align_with_blanks(x0, x1, sub_cost=1, gap_cost=1):
    n, m = len(x0), len(x1)
    dp = [[0] * (m + 1) for _ in range(n + 1)]
    ptr = [[None] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        dp[i][0] = i * gap_cost
        ptr[i][0] = "up"
    for j in range(1, m + 1):
        dp[0][j] = j * gap_cost
        ptr[0][j] = "left"
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            diag = dp[i - 1][j - 1] + (0 if x0[i - 1] == x1[j - 1] else sub_cost)
            up = dp[i - 1][j] + gap_cost
            left = dp[i][j - 1] + gap_cost
            best = min(diag, up, left)
            dp[i][j] = best
            ptr[i][j] = "diag" if best == diag else ("up" if best == up else "left")
    z0, z1 = [], []
    i, j = n, m
    while i > 0 or j > 0:
        p = ptr[i][j]
        if p == "diag":
            z0.append(x0[i - 1]); z1.append(x1[j - 1]); i -= 1; j -= 1
        elif p == "up":
            z0.append(x0[i - 1]); z1.append(BLANK); i -= 1
        else:
            z0.append(BLANK); z1.append(x1[j - 1]); j -= 1
    return z0[::-1], z1[::-1], dp[n][m]


def remaining_edits(zt, z1):
    edits = []
    for j, (a, b) in enumerate(zip(zt, z1)):
        if a == b:
            continue
        nb = sum(1 for k in range(j) if zt[k] != BLANK)
        if a == BLANK and b != BLANK:
            edits.append(["INS", max(nb - 1, 0), b])
        elif a != BLANK and b == BLANK:
            edits.append(["DEL", nb, None])
        else:
            edits.append(["SUB", nb, b])
    return edits


def alignment_cases(rng):
    cases = []
    for _ in range(12):
        x0 = [BOS] + [rng.randrange(2, 8) for _ in range(rng.randrange(0, 9))]
        x1 = [BOS] + [rng.randrange(2, 8) for _ in range(rng.randrange(0, 9))]
        z0, z1, cost = align_with_blanks(x0, x1)
        take = [rng.random() < 0.5 for _ in z0]
        zt = [b if c else a for a, b, c in zip(z0, z1, take)]
        cases.append(dict(x0=x0, x1=x1, z0=z0, z1=z1, cost=cost, take=take,
                          edits=remaining_edits(zt, z1)))
    return cases


# ---------------------------------------------------------------------------------------------
# 2. κ schedulers (kappa.py), float32
# ---------------------------------------------------------------------------------------------

def cubic(a, b):
    k = lambda t: (a + 1) * t**3 - (a + b + 1) * t**2 + (b + 1) * t
    d = lambda t: 3 * (a + 1) * t**2 - 2 * (a + b + 1) * t + (b + 1)
    return k, d


SCHEDULES = {
    "cubic": cubic(1.0, 1.0),
    "linear": cubic(-1.0, 0.0),
    "cosine": (lambda t: 1.0 - torch.cos(0.5 * math.pi * t), lambda t: 0.5 * math.pi * torch.sin(0.5 * math.pi * t)),
}


def kappa_weight(name, t):
    k, d = SCHEDULES[name]
    return k(t), d(t) / (1 - k(t) + 1e-6)


def kappa_cases():
    ts = torch.tensor([0.0, 0.1, 0.37, 0.5, 0.9, 0.999], dtype=torch.float32)
    out = {}
    for name in SCHEDULES:
        k, w = kappa_weight(name, ts)
        out[name] = dict(t=ts.tolist(), kappa=k.tolist(), weight=w.tolist())
    return out


# ---------------------------------------------------------------------------------------------
# 3. The model and compute_loss
# ---------------------------------------------------------------------------------------------

class EditFlowLlama(nn.Module):
    """EditFlowQwen3Model.forward over a bidirectional (A2D) LLaMA backbone."""

    def __init__(self, config):
        super().__init__()
        self.model = transformers.LlamaModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.sub_logits = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.ins_logits = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.rate_heads = nn.Sequential(nn.Linear(config.hidden_size, 3), nn.Softplus())

    def forward(self, input_ids, attention_mask):
        B, T = input_ids.shape
        # A2D: no causal mask; padded keys blocked (additive 4D mask).
        keep = attention_mask[:, None, None, :].bool().expand(B, 1, T, T)
        additive = torch.zeros(B, 1, T, T).masked_fill(~keep, torch.finfo(torch.float32).min)
        out = self.model(input_ids=input_ids, attention_mask=additive, output_hidden_states=True, use_cache=False)
        h = out.hidden_states[-1]
        assert torch.equal(h, out.last_hidden_state)  # hidden_states[-1] is the final norm's output
        rates = self.rate_heads(h)
        sub_rate_hat, del_rate_hat, ins_rate_hat = rates.unbind(-1)
        return dict(sub_rate_hat=sub_rate_hat, del_rate_hat=del_rate_hat, ins_rate_hat=ins_rate_hat,
                    sub_logits=self.sub_logits(h), ins_logits=self.ins_logits(h))


def make_model():
    torch.manual_seed(7)
    config = transformers.LlamaConfig(
        vocab_size=V, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=4, max_position_embeddings=64, rms_norm_eps=1e-5, tie_word_embeddings=False,
        attn_implementation="eager", initializer_range=0.3)
    model = EditFlowLlama(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0, 0.3)
            elif "norm" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.normal_(0, 0.5)
    folder = {
        "model_type": "editflow-llama", "architectures": ["EditFlowLlamaModel"],
        "vocab_size": V, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 4, "max_position_embeddings": 64,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False, "hidden_act": "silu",
        "bos_token_id": BOS, "mask_token_id": MASK, "pad_token_id": PAD,
    }
    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    (MODEL_DIR / "config.json").write_text(json.dumps(folder, indent=1) + "\n")
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(MODEL_DIR / "model.safetensors"),
              metadata={"format": "pt"})
    return model


def pad_1d(lists, pad_val):
    L = max(len(x) for x in lists)
    out = torch.full((len(lists), L), pad_val, dtype=torch.long)
    mask = torch.zeros((len(lists), L), dtype=torch.long)
    for b, x in enumerate(lists):
        out[b, :len(x)] = torch.tensor(x)
        mask[b, :len(x)] = 1
    return out, mask


def compute_loss(model, x0s, x1s, t, uniforms, schedule, max_w=20.0, normalize=True):
    """EditFlowTrainer.compute_loss with t and the column draws given."""
    aligns = [align_with_blanks(a, b) for a, b in zip(x0s, x1s)]
    k, w = kappa_weight(schedule, t)   # (B, 1)
    k, w = k.squeeze(1), w.squeeze(1)
    if max_w:
        w = w.clamp(max=max_w)
    zts = []
    for (z0, z1, _), kb, u in zip(aligns, k.tolist(), uniforms):
        zts.append([b if u[j] < kb else a for j, (a, b) in enumerate(zip(z0, z1))])
    xts = [[x for x in zt if x != BLANK] for zt in zts]
    edits = [remaining_edits(zt, a[1]) for zt, a in zip(zts, aligns)]
    x_tok, x_mask = pad_1d(xts, PAD)
    out = model(x_tok, x_mask)
    logQ_sub = F.log_softmax(out["sub_logits"], -1)
    logQ_ins = F.log_softmax(out["ins_logits"], -1)
    safe_log = lambda x: torch.log(x.clamp_min(1e-12))
    mask_f = x_mask.float()
    L1 = torch.tensor([len(x) for x in x1s], dtype=torch.float).clamp_min(1.0)
    denom = L1 if normalize else torch.ones_like(L1)
    lam = ((out["sub_rate_hat"] + out["del_rate_hat"] + out["ins_rate_hat"]) * mask_f).sum(1)
    loss_surv = ((w * lam) / denom).mean()
    terms = []
    for b, es in enumerate(edits):
        lp = torch.zeros(())
        for kind, pos, tok in es:
            if kind == "SUB":
                lp = lp - (logQ_sub[b, pos, tok] + safe_log(out["sub_rate_hat"][b, pos]))
            elif kind == "INS":
                lp = lp - (logQ_ins[b, pos, tok] + safe_log(out["ins_rate_hat"][b, pos]))
            else:
                lp = lp - safe_log(out["del_rate_hat"][b, pos])
        terms.append(lp)
    loss_pos = ((w * torch.stack(terms)) / denom).mean()
    return loss_surv + loss_pos, xts, edits, w


def loss_cases(model, tensors, gen):
    x1_pt = [BOS] + torch.randint(2, 30, (9,), generator=gen).tolist()
    prompt = [BOS, 5, 6]
    x1_sft = prompt + torch.randint(2, 30, (6,), generator=gen).tolist()
    x1_short = [BOS] + torch.randint(2, 30, (4,), generator=gen).tolist()
    x1_shorter = [BOS] + torch.randint(2, 30, (2,), generator=gen).tolist()
    # Row 3's x0 is longer than its x1, so deletions remain.
    x0s = [[BOS] + [MASK] * 4, prompt + [MASK] * 3, [BOS], [BOS] + [MASK] * 6]
    x1s = [x1_pt, x1_sft, x1_short, x1_shorter]
    cases = []
    for schedule in ["cubic", "linear", "cosine"]:
        t = (1 - 1e-3) * torch.rand(len(x0s), 1, generator=gen)
        columns = [len(align_with_blanks(a, b)[0]) for a, b in zip(x0s, x1s)]
        uniforms = [torch.rand(n, generator=gen).tolist() for n in columns]
        model.zero_grad(set_to_none=True)
        loss, xts, edits, w = compute_loss(model, x0s, x1s, t, uniforms, schedule)
        loss.backward()
        key = f"loss.{schedule}"
        for name, p in model.named_parameters():
            grad = p.grad if p.grad is not None else torch.zeros_like(p)   # lm_head: unused
            tensors[f"{key}.grad.{name}"] = grad.detach().clone().contiguous()
        cases.append(dict(schedule=schedule, x0=x0s, x1=x1s, t=t.squeeze(1).tolist(), uniforms=uniforms,
                          x_t=xts, edits=edits, weight=w.tolist(), loss=loss.item(), grads=key))
    return cases


# ---------------------------------------------------------------------------------------------
# 4. tau_leap_step (sampler.py), temperature 0, draws recorded
# ---------------------------------------------------------------------------------------------

@torch.no_grad()
def tau_leap_step(x, model, prompt_len, t, tau, u_comb, u_del, u_ins):
    T = x.numel()
    out = model(x.unsqueeze(0), torch.ones(1, T, dtype=torch.long))
    w = 1.0 / (1 - torch.tensor([[t]], dtype=torch.float32) + 1e-6)   # LinearKappaScheduler.weight
    del_rate = out["del_rate_hat"] * w
    sub_rate = out["sub_rate_hat"] * w
    ins_rate = out["ins_rate_hat"] * w
    prompt_len = int(max(1, min(prompt_len, T)))
    del_rate[:, :prompt_len] = 0.0
    sub_rate[:, :prompt_len] = 0.0
    if prompt_len >= 2:
        ins_rate[:, :prompt_len - 1] = 0.0
    comb_rate = (del_rate + sub_rate).squeeze(0)
    comb_fire = u_comb < (comb_rate.float() * tau).clamp(0.0, 1.0 - 1e-6)
    p_del = (del_rate.squeeze(0) / (comb_rate + 1e-8)).clamp(0, 1)
    choose_del = (u_del < p_del) & comb_fire
    choose_sub = comb_fire & (~choose_del)
    ins_fire = u_ins < (ins_rate.squeeze(0).float() * tau).clamp(0.0, 1.0 - 1e-6)
    new_ids = []
    for i in range(T):
        if choose_del[i]:
            pass
        elif choose_sub[i]:
            new_ids.append(int(torch.argmax(out["sub_logits"][0, i])))
        else:
            new_ids.append(int(x[i]))
        if ins_fire[i]:
            new_ids.append(int(torch.argmax(out["ins_logits"][0, i])))
    return torch.tensor(new_ids, dtype=torch.long), dict(
        deleted=choose_del.tolist(), substituted=choose_sub.tolist(), inserted=ins_fire.tolist())


def sampler_cases(model, gen):
    x = torch.tensor([BOS, 5, 6, 7] + [MASK] * 6)
    prompt_len, tau = 4, 0.01
    steps = []
    for t in [0.0, 0.35, 0.8, 0.97]:
        T = x.numel()
        # Uniforms scaled down so that, with τ = 0.01, some edits fire.
        u_comb, u_del, u_ins = 0.05 * torch.rand(T, generator=gen), torch.rand(T, generator=gen), 0.05 * torch.rand(T, generator=gen)
        y, fired = tau_leap_step(x, model, prompt_len, t, tau, u_comb, u_del, u_ins)
        steps.append(dict(t=t, input=x.tolist(), u_comb=u_comb.tolist(), u_del=u_del.tolist(), u_ins=u_ins.tolist(),
                          output=y.tolist(), **fired))
        x = y
    return dict(prompt_len=prompt_len, tau=tau, steps=steps)


def main():
    rng = random.Random(0)
    gen = torch.Generator().manual_seed(0)
    model = make_model()
    tensors = {}
    doc = dict(alignment=alignment_cases(rng), kappa=kappa_cases(), loss=loss_cases(model, tensors, gen),
               model="Tests/DLLMModelsTests/Fixtures/editflow_llama", bos=BOS, mask=MASK, pad=PAD)
    TRAIN_OUT.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(TRAIN_OUT / "editflow.safetensors"), metadata={"format": "pt"})
    (TRAIN_OUT / "editflow.json").write_text(json.dumps(doc, indent=1) + "\n")
    SAMPLER_OUT.parent.mkdir(parents=True, exist_ok=True)
    SAMPLER_OUT.write_text(json.dumps(sampler_cases(model, gen), indent=1) + "\n")


if __name__ == "__main__":
    main()
