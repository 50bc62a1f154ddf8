#!/usr/bin/env python3
"""Reference fixtures for the block-diffusion objective (BD3LM; docs/objectives.md).

Run from the repository root (needs torch and transformers; the Swift tests do not):

    python3 Tests/Fixtures/generate_bd3lm.py

Writes Tests/DLLMTrainingTests/Fixtures/bd3lm.safetensors and bd3lm.json.

A transcription of dLLM's BD3LM training step (ZHZisZZ/dllm, dllm/core/trainers/bd3lm.py) with its
random draws fixed, on the tiny causal `llama_gqa` checkpoint (Tests/DLLMModelsTests/Fixtures/llama_gqa)
through transformers' LlamaForCausalLM (eager attention, float32):

1. Collation, `AppendEOSBlockWrapper` then `DataCollatorForSeq2Seq`: each row's input_ids and labels
   are extended with EOS to a multiple of `block_size`; the batch is then right-padded to its longest
   row with the pad id (labels -100).
2. Noise: a mask rate per position (per sequence as dLLM draws it, here in [0.4, 1); or per
   block, as the original bd3lms `_sample_t` draws it) and a recorded uniform draw `masked = u < t`,
   restricted to maskable positions (label != -100). x_t = x with the mask token where masked.
3. `_create_bd3lm_attention_mask(q, k, block_size, n=L)`: M_BD | M_OBC | M_BC over the 2L positions,
   passed as an additive (B, 1, 2L, 2L) mask (0 = attend, finfo.min = blocked).
4. The model runs on cat(x_t, x_0) at position ids cat(arange(L), arange(L)); logits[:, :L] are scored:
   CE(logits, input_ids) * w(t) * masked, w(t) = 1 / (1 - alpha(t) + 1e-6) with alpha(t) = 1 - t
   (dLLM's LinearAlphaScheduler weight), divided per `loss_norm_type` ('token': the maskable count;
   'sequence': each row's maskable count times B), summed.

Two cases: per-sequence t with 'token' normalisation, per-block t with 'sequence' normalisation.
Each records the loss and every parameter gradient.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT = REPO_ROOT / "Tests" / "DLLMTrainingTests" / "Fixtures"
LLAMA = REPO_ROOT / "Tests" / "DLLMModelsTests" / "Fixtures" / "llama_gqa"
EPS = 1e-3

torch.set_num_threads(1)


def bd3lm_attention_mask(q_idx, kv_idx, block_size, n):
    """dLLM `_create_bd3lm_attention_mask`, transcribed."""
    x0_flag_q = q_idx >= n
    x0_flag_kv = kv_idx >= n
    block_q = torch.where(x0_flag_q, (q_idx - n) // block_size, q_idx // block_size)
    block_kv = torch.where(x0_flag_kv, (kv_idx - n) // block_size, kv_idx // block_size)
    block_diagonal = (block_q == block_kv) & (x0_flag_q == x0_flag_kv)
    offset_block_causal = (block_q > block_kv) & x0_flag_kv & ~x0_flag_q
    block_causal = (block_q >= block_kv) & x0_flag_kv & x0_flag_q
    return block_diagonal | offset_block_causal | block_causal


def collate(rows, labels, block_size, eos, pad):
    """AppendEOSBlockWrapper.before, then DataCollatorForSeq2Seq's right padding (labels -100)."""
    ids_out, labs_out = [], []
    for ids, labs in zip(rows, labels):
        target = (len(ids) + block_size - 1) // block_size * block_size
        ids_out.append(ids + [eos] * (target - len(ids)))
        labs_out.append(labs + [eos] * (target - len(labs)))
    L = max(len(r) for r in ids_out)
    ids = torch.tensor([r + [pad] * (L - len(r)) for r in ids_out])
    labs = torch.tensor([r + [-100] * (L - len(r)) for r in labs_out])
    return ids, labs


def bd3lm_loss(model, input_ids, labels, t, draw, mask_id, block_size, norm):
    b, l = input_ids.shape
    maskable = labels != -100
    masked = (draw < t) & maskable
    noised = torch.where(masked, mask_id, input_ids)
    concat = torch.cat([noised, input_ids], dim=1)
    allowed = bd3lm_attention_mask(torch.arange(2 * l)[:, None], torch.arange(2 * l)[None, :], block_size, l)
    additive = torch.zeros(2 * l, 2 * l).masked_fill(~allowed, torch.finfo(torch.float32).min)
    additive = additive[None, None].expand(b, 1, 2 * l, 2 * l)
    base = torch.arange(l)[None].expand(b, l)
    positions = torch.cat([base, base], dim=1)
    logits = model(input_ids=concat, attention_mask=additive, position_ids=positions, use_cache=False).logits[:, :l]
    weights = 1.0 / (1.0 - (1.0 - t.float()) + 1e-6)
    nll = F.cross_entropy(logits.transpose(1, 2), input_ids, reduction="none")
    nll = nll * weights * masked.to(nll.dtype)
    if norm == "token":
        nll = nll / maskable.sum().clamp_min(1)
    elif norm == "sequence":
        nll = nll / (maskable.sum(-1, keepdim=True).clamp_min(1) * b)
    else:
        raise ValueError(norm)
    return nll.sum(), masked, allowed


def main():
    gen = torch.Generator().manual_seed(20261130)
    model = transformers.LlamaForCausalLM.from_pretrained(str(LLAMA), attn_implementation="eager", dtype=torch.float32).eval()
    V = model.config.vocab_size
    mask_id, eos, pad, block_size = V - 1, 2, 0, 4
    raw_lengths = [10, 6]
    rows = [torch.randint(3, V - 1, (n,), generator=gen).tolist() for n in raw_lengths]
    labels = [list(r) for r in rows]
    labels[1][:2] = [-100, -100]                          # an SFT prompt: never masked, never scored
    input_ids, labs = collate(rows, labels, block_size, eos, pad)
    B, L = input_ids.shape
    tensors = {"input_ids": input_ids, "labels": labs,
               "raw.input_ids.0": torch.tensor(rows[0]), "raw.input_ids.1": torch.tensor(rows[1]),
               "raw.labels.0": torch.tensor(labels[0]), "raw.labels.1": torch.tensor(labels[1])}
    cases = []
    for name, per_block, norm in (("sequence", False, "token"), ("block", True, "sequence")):
        if per_block:
            u = torch.rand(B, L // block_size, generator=gen, dtype=torch.float64)
            t = (EPS + (1 - EPS) * u).repeat_interleave(block_size, dim=1)
        else:
            # t kept in [0.4, 1) so that this small batch has enough masked positions to compare
            t = (0.4 + 0.6 * torch.rand(B, generator=gen, dtype=torch.float64))[:, None].expand(B, L).contiguous()
        draw = torch.rand(B, L, generator=gen, dtype=torch.float64)
        model.zero_grad(set_to_none=True)
        loss, masked, allowed = bd3lm_loss(model, input_ids, labs, t, draw, mask_id, block_size, norm)
        loss.backward()
        tensors[f"{name}.t"] = t
        tensors[f"{name}.masked"] = masked.to(torch.int64)
        tensors[f"{name}.loss"] = loss.detach().reshape(1)
        for pname, p in model.named_parameters():
            tensors[f"{name}.grad.{pname}"] = p.grad.detach().clone().contiguous()
        tensors["allowed"] = allowed.to(torch.int64)
        cases.append(dict(name=name, loss_norm_type=norm, masked=int(masked.sum())))
        print(f"bd3lm {name}: loss {loss.item():.6f}, {int(masked.sum())} masked")
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(OUT / "bd3lm.safetensors"))
    meta = dict(B=B, L=L, block_size=block_size, mask_token_id=mask_id, eos_token_id=eos, pad_token_id=pad,
                raw_lengths=raw_lengths, cases=cases, model="Tests/DLLMModelsTests/Fixtures/llama_gqa",
                torch=torch.__version__, transformers=transformers.__version__)
    (OUT / "bd3lm.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
