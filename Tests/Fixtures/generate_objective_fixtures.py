#!/usr/bin/env python3
"""Reference losses for dllm's training objectives, computed with PyTorch.

For fixed random logits, token ids, labels (-100 on an SFT prompt and on padding
that is not trained), per-sequence t and a fixed mask draw, this evaluates the
masked-diffusion loss exactly as dLLM's `MDLMTrainer.compute_loss` does (steps 4-6:
scheduler or uniform weights, token/sequence/batch normalisation, linear alpha
schedule) and the autoregressive loss as transformers' causal-LM loss does
(shift by one, mean over non-ignored targets). The Swift tests feed the same t and
mask to `MaskedDiffusionObjective.prepare(_:t:masked:)` and compare.

Writes Tests/DLLMTrainingTests/Fixtures/objective.safetensors and objective.json.
Run from the repository root: python3 Tests/Fixtures/generate_objective_fixtures.py
"""
import json
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join("Tests", "DLLMTrainingTests", "Fixtures")
B, T, V = 3, 9, 23
MASK_ID = 22
EPS = 1e-3


def alpha(t):  # dLLM's LinearAlphaScheduler
    return 1 - t


def weight(t):  # -alpha'(t) / (1 - alpha(t) + 1e-6), alpha' = -1
    return 1.0 / (1 - alpha(t) + 1e-6)


def mdlm_loss(logits, input_ids, labels, t, masked_mask, weight_type, norm_type):
    b, l = input_ids.shape
    maskable = labels != -100
    masked = masked_mask & maskable
    if weight_type == "scheduler":
        w = weight(t).unsqueeze(1).repeat(1, l)
    else:
        w = torch.ones_like(input_ids, dtype=torch.float32)
    nll = F.cross_entropy(logits.transpose(1, 2), input_ids, reduction="none")
    nll = nll * w * masked.to(nll.dtype)
    if norm_type == "token":
        nll = nll / maskable.sum().clamp_min(1)
    elif norm_type == "sequence":
        nll = nll / (maskable.sum(-1, keepdim=True).clamp_min(1) * b)
    else:
        nll = nll / b
    return nll.sum()


def ar_loss(logits, labels):
    shift_logits = logits[:, :-1].reshape(-1, logits.shape[-1])
    shift_labels = labels[:, 1:].reshape(-1)
    return F.cross_entropy(shift_logits, shift_labels, ignore_index=-100)


def main():
    torch.manual_seed(7)
    logits = torch.randn(B, T, V, dtype=torch.float32) * 2
    input_ids = torch.randint(0, V - 1, (B, T))
    labels = input_ids.clone()
    labels[0, :3] = -100          # an SFT prompt: never masked, never scored
    labels[2, :5] = -100
    labels[1, 7:] = -100          # trailing positions not trained
    t = EPS + (1 - EPS) * torch.rand(B)
    masked_mask = torch.rand(B, T) < t.unsqueeze(1)
    masked_mask[0, 0] = True      # a masked draw on a prompt position must be ignored
    tensors = {
        "logits": logits, "input_ids": input_ids, "labels": labels,
        "t": t.to(torch.float64), "masked": masked_mask.to(torch.int64),
    }
    cases = {}
    for wt in ["scheduler", "uniform"]:
        for nt in ["token", "sequence", "batch"]:
            key = f"mdlm_{wt}_{nt}"
            tensors[key] = mdlm_loss(logits, input_ids, labels, t.float(), masked_mask, wt, nt).reshape(1)
            cases[key] = {"weight": wt, "norm": nt}
    tensors["ar"] = ar_loss(logits, labels).reshape(1)
    os.makedirs(OUT, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, "objective.safetensors"),
              metadata={"format": "pt"})
    with open(os.path.join(OUT, "objective.json"), "w") as f:
        json.dump({"B": B, "T": T, "V": V, "mask_token_id": MASK_ID, "time_epsilon": EPS, "cases": cases,
                   "torch": torch.__version__}, f, indent=2)
    print({k: float(v) for k, v in tensors.items() if v.numel() == 1})


if __name__ == "__main__":
    main()
