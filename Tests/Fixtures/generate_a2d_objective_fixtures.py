#!/usr/bin/env python3
"""Reference fixtures for the autoregressive-to-diffusion recipes (docs/objectives.md).

Run from the repository root (needs torch and transformers; the Swift tests do not):

    python3 Tests/Fixtures/generate_a2d_objective_fixtures.py

Writes

  Tests/DLLMTrainingTests/Fixtures/a2d_objective.safetensors and a2d_objective.json
  Tests/DLLMSamplingTests/Fixtures/shifted_sampler_reference.json

1. Attention-mask annealing. A transcription of DiffuLLaMA's `get_anneal_attn_mask`
   (HKUNLP/DiffuLLaMA, LLaMA-Factory/src/llamafactory/train/ddm/trainer.py) and of the ratio its
   `CustomDiffusionTrainer.inner_forward` passes, `min(1, (global_step + 1) / anneal_steps)`: a
   (T, T) causal 0/1 matrix (key j <= query i) ORed with one (T, T) Bernoulli(ratio) draw, expanded
   over the batch and returned as an additive mask (0 = attend, finfo.min = blocked). The draw is
   the only randomness; `torch.bernoulli(p)` is replaced by `u < p` on recorded uniforms `u` so that
   the Swift side can be fed the same draw (`anneal.uniforms.<step>`, `anneal.allowed.<step>`).

2. DiffuLLaMA's loss, shifted and not, with gradients, on the tiny causal `llama_gqa` checkpoint
   (Tests/DLLMModelsTests/Fixtures/llama_gqa) through transformers' LlamaForCausalLM: a transcription
   of `inner_forward` with its draws fixed (t, the mask draw, the annealing draw):
     x_t = x with the mask token where masked (never on the prompt, `~src_mask`);
     logits = model(x_t, attention_mask = annealed additive mask);
     loss_mask = (x_t == mask);  shift: logits[:, :-1], loss_mask[:, 1:], x[:, 1:];
     loss = sum((1/t)[:, None] * CE * loss_mask) / sum(loss_mask).
   Position 0 of row 0 is masked on purpose: corrupted, never scored under shift.

3. dLLM's `MDLMTrainer.compute_loss` with `right_shift_logits` (ZHZisZZ/dllm dllm/core/trainers/
   mdlm.py), on random logits: `prepend_bos` (BOS with label -100, unless every row's first label is
   -100), the mask draw over the lengthened rows, logits shifted right by one (`cat(logits[:, :1],
   logits[:, :-1])`), scheduler weights 1/(t + 1e-6), token normalisation by the maskable count.

4. The masked-diffusion reference sampler of generate_sampler_fixtures.py with dLLM's sampler
   `right_shift_logits`: the model's logits are shifted right by one before anything else reads them
   (`cat(logits[:, :1], logits[:, :-1])`, dLLM MDLMSampler.sample), so the token committed at position
   i comes from logit i - 1 (DiffuLLaMA's `generate_samples` does the same to its predictions).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate_sampler_fixtures as gsf  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT = REPO_ROOT / "Tests" / "DLLMTrainingTests" / "Fixtures"
SAMPLER_OUT = REPO_ROOT / "Tests" / "DLLMSamplingTests" / "Fixtures" / "shifted_sampler_reference.json"
LLAMA = REPO_ROOT / "Tests" / "DLLMModelsTests" / "Fixtures" / "llama_gqa"
EPS = 1e-3

torch.set_num_threads(1)


# ---------------------------------------------------------------------------------------------
# 1. DiffuLLaMA's annealed attention mask
# ---------------------------------------------------------------------------------------------

def anneal_ratio(global_step, anneal_steps):
    return min(1.0, (global_step + 1) / anneal_steps)


def anneal_attention_mask(T, B, dtype, ratio, uniforms):
    """get_anneal_attn_mask with the Bernoulli(ratio) draw taken as `uniforms < ratio`: (B, 1, T, T) additive."""
    rows = torch.arange(T)[:, None]
    cols = torch.arange(T)[None, :]
    causal = (cols < rows + 1).to(dtype)
    bernoulli = (uniforms < ratio).to(dtype)
    opened = torch.logical_or(causal, bernoulli)
    blocked = 1.0 - opened[None, None].expand(B, 1, T, T).to(dtype)
    return blocked.masked_fill(blocked.to(torch.bool), torch.finfo(dtype).min)


def annealing_cases(tensors, gen):
    T, steps, anneal_steps = 12, [0, 3, 6, 9, 25], 10
    cases = []
    for s in steps:
        u = torch.rand(T, T, dtype=torch.float64, generator=gen)
        r = anneal_ratio(s, anneal_steps)
        mask = anneal_attention_mask(T, 2, torch.float32, r, u)
        allowed = (mask[0, 0] == 0)
        assert torch.equal(mask[0], mask[1]), "one draw shared across the batch"
        tensors[f"anneal.uniforms.{s}"] = u
        tensors[f"anneal.allowed.{s}"] = allowed.to(torch.int64)
        cases.append(dict(step=s, ratio=r, open_pairs=int(allowed.sum())))
    return dict(T=T, anneal_steps=anneal_steps, cases=cases)


# ---------------------------------------------------------------------------------------------
# 2. DiffuLLaMA's (shifted) loss through the tiny LLaMA
# ---------------------------------------------------------------------------------------------

def diffullama_loss(model, x, x_t, mask_id, t, attention_mask, shift):
    """inner_forward from the forward on: CE on masked positions, weight 1/t, mean over masked positions."""
    B = x.shape[0]
    V = model.config.vocab_size
    dsigma = torch.reciprocal(t)
    logits = model(input_ids=x_t, attention_mask=attention_mask, position_ids=torch.arange(x.shape[1]).expand_as(x),
                   use_cache=False).logits
    loss_mask = x_t == mask_id
    targets = x
    if shift:
        logits, loss_mask, targets = logits[:, :-1], loss_mask[:, 1:], targets[:, 1:]
    ce = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), reduction="none").float().reshape(B, -1)
    ce = ce.masked_fill(~loss_mask, 0)
    return (dsigma[:, None] * ce).sum() / loss_mask.sum()


def diffullama_cases(tensors, gen):
    model = transformers.LlamaForCausalLM.from_pretrained(str(LLAMA), attn_implementation="eager", dtype=torch.float32).eval()
    V = model.config.vocab_size
    B, T, mask_id, prompt = 2, 8, V - 1, 3
    x = torch.randint(3, V - 1, (B, T), generator=gen)
    src_mask = torch.zeros(B, T, dtype=torch.bool)
    src_mask[1, :prompt] = True                          # an SFT prompt: never masked
    t = (1 - EPS) * torch.rand(B, generator=gen) + EPS  # float32, as inner_forward draws it
    draw = torch.rand(B, T, generator=gen)
    masked = (draw < t[:, None]) & ~src_mask
    masked[0, 0] = True                                  # the first position masked: corrupted, not scored
    masked[0, 3] = True
    masked[1, prompt + 1] = True
    x_t = x.masked_fill(masked, mask_id)
    anneal_step, anneal_steps = 2, 10
    u = torch.rand(T, T, dtype=torch.float64, generator=gen)
    r = anneal_ratio(anneal_step, anneal_steps)
    attention = anneal_attention_mask(T, B, torch.float32, r, u)
    labels = x.masked_fill(src_mask, -100)
    tensors.update({"llama.input_ids": x, "llama.labels": labels, "llama.t": t.to(torch.float64),
                    "llama.masked": masked.to(torch.int64), "llama.anneal_uniforms": u})
    for shift in (True, False):
        key = "shift" if shift else "noshift"
        model.zero_grad(set_to_none=True)
        loss = diffullama_loss(model, x, x_t, mask_id, t, attention, shift)
        loss.backward()
        tensors[f"llama.{key}.loss"] = loss.detach().reshape(1)
        for name, p in model.named_parameters():
            tensors[f"llama.{key}.grad.{name}"] = p.grad.detach().clone().contiguous()
        print(f"diffullama {key}: loss {loss.item():.6f}")
    return dict(B=B, T=T, mask_token_id=mask_id, anneal_step=anneal_step, anneal_steps=anneal_steps, ratio=r,
                model="Tests/DLLMModelsTests/Fixtures/llama_gqa")


# ---------------------------------------------------------------------------------------------
# 3. dLLM's MDLM loss with right_shift_logits
# ---------------------------------------------------------------------------------------------

def dllm_right_shift_case(tensors, gen):
    B, T, V, bos, mask_id = 3, 9, 23, 21, 22
    ids = torch.randint(0, V - 2, (B, T), generator=gen)
    labels = ids.clone()
    labels[2, :4] = -100                                 # a prompt; row 0 starts with a trained token
    labels[1, 7:] = -100
    # prepend_bos: every row starts with -100 afterwards
    ids2 = torch.cat([torch.full((B, 1), bos), ids], dim=1)
    labels2 = torch.cat([torch.full((B, 1), -100), labels], dim=1)
    L = T + 1
    t = EPS + (1 - EPS) * torch.rand(B, generator=gen)
    draw = torch.rand(B, L, generator=gen) < t[:, None]
    maskable = labels2 != -100
    masked = draw & maskable
    logits = torch.randn(B, L, V, generator=gen) * 2
    shifted = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
    w = (1.0 / (t + 1e-6))[:, None].repeat(1, L)         # LinearAlphaScheduler weight: 1/(1 - alpha + 1e-6)
    nll = F.cross_entropy(shifted.transpose(1, 2), ids2, reduction="none")
    nll = nll * w * masked.to(nll.dtype)
    loss = (nll / maskable.sum().clamp_min(1)).sum()
    tensors.update({"dllm.input_ids": ids, "dllm.labels": labels, "dllm.t": t.to(torch.float64),
                    "dllm.masked": draw.to(torch.int64), "dllm.logits": logits, "dllm.loss": loss.reshape(1)})
    print(f"dllm right_shift_logits: loss {loss.item():.6f}")
    return dict(B=B, T=T, V=V, bos_token_id=bos, mask_token_id=mask_id)


# ---------------------------------------------------------------------------------------------
# 4. The reference sampler with right_shift_logits
# ---------------------------------------------------------------------------------------------

def shifted_sampler_cases():
    unshifted = gsf.hf_bidirectional_logits

    def shifted(model, x, lengths, dtype):
        logits = unshifted(model, x, lengths, dtype)
        return torch.cat([logits[:, :1], logits[:, :-1]], dim=1)

    gsf.hf_bidirectional_logits = shifted
    hf, case = gsf.load_llada_hf(torch.float64)
    mask_id, eos_id, V = case["mask_token_id"], case["pad_token_id"], gsf.gmf.V
    gen = torch.Generator().manual_seed(20251130)
    p1 = gsf.prompts(gen, [5], 65)
    pair = gsf.prompts(gen, [1, 6], 65)
    text = gsf.prompts(gen, [12], 65)[0]
    infill = [text[:3] + [mask_id] * 4 + text[3:7] + [mask_id] * 2 + text[7:]]
    cases = [
        dict(name="shift_greedy", mode="generate", inputs=p1, config=dict(steps=12, gen_length=12)),
        dict(name="shift_blocks_temperature", mode="generate", inputs=p1,
             config=dict(steps=8, gen_length=16, block_length=4, temperature=0.7, seed=11)),
        dict(name="shift_batch_one_token_prompt", mode="generate", inputs=pair,
             config=dict(steps=8, gen_length=8, block_length=4, temperature=0.5, seed=3)),
        dict(name="shift_random_remasking", mode="generate", inputs=p1,
             config=dict(steps=6, gen_length=12, remasking="random", seed=5)),
        dict(name="shift_infill", mode="infill", inputs=infill, config=dict(steps=6)),
    ]
    out = []
    for c in cases:
        r = gsf.run_mdlm_case(c, mask_id, eos_id, V)
        r["config"]["right_shift_logits"] = True
        out.append(r)
    gsf.hf_bidirectional_logits = unshifted
    return dict(generator="Tests/Fixtures/generate_a2d_objective_fixtures.py", model="Tests/DLLMModelsTests/Fixtures/llada",
                mask_token_id=mask_id, eos_token_id=eos_id, vocab_size=V, torch=torch.__version__,
                transformers=transformers.__version__, mdlm_cases=out)


def main():
    gen = torch.Generator().manual_seed(20251130)
    tensors = {}
    doc = dict(generator="Tests/Fixtures/generate_a2d_objective_fixtures.py", time_epsilon=EPS,
               torch=torch.__version__, transformers=transformers.__version__)
    doc["anneal"] = annealing_cases(tensors, gen)
    doc["diffullama"] = diffullama_cases(tensors, gen)
    doc["dllm_right_shift"] = dllm_right_shift_case(tensors, gen)
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(OUT / "a2d_objective.safetensors"), metadata={"format": "pt"})
    (OUT / "a2d_objective.json").write_text(json.dumps(doc, indent=1) + "\n")
    sampler = shifted_sampler_cases()
    SAMPLER_OUT.write_text(json.dumps(sampler, indent=1) + "\n")
    print(f"wrote {OUT / 'a2d_objective.safetensors'} and {SAMPLER_OUT}")


if __name__ == "__main__":
    main()
