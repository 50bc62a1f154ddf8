#!/usr/bin/env bash
# Same-run A/B of OpenBLAS's idle-thread spinning (OPENBLAS_THREAD_TIMEOUT, an exponent of cycles:
# OpenBLAS's default 28 ≈ 0.1 s of sched_yield after each GEMM, dllm's default 4 ≈ sleep at once;
# Sources/dllm/BLASEnvironment.swift). Each workload runs under each value, alternating, ROUNDS times:
#   train   dllm bench train-step, reference config (hidden 512, 8 layers, vocab 32000, batch 8x512), fp32
#   bf16    the same step with bf16: true
#   eval    dllm eval, AR log-likelihood, first DOCS HellaSwag documents of a float32 SmolLM2 folder
#   prefill, decode  dllm bench ar on the SmolLM2 GGUF (quantized kernels)
#
#   Launchers/bench-blas-threads.sh HF_FOLDER GGUF [ROUNDS] [DOCS] [TIMEOUTS]
#   e.g. Launchers/bench-blas-threads.sh /tmp/smollm2-hf ~/.cache/dllm/data/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf 2 50 "28 4"
# Prints one line per run and a summary of medians per workload and value.
set -euo pipefail
cd "$(dirname "$0")/.."
hf=${1:?HF folder of SmolLM2 (dllm convert gguf)}; gguf=${2:?SmolLM2 GGUF}
rounds=${3:-2}; docs=${4:-50}; timeouts=${5:-"28 4"}
dllm=${DLLM:-.build/release/dllm}
results=$(mktemp)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
    for t in $timeouts; do
        export OPENBLAS_THREAD_TIMEOUT=$t
        v=$("$dllm" bench train-step --steps 2 --python none --json | grep tokens_per_s | python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["tokens_per_s"])')
        echo "train  timeout $t round $round: $v tokens/s" | tee -a "$results"
        v=$("$dllm" bench train-step --bf16 --steps 2 --python none --json | grep tokens_per_s | python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["tokens_per_s"])')
        echo "bf16   timeout $t round $round: $v tokens/s" | tee -a "$results"
        out=$(mktemp -d)
        s=$("$dllm" eval --model hf --model_args "pretrained=$hf" --tasks hellaswag --limit "$docs" --batch_size 8 --threads 2 \
                --output_path "$out" 2>&1 | sed -n 's/.*hellaswag: \([0-9]*\) documents in \([0-9.]*\) s.*/\1 \2/p' | tail -1)
        rm -rf "$out"
        echo "eval   timeout $t round $round: $(echo "$s" | awk '{printf "%.3f", $1 / $2}') docs/s" | tee -a "$results"
        r=$("$dllm" bench ar --model "$gguf" --mode ar --prompt-tokens 512 --new-tokens 64 --threads 2 | sed -n 's/^RESULT //p')
        echo "prefill timeout $t round $round: $(echo "$r" | python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["prefill_tps"])') tokens/s" | tee -a "$results"
        echo "decode timeout $t round $round: $(echo "$r" | python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["decode_tps"])') tokens/s" | tee -a "$results"
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median per workload and OPENBLAS_THREAD_TIMEOUT:"
python3 - "$results" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\w+)\s+timeout (\d+) round \d+: ([0-9.]+)", line)
    if m: rows.setdefault((m.group(1), m.group(2)), []).append(float(m.group(3)))
for (work, t), values in sorted(rows.items()):
    print(f"  {work:6s} {t:>2s}: {statistics.median(values):8.2f}  ({', '.join(map(str, values))})")
PY
rm -f "$results"
