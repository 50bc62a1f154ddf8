#!/usr/bin/env python3
"""Same-run comparison of autoregressive inference: `dllm bench ar` (quantized path, and optionally the
dequantised fp32 path), then llama.cpp and transformers through Launchers/bench_inference_peers.py, each
in its own process one after the other, on the same GGUF, prompt ids, token counts and threads.

    python3 Launchers/bench_inference.py --model /path/SmolLM2-135M-Instruct.Q4_1.gguf
    python3 Launchers/bench_inference.py --model FILE.gguf --dllm .build/release/dllm --repeats 3 --with-f32

Prints each side's JSON line and a table (prefill and decode tokens/s, resident memory).
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def result_line(cmd):
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    sys.stderr.write(proc.stdout)
    rows = []
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            rows.append(json.loads(line[len("RESULT "):]))
        elif line.startswith("{"):
            rows.append(json.loads(line))
    if proc.returncode != 0 or not rows:
        return [{"error": f"exit {proc.returncode}"}]
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--dllm", default=os.path.join(HERE, "..", ".build", "release", "dllm"))
    p.add_argument("--prompt-tokens", type=int, default=512)
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--with-f32", action="store_true", help="also time dllm with the GGUF dequantised to fp32")
    p.add_argument("--peers", default="llama.cpp,transformers")
    args = p.parse_args()
    common = ["--prompt-tokens", str(args.prompt_tokens), "--new-tokens", str(args.new_tokens),
              "--threads", str(args.threads), "--repeats", str(args.repeats)]
    table = []
    ours = result_line([args.dllm, "bench", "ar", "--model", args.model, "--mode", "ar"] + common)[0]
    table.append((f"dllm (quantized, {ours.get('kernels', '?')})", ours))
    if args.with_f32:
        table.append(("dllm (dequantised fp32)", result_line([args.dllm, "bench", "ar", "--model", args.model, "--dequantize"] + common)[0]))
    for peer in args.peers.split(","):
        row = result_line([sys.executable, os.path.join(HERE, "bench_inference_peers.py"), "--model", args.model,
                           "--peers", peer] + common)[0]
        table.append((row.get("version", peer) if "error" not in row else peer, row))
    print(f"\n{args.prompt_tokens}-token prefill, {args.new_tokens} new tokens (greedy), {args.threads} threads, "
          f"{os.cpu_count()} cores, {os.path.basename(args.model)}")
    print(f"{'implementation':44} {'prefill tok/s':>14} {'decode tok/s':>13} {'RSS MiB':>9}")
    for name, row in table:
        if "error" in row:
            print(f"{name:44} {'error: ' + row['error']}")
            continue
        print(f"{name:44} {row['prefill_tps']:14.1f} {row['decode_tps']:13.1f} {row.get('rss_mib', 0):9.0f}")


if __name__ == "__main__":
    main()
