#!/usr/bin/env bash
# README command two: set up (apt packages), build, and run every test.
# PyTorch is never needed: the numerical fixtures it produced are committed.
set -euo pipefail
cd "$(dirname "$0")/.."
Launchers/setup.sh --test-deps
if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi
swift build --build-tests
# The real SmolLM2-135M-Instruct GGUF the import tests compare against transformers (idempotent).
.build/debug/dllm data fetch smollm2-135m-instruct
# The real all-MiniLM-L6-v2 (BERT) folder the WordPiece and BERT parity tests read (idempotent).
.build/debug/dllm data fetch all-minilm-l6-v2
# The test processes use the OpenBLAS kernels `dllm` itself selects (Sources/dllm/BLASEnvironment.swift):
# AVX-512 (SkylakeX) where the CPU has it, unless the environment already chose a core other than
# Haswell. Some machines of this kind export OPENBLAS_CORETYPE=Haswell, others leave OpenBLAS to
# detect, and its detection picks Haswell's kernels on some of these Xeons; with those, scores at
# different batch sizes differ in their last bits (LMEvalParityTests.testBatchSizeDoesNotChangeScores).
if [[ -z "${DLLM_KEEP_BLAS_CORE:-}" ]] && [[ -z "${OPENBLAS_CORETYPE:-}" || "${OPENBLAS_CORETYPE,,}" == haswell ]] \
    && grep -m1 '^flags' /proc/cpuinfo | grep -qw avx512f; then
    export OPENBLAS_CORETYPE=SKYLAKEX
fi
swift test --skip-build
# A real single-node Slurm (slurm-wlm and munge from apt when missing) running slurm/llada-pt.sbatch.
Launchers/test-slurm.sh .build/debug
# Two hosts in network namespaces: ZeRO-2 and FSDP across them through mpirun, network faults, and a two-node Slurm.
Launchers/test-multinode.sh .build/debug
