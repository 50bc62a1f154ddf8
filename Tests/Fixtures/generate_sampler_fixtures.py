#!/usr/bin/env python3
"""Reference outputs for the Swift samplers in DLLMSampling.

Run from the repository root (needs torch and transformers; the Swift tests do not):

    python3 Tests/Fixtures/generate_sampler_fixtures.py

It writes Tests/DLLMSamplingTests/Fixtures/sampler_reference.json with, for several settings, the
prompt (or infill text) token ids and the tokens the reference algorithm commits, on the tiny `llada`
fixture model of Tests/DLLMModelsTests/Fixtures/llada (and, for autoregressive sampling, the `llama_gqa`,
`qwen2`, `gpt2` and `qwen3` fixtures).

The reference masked-diffusion sampler below is written from LLaDA's published `generate()`
(ML-GSAI/LLaDA generate.py): a canvas of prompt + gen_length mask tokens, `block_length` blocks
decoded left to right with `steps / blocks` steps each, per step `get_num_transfer_tokens` tokens
(even split, remainder to the first steps) chosen by confidence, Gumbel-max sampling in float64
(`exp(logits) / (-log u) ** temperature`), `low_confidence` (softmax probability of the sampled token,
float64) or `random` remasking, and classifier-free guidance `un + (cfg + 1) * (cond - un)` with the
prompt replaced by masks in the unconditional row. Extensions, each following its source:

  * batches of prompts of different lengths are right-padded with EOS and attention-masked, each row's
    blocks aligned to its own prompt end (dLLM's MDLMSampler.sample); infilling fills masks anywhere,
    blocks over the whole padded sequence (dLLM's MDLMSampler.infill); `suppress_tokens` set logits to
    -inf before sampling (dLLM);
  * Fast-dLLM (NVlabs/Fast-dLLM llada/generate.py): `threshold` commits the most confident masked
    token of the block plus every other one whose confidence is >= threshold; `prefix` cache: the first
    step of a block runs the whole canvas and keeps the keys/values of the positions before the block,
    later steps run the block and everything after it; `dual` cache: later steps run the block only,
    reusing the keys/values of everything outside it from the block's first step.

Conventions shared with the Swift sampler (and documented there):

  * Noise is counter-based, not a generator stream: the uniform for vocabulary entry v at canvas
    position t of sample key s in step k is mix(key ^ v) with key = mix(mix(mix(mix(mix(seed) ^ stream)
    ^ k) ^ s) ^ t), mix = SplitMix64's finaliser of (x + 0x9E3779B97F4A7C15), u = ((h >> 12) + 0.5) / 2**52.
    Streams: 1 Gumbel, 2 random remasking, 3 autoregressive tokens. `noise_check` holds a few values (hash
    and u as strings: a JSON reader need not round decimal floats correctly).
  * The step counter k counts the steps that ran the model. A step whose schedule commits nothing in
    any row (more steps than masks) is skipped: in LLaDA it runs the model and commits nothing.
  * The mask token is never sampled (its logit is -inf, like a suppressed token).
  * Ties in the top-k are broken towards the lower position (torch.topk leaves them unspecified);
    every case records the smallest margin between a chosen and a rejected confidence and between the
    best and second-best sampling score, and the script asserts they are far above rounding.
  * Early stop (stop_at_eos): after a step, a row whose answer holds an EOS with every position before
    it committed is finished; the rest of its answer becomes EOS and it commits nothing more.

It also writes Tests/DLLMSamplingTests/Fixtures/text-llada: a tiny LLaDA config (no weights: it loads randomly
initialised) with a small byte-level BPE tokenizer, LLaDA's special tokens and LLaDA-8B-Instruct's chat template,
so that text-in/text-out paths (prompts, chat, infill placeholders, decoding) can be tested without Python.

Everything runs in float64 (model.double()); each case is re-run in float32 and `float32_agrees` records
whether it gives the same tokens with comfortable margins (the Swift Float test runs only those).
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate_model_fixtures as gmf  # noqa: E402  (the model fixtures' configs and name maps)

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_FIXTURES = REPO_ROOT / "Tests" / "DLLMModelsTests" / "Fixtures"
OUT = REPO_ROOT / "Tests" / "DLLMSamplingTests" / "Fixtures" / "sampler_reference.json"
TEXT_MODEL = REPO_ROOT / "Tests" / "DLLMSamplingTests" / "Fixtures" / "text-llada"
LLADA_CHAT = REPO_ROOT / "Tests" / "DLLMTokenizersTests" / "Fixtures" / "chat" / "llada" / "tokenizer_config.json"
MIN_MARGIN_F64 = 1e-5
MIN_MARGIN_F32 = 1e-4

torch.set_num_threads(1)
transformers.logging.set_verbosity_error()

# ----------------------------------------------------------------------------------------------------------
# Counter-based noise (the Swift CounterNoise)
# ----------------------------------------------------------------------------------------------------------

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
C1 = np.uint64(0xBF58476D1CE4E5B9)
C2 = np.uint64(0x94D049BB133111EB)


def mix(x):
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + GOLDEN
        z = (z ^ (z >> np.uint64(30))) * C1
        z = (z ^ (z >> np.uint64(27))) * C2
        return z ^ (z >> np.uint64(31))


def u64(v):
    return np.uint64(v & 0xFFFFFFFFFFFFFFFF)


def noise_key(seed, stream, step, sample, position):
    k = mix(u64(seed))
    k = mix(k ^ u64(stream))
    k = mix(k ^ u64(step))
    k = mix(k ^ u64(sample))
    return mix(k ^ u64(position))


def to_uniform(h):
    return ((np.asarray(h, dtype=np.uint64) >> np.uint64(12)).astype(np.float64) + 0.5) * 2.0 ** -52


def gumbel_uniforms(seed, step, sample, position, V):
    k = noise_key(seed, 1, step, sample, position)
    return to_uniform(mix(k ^ np.arange(V, dtype=np.uint64)))


def remask_uniform(seed, step, sample, position):
    return float(to_uniform(mix(noise_key(seed, 2, step, sample, position))))


def token_uniform(seed, step, sample):
    return float(to_uniform(mix(noise_key(seed, 3, step, sample, 0))))


# ----------------------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------------------

def load_llada_hf(dtype):
    """The llada fixture's weights in transformers' LlamaForCausalLM (LLaDA = LLaMA without the causal mask)."""
    case = gmf.case_llada()
    model = transformers.LlamaForCausalLM._from_config(case["hf_config"], attn_implementation="eager", dtype=torch.float32)
    ckpt = load_file(str(MODEL_FIXTURES / "llada" / "model.safetensors"))
    state = {gmf.llada_to_hf_name(k, case["dims"]["layers"]): v for k, v in ckpt.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all("rotary" in m for m in missing), (missing, unexpected)
    return model.eval().to(dtype), case


def hf_bidirectional_logits(model, x, lengths, dtype):
    """(B, T, V) logits with a bidirectional 4D additive mask over each row's first lengths[b] keys."""
    B, T = x.shape
    allowed = torch.arange(T)[None, None, :] < torch.tensor(lengths)[:, None, None]  # (B, 1, T) -> every query
    allowed = allowed.expand(B, T, T)
    mask = torch.where(allowed, torch.zeros((), dtype=dtype), torch.full((), torch.finfo(dtype).min, dtype=dtype))
    pos = torch.arange(T).expand(B, T)
    with torch.no_grad():
        return model(input_ids=x, attention_mask=mask[:, None], position_ids=pos, use_cache=False).logits


class ExplicitKV:
    """A pure-torch LLaMA forward with an explicit slot-addressed key/value cache (Fast-dLLM's
    past_key_values): queries at slots query_start[b] + i overwrite those slots, then attend to the
    slots below key_length[b]. Reads the checkpoint tensors by their LLaDA names."""

    def __init__(self, dtype, B, capacity):
        self.case = gmf.case_llada()
        c = self.case["dims"]
        self.c = c
        self.dtype = dtype
        self.p = {k: v.to(dtype) for k, v in load_file(str(MODEL_FIXTURES / "llada" / "model.safetensors")).items()}
        self.K = [torch.zeros(B, capacity, c["kv_heads"], c["head_dim"], dtype=dtype) for _ in range(c["layers"])]
        self.V = [torch.zeros(B, capacity, c["kv_heads"], c["head_dim"], dtype=dtype) for _ in range(c["layers"])]

    def rope(self, x, pos):
        d = x.shape[-1]
        inv = 1.0 / (self.c["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
        ang = pos.to(torch.float64)[..., None] * inv  # (B, Tq, d/2)
        cos, sin = ang.cos().to(self.dtype)[:, :, None], ang.sin().to(self.dtype)[:, :, None]
        h = d // 2
        x1, x2 = x[..., :h], x[..., h:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

    def __call__(self, ids, query_start, key_length):
        n, p, c = gmf.LLADA_NAMES, self.p, self.c
        B, Tq = ids.shape
        H, KV, d, eps = c["heads"], c["kv_heads"], c["head_dim"], c["eps"]
        pos = torch.tensor(query_start)[:, None] + torch.arange(Tq)[None]
        x = p[n["embed"]][ids]
        for i in range(c["layers"]):
            w = lambda role: p[n["layer"].format(i=i, role=n[role])]  # noqa: E731
            h = gmf.rms_norm(x, w("attn_norm"), eps)
            q = self.rope(gmf.linear(h, w("q")).view(B, Tq, H, d), pos)
            k = self.rope(gmf.linear(h, w("k")).view(B, Tq, KV, d), pos)
            v = gmf.linear(h, w("v")).view(B, Tq, KV, d)
            for b in range(B):
                self.K[i][b, query_start[b]:query_start[b] + Tq] = k[b]
                self.V[i][b, query_start[b]:query_start[b] + Tq] = v[b]
            out = torch.zeros(B, Tq, H, d, dtype=self.dtype)
            for b in range(B):
                L = key_length[b]
                keys = self.K[i][b, :L].repeat_interleave(H // KV, dim=1)  # (L, H, d)
                vals = self.V[i][b, :L].repeat_interleave(H // KV, dim=1)
                s = torch.einsum("thd,lhd->htl", q[b], keys) / math.sqrt(d)
                out[b] = torch.einsum("htl,lhd->thd", torch.softmax(s, dim=-1), vals)
            x = x + gmf.linear(out.reshape(B, Tq, H * d), w("o"))
            h = gmf.rms_norm(x, w("ffn_norm"), eps)
            x = x + gmf.linear(F.silu(gmf.linear(h, w("gate"))) * gmf.linear(h, w("up")), w("down"))
        return gmf.linear(gmf.rms_norm(x, p[n["final_norm"]], eps), p[n["lm_head"]])


# ----------------------------------------------------------------------------------------------------------
# The reference masked-diffusion sampler
# ----------------------------------------------------------------------------------------------------------

def get_num_transfer_tokens(mask_count, steps):
    """LLaDA's get_num_transfer_tokens for one row: even split, remainder to the first steps."""
    base, rem = divmod(mask_count, steps)
    return [base + 1 if i < rem else base for i in range(steps)]


class Margins:
    def __init__(self):
        self.selection = math.inf  # smallest gap between a chosen and a rejected confidence (or to the threshold)
        self.argmax = math.inf     # smallest relative gap between the best and second-best sampling score

    def argmax_gap(self, scores):
        top = torch.topk(scores, 2).values
        if math.isinf(top[0].item()):
            return
        self.argmax = min(self.argmax, (top[0] - top[1]).item() / max(abs(top[0].item()), 1e-300))


def sample_mdlm(*, dtype, canvas, lengths, given, answers, block_windows, steps_per_block, cfg, keys,
                mask_id, eos_id, V):
    """Runs the reference sampler; returns (canvas, nfe, margins)."""
    x = canvas.clone()
    B, T = x.shape
    rows = 2 * B if cfg["cfg_scale"] > 0 else B
    hf = None
    kv = None
    if cfg["cache"] == "none":
        hf, _ = load_llada_hf(dtype)
    else:
        kv = ExplicitKV(dtype, rows, T)
    suppress = sorted(set(cfg["suppress_tokens"]) | {mask_id})
    margins = Margins()
    margins.commits = []  # per executed step, tokens committed per row
    finished = [False] * B
    nfe = 0
    step = 0
    for k, windows in enumerate(block_windows):
        schedules = [get_num_transfer_tokens(sum(int(x[b, t] == mask_id) for t in range(*windows[b])), steps_per_block)
                     for b in range(B)]
        i = 0
        fresh = False
        while True:
            cand = [[] if finished[b] else [t for t in range(*windows[b]) if x[b, t] == mask_id] for b in range(B)]
            if all(len(c) == 0 for c in cand):
                break
            quotas = None
            if cfg["threshold"] is None:
                if i >= steps_per_block:
                    break
                quotas = [schedules[b][i] if cand[b] else 0 for b in range(B)]
                i += 1
                if all(q == 0 for q in quotas):
                    continue
            # ---- the model: both rows of CFG in one call, as LLaDA concatenates them
            xs = x
            if cfg["cfg_scale"] > 0:
                un = x.clone()
                un[given] = mask_id
                xs = torch.cat([x, un], dim=0)
            lens = lengths * (2 if cfg["cfg_scale"] > 0 else 1)
            full = torch.full((rows, T, V), float("nan"), dtype=dtype)
            phase = "full" if (cfg["cache"] == "none" or not fresh) else cfg["cache"]
            if hf is not None:
                full = hf_bidirectional_logits(hf, xs, lens, dtype)
            else:
                starts = [windows[r % B][0] for r in range(rows)]
                if phase == "full":
                    Tq, qs = T, [0] * rows
                elif phase == "prefix":
                    Tq = max(1, max(lengths[b] - starts[b] for b in range(B)))
                    qs = [min(starts[r], T - Tq) for r in range(rows)]
                else:
                    Tq = max(1, max(hi - lo for lo, hi in windows))
                    qs = [min(starts[r], T - Tq) for r in range(rows)]
                ids = torch.stack([xs[r, qs[r]:qs[r] + Tq] for r in range(rows)])
                out = kv(ids, qs, lens)
                for r in range(rows):
                    full[r, qs[r]:qs[r] + Tq] = out[r]
            fresh = cfg["cache"] != "none"
            nfe += 1
            logits = full[:B]
            if cfg["cfg_scale"] > 0:
                un_logits = full[B:]
                logits = un_logits + (cfg["cfg_scale"] + 1) * (logits - un_logits)
            logits = logits.clone()
            logits[:, :, suppress] = -torch.inf
            # ---- sample and score every candidate
            committed = [0] * B
            for b in range(B):
                scored = []
                tokens = {}
                for t in cand[b]:
                    row = logits[b, t]
                    if cfg["temperature"] == 0:
                        scores = row
                    else:
                        u = torch.from_numpy(gumbel_uniforms(cfg["seed"], step, keys[b], t, V))
                        scores = row.to(torch.float64).exp() / (-torch.log(u)) ** cfg["temperature"]
                    margins.argmax_gap(scores.to(torch.float64))
                    x0 = int(torch.argmax(scores))
                    if cfg["remasking"] == "low_confidence":
                        conf = F.softmax(row.to(torch.float64), dim=-1)[x0].item()
                    else:
                        conf = remask_uniform(cfg["seed"], step, keys[b], t)
                    scored.append((t, conf))
                    tokens[t] = x0
                order = sorted(scored, key=lambda tc: (-tc[1], tc[0]))
                if cfg["threshold"] is None:
                    q = quotas[b]
                    chosen = [t for t, _ in order[:q]]
                    if 0 < q < len(order):
                        margins.selection = min(margins.selection, order[q - 1][1] - order[q][1])
                else:
                    thr = cfg["threshold"]
                    chosen = [order[0][0]] + [t for t, c in order[1:] if c >= thr]
                    for _, c in order[1:]:
                        margins.selection = min(margins.selection, abs(c - thr))
                for t in chosen:
                    x[b, t] = tokens[t]
                committed[b] = len(chosen)
            margins.commits.append(committed)
            step += 1
            if cfg["stop_at_eos"]:
                for b in range(B):
                    if finished[b]:
                        continue
                    lo, hi = answers[b]
                    for t in range(lo, hi):
                        if x[b, t] == mask_id:
                            break
                        if x[b, t] == eos_id:
                            x[b, t + 1:hi] = eos_id
                            finished[b] = True
                            break
                if all(finished):
                    return x, nfe, margins
    return x, nfe, margins


def generation_setup(prompts, gen_length, block_length, mask_id, eos_id):
    B = len(prompts)
    T = max(len(p) for p in prompts) + gen_length
    x = torch.full((B, T), eos_id, dtype=torch.long)
    given = torch.zeros(B, T, dtype=torch.bool)
    for b, p in enumerate(prompts):
        x[b, :len(p)] = torch.tensor(p, dtype=torch.long)
        given[b, :len(p)] = True
        x[b, len(p):len(p) + gen_length] = mask_id
    lengths = [len(p) + gen_length for p in prompts]
    answers = [(len(p), len(p) + gen_length) for p in prompts]
    n_blocks = gen_length // block_length
    windows = [[(len(p) + k * block_length, len(p) + (k + 1) * block_length) for p in prompts] for k in range(n_blocks)]
    return x, lengths, given, answers, windows, n_blocks


def infill_setup(seqs, block_length, mask_id, eos_id):
    B = len(seqs)
    T = max(len(s) for s in seqs)
    x = torch.full((B, T), eos_id, dtype=torch.long)
    for b, s in enumerate(seqs):
        x[b, :len(s)] = torch.tensor(s, dtype=torch.long)
    lengths = [len(s) for s in seqs]
    given = torch.zeros(B, T, dtype=torch.bool)
    for b, s in enumerate(seqs):
        given[b, :len(s)] = torch.tensor([t != mask_id for t in s])
    bl = block_length or T
    n_blocks = -(-T // bl)
    windows = [[(min(k * bl, L), min((k + 1) * bl, L)) for L in lengths] for k in range(n_blocks)]
    answers = [(0, L) for L in lengths]
    return x, lengths, given, answers, windows, n_blocks


def run_mdlm_case(case, mask_id, eos_id, V):
    cfg = dict(steps=16, gen_length=16, block_length=None, temperature=0.0, remasking="low_confidence",
               cfg_scale=0.0, suppress_tokens=[], threshold=None, cache="none", stop_at_eos=False, seed=0)
    cfg.update(case["config"])
    if case["mode"] == "generate":
        bl = cfg["block_length"] or cfg["gen_length"]
        assert cfg["gen_length"] % bl == 0
        x, lengths, given, answers, windows, n_blocks = generation_setup(case["inputs"], cfg["gen_length"], bl, mask_id, eos_id)
    else:
        x, lengths, given, answers, windows, n_blocks = infill_setup(case["inputs"], cfg["block_length"], mask_id, eos_id)
    assert cfg["steps"] % n_blocks == 0
    keys = case.get("sample_keys", list(range(len(case["inputs"]))))
    results = {}
    for dtype in (torch.float64, torch.float32):
        out, nfe, margins = sample_mdlm(dtype=dtype, canvas=x, lengths=lengths, given=given, answers=answers,
                                        block_windows=windows, steps_per_block=cfg["steps"] // n_blocks, cfg=cfg,
                                        keys=keys, mask_id=mask_id, eos_id=eos_id, V=V)
        rows = [out[b, :lengths[b]].tolist() for b in range(len(lengths))]
        results[dtype] = (rows, nfe, margins)
    rows, nfe, margins = results[torch.float64]
    m = min(margins.selection, margins.argmax)
    assert m > MIN_MARGIN_F64, f"{case['name']}: a decision is within {m:.2e} of a tie; change the case"
    for b, row in enumerate(rows):
        assert mask_id not in row, f"{case['name']}: a mask remains"
        if case["mode"] == "generate":
            assert row[:len(case["inputs"][b])] == case["inputs"][b], "the prompt changed"
    rows32, nfe32, margins32 = results[torch.float32]
    agrees = rows32 == rows and nfe32 == nfe and min(margins32.selection, margins32.argmax) > MIN_MARGIN_F32
    print(f"  {case['name']:32s} nfe={nfe:3d} margin={m:.2e} float32_agrees={agrees} "
          f"commits={[sum(c) for c in margins.commits]}")
    return dict(name=case["name"], mode=case["mode"], inputs=case["inputs"], config=cfg, sample_keys=keys,
                expected=rows, nfe=nfe, commits_per_step=margins.commits, min_margin=m, float32_agrees=agrees)


# ----------------------------------------------------------------------------------------------------------
# Autoregressive reference: transformers' own generate (greedy) and logits warpers (sampling)
# ----------------------------------------------------------------------------------------------------------

def load_ar(name):
    folder = MODEL_FIXTURES / name
    cls = {"llama_gqa": transformers.LlamaForCausalLM, "qwen2": transformers.Qwen2ForCausalLM,
           "gpt2": transformers.GPT2LMHeadModel, "qwen3": transformers.Qwen3ForCausalLM}[name]
    return cls.from_pretrained(str(folder), attn_implementation="eager", dtype=torch.float64).eval()


def run_ar_case(case):
    model = load_ar(case["model"])
    cfg = dict(max_new_tokens=6, temperature=0.0, top_k=None, top_p=None, seed=0)
    cfg.update(case["config"])
    expected = []
    for b, prompt in enumerate(case["inputs"]):
        ids = torch.tensor([prompt])
        if cfg["temperature"] == 0:
            model.generation_config.eos_token_id = None
            model.generation_config.pad_token_id = 0
            with torch.no_grad():
                out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                     max_new_tokens=cfg["max_new_tokens"], use_cache=True)
            expected.append(out[0].tolist())
            with torch.no_grad():
                logits = model(out, use_cache=False).logits[0]
            for t in range(len(prompt) - 1, out.shape[1] - 1):
                top = torch.topk(logits[t], 2).values
                assert (top[0] - top[1]).item() > 1e-5, f"{case['name']}: near-tie in greedy decoding"
            continue
        warpers = [transformers.TemperatureLogitsWarper(cfg["temperature"])]
        if cfg["top_k"]:
            warpers.append(transformers.TopKLogitsWarper(cfg["top_k"]))
        if cfg["top_p"]:
            warpers.append(transformers.TopPLogitsWarper(cfg["top_p"]))
        seq = list(prompt)
        for step in range(cfg["max_new_tokens"]):
            with torch.no_grad():
                logits = model(torch.tensor([seq]), use_cache=False).logits[:, -1].to(torch.float64)
            for w in warpers:
                logits = w(torch.tensor([seq]), logits)
            probs = torch.softmax(logits[0], dim=-1)
            u = token_uniform(cfg["seed"], step, b)
            cum = torch.cumsum(probs, 0)
            token = int(torch.nonzero(cum > u)[0]) if (cum > u).any() else int(torch.nonzero(probs > 0)[-1])
            gap = (cum - u).abs().min().item()
            assert gap > 1e-9, f"{case['name']}: the uniform is within {gap:.1e} of a boundary"
            seq.append(token)
        expected.append(seq)
    print(f"  {case['name']:32s} {expected}")
    return dict(name=case["name"], model=case["model"], inputs=case["inputs"], config=cfg, expected=expected)


# ----------------------------------------------------------------------------------------------------------
# A text model folder: tokenizer + LLaDA config, no weights
# ----------------------------------------------------------------------------------------------------------

TEXT = """When forty winters shall besiege thy brow, and dig deep trenches in thy beauty's field,
thy youth's proud livery so gazed on now, will be a tattered weed of small worth held.
Shall I compare thee to a summer's day? Thou art more lovely and more temperate.
The king said he would ride at dawn, and the queen said nothing and left the hall.
Now is the winter of our discontent made glorious summer by this sun of York.
"""


def write_text_model():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    specials = ["<|startoftext|>", "<|endoftext|>", "<|mdm_mask|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(TEXT.splitlines() * 4, trainer)
    bos = tok.token_to_id("<|startoftext|>")
    tok.post_processor = processors.TemplateProcessing(single="<|startoftext|> $A", pair="<|startoftext|> $A $B",
                                                       special_tokens=[("<|startoftext|>", bos)])
    TEXT_MODEL.mkdir(parents=True, exist_ok=True)
    tok.save(str(TEXT_MODEL / "tokenizer.json"))
    chat = json.loads(LLADA_CHAT.read_text())
    (TEXT_MODEL / "tokenizer_config.json").write_text(json.dumps(dict(
        chat_template=chat["chat_template"], bos_token="<|startoftext|>", eos_token="<|endoftext|>",
        mask_token="<|mdm_mask|>", tokenizer_class="PreTrainedTokenizerFast"), indent=2) + "\n")
    V = tok.get_vocab_size()
    config = {
        "architectures": ["LLaDAModelLM"], "model_type": "llada", "d_model": 32, "n_heads": 4, "n_kv_heads": 4,
        "n_layers": 2, "mlp_hidden_size": 64, "vocab_size": V, "embedding_size": V,
        "mask_token_id": tok.token_to_id("<|mdm_mask|>"), "eos_token_id": tok.token_to_id("<|endoftext|>"),
        "pad_token_id": tok.token_to_id("<|endoftext|>"), "rope_theta": 10000.0, "rms_norm_eps": 1e-5,
        "max_sequence_length": 128, "weight_tying": False, "include_bias": False, "layer_norm_type": "rms",
        "block_type": "llama", "activation_type": "silu", "init_std": 0.02,
    }
    (TEXT_MODEL / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    ids = tok.encode("The king said he would ride").ids
    print(f"text model: vocab {V}, 'The king said he would ride' -> {ids}")


# ----------------------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------------------

def prompts(gen, lengths, V_ok):
    return [torch.randint(0, V_ok, (n,), generator=gen).tolist() for n in lengths]


def main():
    os.chdir(REPO_ROOT)
    write_text_model()
    hf, case = load_llada_hf(torch.float64)
    mask_id, eos_id, V = case["mask_token_id"], case["pad_token_id"], gmf.V
    gen = torch.Generator().manual_seed(20250601)

    # The explicit-KV forward is the same function as transformers' (full forward, no cache reuse).
    x = torch.randint(0, V, (2, 12), generator=gen)
    lens = [12, 9]
    ref = hf_bidirectional_logits(hf, x, lens, torch.float64)
    kv = ExplicitKV(torch.float64, 2, 12)
    ours = kv(x, [0, 0], lens)
    diff = max((ref[b, :lens[b]] - ours[b, :lens[b]]).abs().max().item() for b in range(2))
    print(f"explicit-KV forward vs transformers (float64): max |diff| {diff:.2e}")
    assert diff < 1e-5

    p1 = prompts(gen, [5], 65)
    p2 = prompts(gen, [6], 65)
    batch = prompts(gen, [3, 7, 10], 65)
    pair = prompts(gen, [4, 8], 65)
    text = prompts(gen, [14], 65)[0]
    infill_one = text[:4] + [mask_id] * 6 + text[4:8] + [mask_id] * 3 + text[8:]
    infill_two = [text[:3] + [mask_id] * 5 + text[3:6], text[:2] + [mask_id] * 8 + text[2:10] + [mask_id] * 2]
    keep = [21, eos_id]
    eos_bias = [t for t in range(V) if t not in keep]

    mdlm_cases = [
        dict(name="greedy_single_block", mode="generate", inputs=p1, config=dict(steps=16, gen_length=16)),
        dict(name="greedy_blocks", mode="generate", inputs=p1, config=dict(steps=8, gen_length=16, block_length=4)),
        dict(name="uneven_schedule", mode="generate", inputs=p2, config=dict(steps=5, gen_length=12)),
        dict(name="more_steps_than_masks", mode="generate", inputs=p2, config=dict(steps=12, gen_length=6, block_length=2)),
        dict(name="temperature", mode="generate", inputs=p1,
             config=dict(steps=8, gen_length=16, block_length=8, temperature=0.7, seed=11)),
        dict(name="random_remasking", mode="generate", inputs=p2,
             config=dict(steps=6, gen_length=12, block_length=6, remasking="random", seed=3)),
        dict(name="random_remasking_temperature", mode="generate", inputs=p1,
             config=dict(steps=12, gen_length=12, temperature=1.0, remasking="random", seed=5)),
        dict(name="cfg", mode="generate", inputs=p2, config=dict(steps=6, gen_length=12, block_length=4, cfg_scale=1.5)),
        dict(name="cfg_temperature", mode="generate", inputs=p1,
             config=dict(steps=8, gen_length=8, cfg_scale=0.8, temperature=0.5, seed=21)),
        dict(name="batch_prompt_lengths", mode="generate", inputs=batch,
             config=dict(steps=12, gen_length=12, block_length=4, temperature=0.6, seed=9)),
        dict(name="batch_greedy_sample_keys", mode="generate", inputs=pair, sample_keys=[40, 41],
             config=dict(steps=8, gen_length=8, block_length=4, temperature=0.9, seed=2)),
        dict(name="suppress_tokens", mode="generate", inputs=p1,
             config=dict(steps=10, gen_length=10, suppress_tokens=[eos_id, 3, 10])),
        dict(name="stop_at_eos", mode="generate", inputs=p1,
             config=dict(steps=16, gen_length=16, block_length=4, suppress_tokens=eos_bias, stop_at_eos=True)),
        dict(name="infill_single_block", mode="infill", inputs=[infill_one], config=dict(steps=9)),
        dict(name="infill_blocks_batch", mode="infill", inputs=infill_two,
             config=dict(steps=9, block_length=8, temperature=0.4, seed=17)),
        dict(name="threshold", mode="generate", inputs=p1, config=dict(steps=16, gen_length=16, block_length=8, threshold=0.15)),
        dict(name="prefix_cache", mode="generate", inputs=p1, config=dict(steps=16, gen_length=16, block_length=4, cache="prefix")),
        dict(name="dual_cache", mode="generate", inputs=p1, config=dict(steps=16, gen_length=16, block_length=4, cache="dual")),
        dict(name="dual_cache_threshold", mode="generate", inputs=p2,
             config=dict(steps=12, gen_length=12, block_length=4, cache="dual", threshold=0.08)),
        dict(name="prefix_cache_cfg_batch", mode="generate", inputs=pair,
             config=dict(steps=8, gen_length=8, block_length=4, cache="prefix", cfg_scale=1.0, temperature=0.5, seed=4)),
        dict(name="dual_cache_batch", mode="generate", inputs=batch,
             config=dict(steps=12, gen_length=12, block_length=4, cache="dual", remasking="random", seed=8)),
        dict(name="infill_dual_cache", mode="infill", inputs=infill_two, config=dict(steps=9, block_length=8, cache="dual")),
    ]
    print("masked diffusion (llada fixture):")
    mdlm = [run_mdlm_case(c, mask_id, eos_id, V) for c in mdlm_cases]

    ar_prompts = prompts(gen, [4, 2, 5], 60)
    ar_cases = [
        dict(name="ar_greedy_llama_gqa", model="llama_gqa", inputs=ar_prompts, config=dict(max_new_tokens=8)),
        dict(name="ar_greedy_qwen2", model="qwen2", inputs=ar_prompts, config=dict(max_new_tokens=8)),
        dict(name="ar_greedy_gpt2", model="gpt2", inputs=ar_prompts, config=dict(max_new_tokens=8)),
        dict(name="ar_sample_llama_gqa", model="llama_gqa", inputs=ar_prompts,
             config=dict(max_new_tokens=8, temperature=0.8, top_k=10, top_p=0.9, seed=6)),
        dict(name="ar_sample_gpt2", model="gpt2", inputs=ar_prompts[:2], config=dict(max_new_tokens=6, temperature=1.3, seed=1)),
        dict(name="ar_greedy_qwen3", model="qwen3", inputs=ar_prompts, config=dict(max_new_tokens=8)),
        dict(name="ar_sample_qwen3", model="qwen3", inputs=ar_prompts,
             config=dict(max_new_tokens=8, temperature=0.9, top_k=12, top_p=0.9, seed=3)),
    ]
    print("autoregressive:")
    ar = [run_ar_case(c) for c in ar_cases]

    checks = []
    for seed, stream, step, sample, position, v in [(0, 1, 0, 0, 0, 0), (11, 1, 3, 1, 7, 42), (5, 2, 9, 0, 13, 0),
                                                      (6, 3, 2, 2, 0, 0), (2**63 + 5, 1, 100, 41, 30, 66)]:
        k = noise_key(seed, stream, step, sample, position)
        h = mix(k ^ np.uint64(v))
        checks.append(dict(seed=str(seed), stream=stream, step=step, sample=sample, position=position, v=v,
                           hash=str(int(h)), u=repr(float(to_uniform(h)))))

    doc = dict(
        generator="Tests/Fixtures/generate_sampler_fixtures.py",
        model="Tests/DLLMModelsTests/Fixtures/llada", mask_token_id=mask_id, eos_token_id=eos_id, vocab_size=V,
        torch=torch.__version__, transformers=transformers.__version__,
        noise_check=checks, mdlm_cases=mdlm, ar_cases=ar,
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(REPO_ROOT)} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    sys.exit(main())
