#!/usr/bin/env python3
"""Peer side of `dllm bench ar`: autoregressive prefill and decode throughput of the same GGUF in
llama.cpp (llama-cpp-python) and Hugging Face transformers (fp32, dequantised on load).

    python3 Launchers/bench_inference_peers.py --model SmolLM2-135M-Instruct.Q4_1.gguf --threads 2
    python3 Launchers/bench_inference_peers.py --model FILE.gguf --peers llama.cpp --repeats 3

Same measurement as `dllm bench ar`: the prompt is token i = (i*7919 + 13) mod V for i < --prompt-tokens;
prefill is one evaluation of the whole prompt (timed until its last logits exist); decode is
--new-tokens - 1 greedy single-token steps on the key/value cache (the first new token comes from the
prefill's logits), timed together.  Each figure is the fastest of --repeats runs.

Output: progress on stderr, one JSON line per peer on stdout:
    {"peer": "llama.cpp", "version": ..., "prefill_tps": ..., "decode_tps": ..., "rss_mib": ...}
A peer whose package is missing prints {"peer": ..., "error": ...} instead.
"""
import argparse
import json
import os
import resource
import sys
import time


def prompt_ids(n, vocab):
    return [(i * 7919 + 13) % vocab for i in range(n)]


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_llama_cpp(args):
    import numpy as np
    import llama_cpp
    from llama_cpp import Llama

    n_ctx = args.prompt_tokens + args.new_tokens + 16
    llm = Llama(model_path=args.model, n_ctx=n_ctx, n_batch=max(512, args.prompt_tokens), n_ubatch=max(512, args.prompt_tokens),
                n_threads=args.threads, n_threads_batch=args.threads, logits_all=False, verbose=False)
    vocab = llm.n_vocab()
    prompt = prompt_ids(args.prompt_tokens, vocab)
    best_prefill = best_decode = float("inf")
    first = None
    for r in range(args.repeats):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        t1 = time.perf_counter()
        tokens = []
        for step in range(args.new_tokens):
            # Llama.eval no longer copies logits unless logits_all; read the last row from the context.
            last = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(vocab,))
            tok = int(np.argmax(last))
            tokens.append(tok)
            if step == args.new_tokens - 1:
                break
            llm.eval([tok])
        t2 = time.perf_counter()
        print(f"llama.cpp round {r + 1}: prefill {t1 - t0:.3f} s, decode {t2 - t1:.3f} s", file=sys.stderr)
        best_prefill, best_decode = min(best_prefill, t1 - t0), min(best_decode, t2 - t1)
        first = first or tokens
    return {"peer": "llama.cpp", "version": f"llama-cpp-python {llama_cpp.__version__}",
            "prefill_tps": args.prompt_tokens / best_prefill, "decode_tps": max(1, args.new_tokens - 1) / best_decode,
            "rss_mib": rss_mib(), "first_tokens": first[:8]}


def bench_transformers(args):
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(args.threads)
    folder, name = os.path.split(os.path.abspath(args.model))
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model.eval()
    vocab = model.config.vocab_size
    prompt = torch.tensor([prompt_ids(args.prompt_tokens, vocab)])
    best_prefill = best_decode = float("inf")
    first = None
    with torch.inference_mode():
        for r in range(args.repeats):
            t0 = time.perf_counter()
            out = model(prompt, use_cache=True, logits_to_keep=1)
            t1 = time.perf_counter()
            past, logits = out.past_key_values, out.logits[0, -1]
            tokens = []
            for step in range(args.new_tokens):
                tok = int(torch.argmax(logits))
                tokens.append(tok)
                if step == args.new_tokens - 1:
                    break
                out = model(torch.tensor([[tok]]), past_key_values=past, use_cache=True)
                past, logits = out.past_key_values, out.logits[0, -1]
            t2 = time.perf_counter()
            print(f"transformers round {r + 1}: prefill {t1 - t0:.3f} s, decode {t2 - t1:.3f} s", file=sys.stderr)
            best_prefill, best_decode = min(best_prefill, t1 - t0), min(best_decode, t2 - t1)
            first = first or tokens
    return {"peer": "transformers fp32", "version": f"transformers {transformers.__version__}, torch {torch.__version__}",
            "prefill_tps": args.prompt_tokens / best_prefill, "decode_tps": max(1, args.new_tokens - 1) / best_decode,
            "rss_mib": rss_mib(), "first_tokens": first[:8]}


PEERS = {"llama.cpp": bench_llama_cpp, "transformers": bench_transformers}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="the GGUF file")
    p.add_argument("--peers", default="llama.cpp,transformers", help="comma-separated: llama.cpp, transformers")
    p.add_argument("--prompt-tokens", type=int, default=512)
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=1)
    args = p.parse_args()
    for name in args.peers.split(","):
        name = name.strip()
        if name not in PEERS:
            sys.exit(f"unknown peer {name!r}; choose from {', '.join(PEERS)}")
        try:
            result = PEERS[name](args)
        except ImportError as e:
            result = {"peer": name, "error": f"not importable: {e}"}
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
