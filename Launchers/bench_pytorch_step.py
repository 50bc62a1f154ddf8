#!/usr/bin/env python3
"""PyTorch side of the dllm training-step benchmark.

Times one full training step of a LLaMA-style model with *bidirectional* attention (LLaDA/MDLM style):
forward, cross-entropy over all B*T tokens, backward, AdamW step.  Float32, CPU; with --bf16 the forward
runs under torch.autocast("cpu", dtype=torch.bfloat16) (the loss on float32 logits).

    python3 Launchers/bench_pytorch_step.py                      # reference config, 2 threads
    python3 Launchers/bench_pytorch_step.py --threads 4 --steps 5
    python3 Launchers/bench_pytorch_step.py --hidden 256 --layers 4 --heads 4 --kv-heads 4 \
        --intermediate 704 --vocab 8000 --batch 4 --seq 256

Reference config: hidden 512, 8 layers, 8 heads (8 kv heads), intermediate 1408 (SwiGLU), vocab 32000,
untied embeddings, batch 8 x 512 tokens.

Attention: transformers' `sdpa` backend (torch.nn.functional.scaled_dot_product_attention) with the model
config's `is_causal = False`.  In transformers 5.x that flag makes `create_causal_mask` build a bidirectional
mask, and with no padding the mask is skipped entirely, so SDPA is called with attn_mask=None, is_causal=False,
which lets it use its fused flash-attention CPU kernel (no materialised T x T scores).  Measured on the 2-vCPU
dev box (torch 2.15, idle machine), attention forward+backward for one layer at B=8, 8 heads, T=512,
head_dim 64: sdpa without mask 0.103 s, sdpa with an all-zeros 4D float mask 0.110 s, eager (matmul + softmax)
0.232 s, so sdpa/no-mask is the default.  In the full step the difference (~1 s of ~7 s) is of the same order
as the run-to-run noise on a shared machine.  Use --attn eager / --mask zeros4d to time the alternatives.
Before timing, the script asserts that attention really is bidirectional (changing the last token changes
the logits at position 0).

Output: progress on stderr, ONE JSON line on stdout.

With --products-only the script builds no model and times only the float32 matrix products of the linears
and the LM head at the step's shapes (each linear's forward, input-gradient and weight-gradient product,
torch.mm on PyTorch's BLAS, MKL in the PyPI wheels), the set `dllm bench train-step` times on OpenBLAS as
"dllm fp32 matrix products alone": the same shapes on the library PyTorch's step uses.

FLOP accounting (per step; "gflops" is achieved GFLOP/s = flops_per_step / mean step time / 1e9):
    flops_per_step = 6 * params * tokens  +  12 * L * B * T^2 * hidden
  * 6*N*D: forward 2*N*D + backward 4*N*D, the usual convention; N counts ALL parameters, including the
    input embedding (whose "matmul" is really a gather, so this slightly overstates the work) and the
    untied lm_head.
  * attention: QK^T and PV are each 2*B*T^2*hidden FLOPs per layer in the forward (summed over heads,
    heads*head_dim = hidden), i.e. 4*B*T^2*hidden forward, x3 for forward+backward = 12*B*T^2*hidden per
    layer.  Bidirectional attention computes the full T x T square (no causal halving).
  * Not counted: norms, RoPE, SiLU, softmax, cross-entropy, the optimizer (all O(N) or O(B*T*hidden)).
  `params_non_embedding` = params - vocab*hidden (the input embedding table only; the lm_head is a real
  matmul and stays in).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=8)
    p.add_argument("--intermediate", type=int, default=1408)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--attn", choices=["sdpa", "eager"], default="sdpa", help="transformers attention backend")
    p.add_argument("--mask", choices=["config", "zeros4d"], default="config",
                   help="how attention is made bidirectional: config.is_causal=False with no mask (default), "
                        "or an all-zeros (B,1,T,T) float mask passed as attention_mask")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tied-embeddings", action="store_true", help="tie lm_head to the input embedding")
    p.add_argument("--gradient-checkpointing", action="store_true",
                   help="HF gradient_checkpointing_enable (use_reentrant=False): recompute each block in backward")
    p.add_argument("--bf16", action="store_true",
                   help='forward (and so backward) under torch.autocast("cpu", dtype=torch.bfloat16), as HF Trainer runs '
                        "bf16: true on CPU; parameters, AdamW state and the loss stay float32")
    p.add_argument("--masked-diffusion", action="store_true",
                   help="dLLM's masked-diffusion (MDLM) loss instead of cross-entropy on every token: sequence b masks "
                        "round(t*T) random positions, t = (b + 0.5)/B; the head runs on every position and the loss "
                        "is sum over masked tokens of CE / t / (B*T), as dLLM's MDLMTrainer computes it")
    p.add_argument("--products-only", action="store_true",
                   help="time only the linears' and the LM head's float32 matrix products (forward, input gradient, "
                        "weight gradient) at the step's shapes, best of two passes; prints linear_products_seconds")
    p.add_argument("--head-rows", type=int, default=None,
                   help="with --products-only: rows of the LM head's products (default batch*seq)")
    return p.parse_args()


def products_only(args):
    """The linears' and the head's products alone, as dllm's float32ProductFloor lists them."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    N, C, I, V = args.batch * args.seq, args.hidden, args.intermediate, args.vocab
    head_dim = C // args.heads
    QD, KVD = args.heads * head_dim, args.kv_heads * head_dim
    R = args.head_rows if args.head_rows is not None else N
    widest = max(C, I, QD)
    x, dy = torch.randn(N, widest), torch.randn(N, widest)
    w = torch.randn(widest, widest)
    block = [(C, QD), (C, KVD), (C, KVD), (QD, C), (C, I), (C, I), (I, C)]  # (in, out): q, k, v, o, gate, up, down
    hx, hdy, hw = torch.randn(R, C), torch.randn(R, V), torch.randn(V, C)

    def product(inp, dout, weight):
        F.linear(inp, weight)      # (N, out) = inp · Wᵀ
        dout.mm(weight)            # dinp (N, in) = dout · W
        dout.t().mm(inp)           # dW (out, in) = doutᵀ · inp

    def leading(t, rows, cols):  # the first rows*cols values as a contiguous matrix, as dllm's buffers serve
        return t.view(-1)[: rows * cols].view(rows, cols)

    def run():
        for _ in range(args.layers):
            for fan_in, fan_out in block:
                product(leading(x, N, fan_in), leading(dy, N, fan_out), leading(w, fan_out, fan_in))
        product(hx, hdy, hw)

    best = float("inf")
    with torch.no_grad():
        for _ in range(2):
            t0 = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - t0)
    log(f"torch {torch.__version__}, threads {torch.get_num_threads()}: linear and head products {best:.3f} s")
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__.split("+")[0], "threads": torch.get_num_threads(),
                      "blas": "mkl" if torch.backends.mkl.is_available() else "other",
                      "linear_products_seconds": round(best, 4)}), flush=True)


def main():
    args = parse_args()
    if args.products_only:
        products_only(args)
        return
    load_before = os.getloadavg()[0]
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM

    transformers.logging.set_verbosity_error()

    config = LlamaConfig(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        hidden_act="silu",
        max_position_embeddings=max(args.seq, 2048),
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
        tie_word_embeddings=args.tied_embeddings,
        attention_bias=False,
        mlp_bias=False,
        pad_token_id=None,
        use_cache=False,
    )
    if args.mask == "config":
        config.is_causal = False  # transformers 5.x: bidirectional mask instead of the causal one
    model = LlamaForCausalLM._from_config(config, attn_implementation=args.attn, dtype=torch.float32)
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()  # dropout is 0.0 in this config, train() only matters for bookkeeping

    params = sum(p.numel() for p in model.parameters())
    params_embedding = model.get_input_embeddings().weight.numel()
    B, T, H, L = args.batch, args.seq, args.hidden, args.layers
    tokens = B * T
    flops_per_step = 6 * params * tokens + 12 * L * B * T * T * H

    def attention_mask(b, t):
        if args.mask == "zeros4d":
            return torch.zeros(b, 1, t, t, dtype=torch.float32)
        return None

    # Bidirectionality check on the real model (cheap: one sequence of 16 tokens, no grad).
    with torch.no_grad():
        ids = torch.randint(0, args.vocab, (1, 16))
        ids2 = ids.clone()
        ids2[0, -1] = (ids2[0, -1] + 1) % args.vocab
        a = model(input_ids=ids, attention_mask=attention_mask(1, 16)).logits[0, 0]
        b = model(input_ids=ids2, attention_mask=attention_mask(1, 16)).logits[0, 0]
        assert (a - b).abs().max().item() > 0, "attention is not bidirectional"

    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    input_ids = torch.randint(0, args.vocab, (B, T))
    targets = torch.randint(0, args.vocab, (B, T))
    mask = attention_mask(B, T)
    t = (torch.arange(B, dtype=torch.float32) + 0.5) / B
    masked = torch.zeros(B, T, dtype=torch.bool)
    for b in range(B):
        masked[b, torch.randperm(T)[: round(t[b].item() * T)]] = True
    masked_weight = (1 / t)[:, None].expand(B, T)[masked] / tokens

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            logits = model(input_ids=input_ids, attention_mask=mask, use_cache=False).logits
        if args.masked_diffusion:
            ce = F.cross_entropy(logits.float()[masked], targets[masked], reduction="none")
            loss = (ce * masked_weight).sum()
        else:
            loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.view(-1))
        loss.backward()
        opt.step()
        return loss.item()

    log(f"torch {torch.__version__}, transformers {transformers.__version__}, threads {torch.get_num_threads()}, "
        f"attn {args.attn}/{args.mask}, params {params:,}, tokens/step {tokens}, "
        f"GFLOP/step {flops_per_step / 1e9:.1f}")
    for i in range(args.warmup):
        t0 = time.perf_counter()
        loss = step()
        log(f"warmup {i}: {time.perf_counter() - t0:.3f} s (loss {loss:.4f})")
    times, cpu = [], []
    for i in range(args.steps):
        c0, t0 = time.process_time(), time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        log(f"step {i}: {times[-1]:.3f} s, cpu {cpu[-1]:.3f} s (loss {loss:.4f})")

    mean = statistics.fmean(times)
    result = {
        "impl": "pytorch",
        "torch": torch.__version__.split("+")[0],
        "transformers": transformers.__version__,
        "threads": torch.get_num_threads(),
        "attention": f"{args.attn}, bidirectional ({'config.is_causal=False, no mask' if args.mask == 'config' else 'all-zeros 4D float mask'})",
        "config": {"hidden": H, "layers": L, "heads": args.heads, "kv_heads": args.kv_heads,
                   "intermediate": args.intermediate, "vocab": args.vocab, "batch": B, "seq": T,
                   "dtype": "autocast bfloat16" if args.bf16 else "float32", "tied_embeddings": args.tied_embeddings,
                   "gradient_checkpointing": args.gradient_checkpointing,
                   "loss": "masked diffusion" if args.masked_diffusion else "cross-entropy on every token"},
        "params": params,
        "params_non_embedding": params - params_embedding,
        "tokens_per_step": tokens,
        "flops_per_step": flops_per_step,
        "flops_formula": "6*params*tokens + 12*layers*batch*seq^2*hidden",
        "step_seconds": [round(t, 4) for t in times],
        "mean_step_seconds": round(mean, 4),
        "min_step_seconds": round(min(times), 4),
        # CPU time of this process (all threads) per step; cpu_utilization = cpu / (wall * threads).
        # Well below 1.0 means the threads were waiting (often: other processes competing for the cores).
        "step_cpu_seconds": [round(c, 4) for c in cpu],
        "cpu_utilization": round(sum(cpu) / (sum(times) * torch.get_num_threads()), 3),
        "tokens_per_s": round(tokens / mean, 2),
        "gflops": round(flops_per_step / mean / 1e9, 2),
        # 1-minute load average before the run (other processes) and after it (includes this run's threads):
        # anything much above `threads` means the timings were taken on a busy machine.
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        # Peak resident set of this process (Linux ru_maxrss is in KiB).
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
