#!/usr/bin/env python3
"""Reference fixtures for dllm eval's diffusion Monte Carlo log-likelihood (DLLMEval
`DiffusionLoglikelihoodScorer`).

Run from the repository root (needs torch, safetensors; CI only reads the committed outputs):

    python3 Tests/Fixtures/generate_eval_mc_fixtures.py

Writes

  Tests/DLLMEvalTests/Fixtures/tiny_llada/      a tiny LLaDA checkpoint (LLaDA's config keys and tensor
                                                names, random weights, mask token 400) with the byte-level
                                                BPE tokenizer of Fixtures/tiny_llama (400 tokens)
  Tests/DLLMEvalTests/Fixtures/mc_reference.json

The reference is a PyTorch transcription of LLaDA's `get_log_likelihood.py` (`forward_process`,
`get_logits`, `get_log_likelihood`) and `eval_llada.py` (`suffix_greedy_prediction`), with two additions
the Swift side also has: `shift` (logits of position t - 1 predict token t, position 0 keeps its own; dLLM's
`right_shift_logits`) and torch generators seeded per request.  The random draws of every mini-batch (k and
each row's `randperm`) are recorded so the Swift scorer replays exactly the same masks, and the mask counts
`x` torch computed from k are recorded to check the Swift float32 `linspace` transcription.

The requests are the token ids lm-eval produced for the first documents of each task
(Fixtures/lm_eval_reference.json, written by generate_lm_eval_fixtures.py).  The model forward is the
independent pure-torch LLaMA forward of generate_model_fixtures.py (`ref_llama_family`) with every position
attending to every other (LLaDA's bidirectional attention).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_model_fixtures import LLADA_NAMES, ref_llama_family  # noqa: E402

FIXTURES = REPO_ROOT / "Tests" / "DLLMEvalTests" / "Fixtures"
OUT_MODEL = FIXTURES / "tiny_llada"
VOCAB, MASK_ID, EOS_ID = 401, 400, 0
DIMS = dict(hidden=32, layers=2, heads=4, kv_heads=4, head_dim=8, inter=64, rope_theta=10000.0, eps=1e-5)
MAX_LEN = 512

# (name, mc_num, mini-batch, cfg, shift)
SETTINGS = [
    ("plain", 4, 2, 0.0, False),
    ("cfg", 6, 3, 0.5, False),
    ("shift", 4, 4, 0.0, True),
    ("single", 1, 1, 0.0, False),
]

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)


def llada_config():
    return {
        "architectures": ["LLaDAModelLM"], "model_type": "llada",
        "d_model": DIMS["hidden"], "n_heads": DIMS["heads"], "n_kv_heads": DIMS["kv_heads"], "n_layers": DIMS["layers"],
        "mlp_hidden_size": DIMS["inter"], "mlp_ratio": 2, "rope_theta": DIMS["rope_theta"], "rope": True,
        "alibi": False, "vocab_size": VOCAB, "embedding_size": VOCAB, "mask_token_id": MASK_ID,
        "eos_token_id": EOS_ID, "pad_token_id": EOS_ID, "weight_tying": False, "rms_norm_eps": DIMS["eps"],
        "include_bias": False, "include_qkv_bias": False, "layer_norm_type": "rms", "block_type": "llama",
        "activation_type": "silu", "max_sequence_length": MAX_LEN, "use_cache": False,
    }


def random_weights():
    g = torch.Generator().manual_seed(20261130)
    C, I, H, d = DIMS["hidden"], DIMS["inter"], DIMS["heads"], DIMS["head_dim"]
    shapes = {LLADA_NAMES["embed"]: (VOCAB, C), LLADA_NAMES["final_norm"]: (C,), LLADA_NAMES["lm_head"]: (VOCAB, C)}
    roles = dict(attn_norm=(C,), q=(H * d, C), k=(H * d, C), v=(H * d, C), o=(C, H * d), ffn_norm=(C,),
                 gate=(I, C), up=(I, C), down=(C, I))
    for i in range(DIMS["layers"]):
        for role, shape in roles.items():
            shapes[LLADA_NAMES["layer"].format(i=i, role=LLADA_NAMES[role])] = shape
    p = {}
    for name, shape in shapes.items():
        if len(shape) == 1:
            p[name] = 1.0 + 0.1 * torch.randn(shape, generator=g)
        else:
            p[name] = 0.2 * torch.randn(shape, generator=g)
    return p


def model_logits(p, batch):
    """(B, T) ids -> (B, T, V) bidirectional logits."""
    Bn, T = batch.shape
    pos = torch.arange(T)[None].repeat(Bn, 1)
    allowed = torch.ones(Bn, T, T, dtype=torch.bool)
    return ref_llama_family(p, LLADA_NAMES, DIMS, batch, pos, allowed)


# ---- LLaDA get_log_likelihood.py, transcribed (plus shift and a per-request generator) ----

def forward_process(batch, prompt_index, gen, record):
    b, l = batch.shape
    target_len = (l - prompt_index.sum()).item()
    k = torch.randint(1, target_len + 1, (), generator=gen)
    x = torch.round(torch.linspace(float(k), k + (b - 1) * (target_len / b), steps=b)).long()
    x = ((x - 1) % target_len) + 1
    assert x.min() >= 1 and x.max() <= target_len
    indices = torch.arange(target_len).repeat(b, 1)
    is_mask = indices < x.unsqueeze(1)
    perms = []
    for i in range(b):
        perm = torch.randperm(target_len, generator=gen)
        perms.append(perm.tolist())
        is_mask[i] = is_mask[i][perm]
    is_mask = torch.cat((torch.zeros(b, prompt_index.sum(), dtype=torch.bool), is_mask), dim=1)
    noisy_batch = torch.where(is_mask, MASK_ID, batch)
    record.append({"k": int(k), "permutations": perms, "counts": x.tolist()})
    return noisy_batch, (x / target_len).unsqueeze(1).repeat(1, l)


def get_logits(p, batch, prompt_index, cfg_scale, shift):
    if cfg_scale > 0.0:
        prompt_index = prompt_index.unsqueeze(0).repeat(batch.shape[0], 1)
        un_batch = batch.clone()
        un_batch[prompt_index] = MASK_ID
        batch = torch.cat([batch, un_batch])
    logits = model_logits(p, batch)
    if shift:
        logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
    if cfg_scale > 0.0:
        logits, un_logits = torch.chunk(logits, 2, dim=0)
        logits = un_logits + (cfg_scale + 1) * (logits - un_logits)
    return logits


@torch.no_grad()
def get_log_likelihood(p, prompt, answer, mc_num, batch_size, cfg_scale, shift, gen, record):
    seq = torch.cat([prompt, answer])[None, :].repeat((batch_size, 1))
    prompt_index = torch.arange(seq.shape[1]) < len(prompt)
    loss_ = []
    for _ in range(mc_num // batch_size):
        perturbed_seq, p_mask = forward_process(seq, prompt_index, gen, record)
        mask_index = perturbed_seq == MASK_ID
        logits = get_logits(p, perturbed_seq, prompt_index, cfg_scale, shift)
        loss = F.cross_entropy(logits[mask_index], seq[mask_index], reduction="none") / p_mask[mask_index]
        loss = loss.sum() / batch_size
        loss_.append(loss.item())
    return -sum(loss_) / len(loss_)


@torch.no_grad()
def suffix_greedy_prediction(p, prefix, target, cfg_scale, shift):
    seq = torch.full((1, len(prefix) + len(target)), MASK_ID)
    prompt_index = torch.arange(seq.shape[1]) < len(prefix)
    seq[0, : len(prefix)] = prefix
    for _ in range(len(target)):
        mask_index = seq == MASK_ID
        logits = get_logits(p, seq, prompt_index, cfg_scale, shift)[mask_index]
        x0 = torch.argmax(logits, dim=-1)
        prob = torch.softmax(logits.to(torch.float32), dim=-1)
        confidence = torch.gather(prob, dim=-1, index=torch.unsqueeze(x0, -1)).squeeze(dim=-1)
        _, index = torch.sort(confidence, descending=True, stable=True)
        x0[index[1:]] = MASK_ID
        seq[mask_index] = x0.clone()
    return bool(torch.all(target == seq[0, len(prefix):])), seq[0, len(prefix):].tolist()


def linspace_table():
    """Mask counts torch computes from k for every (L <= 12, b <= 8, k), ties of round() included."""
    rows = []
    for L in range(1, 13):
        for b in range(1, 9):
            for k in range(1, L + 1):
                kt = torch.tensor(k)
                x = torch.round(torch.linspace(float(kt), kt + (b - 1) * (L / b), steps=b)).long()
                rows.append({"k": k, "length": L, "rows": b, "counts": (((x - 1) % L) + 1).tolist()})
    return rows


def main():
    lm_ref = json.loads((FIXTURES / "lm_eval_reference.json").read_text())
    requests = []
    for task in ("arc_easy", "hellaswag", "piqa"):  # the tasks whose documents trained the tokenizer
        for doc in lm_ref["tasks"][task]["documents"][:2]:
            for r in doc["requests"]:
                requests.append((r["context_ids"], r["continuation_ids"]))
    requests.append(([], [5, 17]))  # no prompt at all: position 0 is masked and predicted too

    OUT_MODEL.mkdir(parents=True, exist_ok=True)
    p = random_weights()
    save_file({k: v.contiguous() for k, v in p.items()}, str(OUT_MODEL / "model.safetensors"))
    (OUT_MODEL / "config.json").write_text(json.dumps(llada_config(), indent=2) + "\n")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(FIXTURES / "tiny_llama" / name, OUT_MODEL / name)

    # Continuations the model itself fills in greedily (is_greedy true), for two prompts and each cfg.
    for cfg in (0.0, 0.5):
        for ctx, cont in requests[:2]:
            _, fill = suffix_greedy_prediction(p, torch.tensor(ctx), torch.tensor(cont[:3]), cfg, False)
            requests.append((ctx, fill))

    settings_out = []
    for si, (name, mc_num, b, cfg, shift) in enumerate(SETTINGS):
        cases = []
        for ri, (ctx, cont) in enumerate(requests):
            if not ctx and shift:
                continue
            gen = torch.Generator().manual_seed(1000 * si + ri)
            record = []
            prompt, answer = torch.tensor(ctx, dtype=torch.long), torch.tensor(cont, dtype=torch.long)
            ll = get_log_likelihood(p, prompt, answer, mc_num, b, cfg, shift, gen, record)
            greedy, _ = suffix_greedy_prediction(p, prompt, answer, cfg, shift)
            cases.append({"request": ri, "context_ids": ctx, "continuation_ids": cont, "draws": record,
                          "loglikelihood": ll, "is_greedy": greedy})
        settings_out.append({"name": name, "mc_num": mc_num, "batch_size": b, "cfg": cfg, "shift": shift, "cases": cases})
        print(f"{name}: {len(cases)} requests, greedy {sum(c['is_greedy'] for c in cases)}")

    out = {"mask_id": MASK_ID, "vocab_size": VOCAB, "torch_version": torch.__version__,
           "reference": "LLaDA get_log_likelihood.py / eval_llada.py (ML-GSAI/LLaDA), transcribed",
           "settings": settings_out, "linspace": linspace_table()}
    (FIXTURES / "mc_reference.json").write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print("wrote", FIXTURES / "mc_reference.json")


if __name__ == "__main__":
    main()
