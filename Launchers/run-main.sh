#!/usr/bin/env bash
# README command one: set up, build, and run the main job.
#
# Until the training loop and the launcher land, the main job is the training-step
# benchmark on the reference config (hidden 512, 8 layers, vocab 32000, batch 8×512,
# bidirectional attention, 2 threads), compared with PyTorch when torch is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
Launchers/setup.sh
exec .build/release/dllm bench train-step "$@"
