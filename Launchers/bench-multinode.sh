#!/usr/bin/env bash
# `dllm bench parallel` on the two namespace test hosts of Launchers/multinode-hosts.sh:
# DDP, ZeRO-2 and FSDP with 2 ranks on one host against 1 rank on each of two hosts
# (over the bridge, OpenMPI's TCP transport both times), printing each run's bytes sent
# per rank per step (against the theory) and the time blocked in communication.
#
#   Launchers/bench-multinode.sh [BUILD_DIR] [-- BENCH OPTIONS…]
#   (default .build/debug; default options: a small model so a loaded 2-core machine
#   finishes in minutes: --hidden 256 --layers 4 --heads 4 --intermediate 704
#   --vocab 8000 --batch 2 --seq 128 --steps 2)
#
# Needs root (network namespaces). Both "hosts" share this machine's cores: the figures
# compare the transports and byte counts, not two real machines' compute.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
build=$(cd "${1:-.build/debug}" && pwd)
shift || true
[[ "${1:-}" == "--" ]] && shift
options=("$@")
[[ ${#options[@]} -gt 0 ]] || options=(--hidden 256 --layers 4 --heads 4 --intermediate 704 --vocab 8000 --batch 2 --seq 128 --steps 2)
[[ -x "$build/dllm" ]] || { echo "bench-multinode: $build/dllm missing (swift build first)" >&2; exit 1; }
multinode_name=bench-multinode
source "$repo/Launchers/multinode-hosts.sh"

mpi=(mpirun --allow-run-as-root --mca plm_rsh_agent "$tmp/rsh-agent" --mca btl tcp,self
     --mca oob_tcp_if_include "$subnet.0/24" --mca btl_tcp_if_include "$subnet.0/24" -x OMP_NUM_THREADS=1)
printf '%s slots=2\n' "${hosts[0]}" > "$tmp/hostfile-one"
echo "bench-multinode: dllm bench parallel ${options[*]}"
for stage in ddp zero2 fsdp; do
    for layout in one two; do
        if [[ $layout == one ]]; then where=(--hostfile "$tmp/hostfile-one" -np 2); label="1 host, 2 ranks"
        else where=(--hostfile "$tmp/hostfile" -np 2 --map-by ppr:1:node); label="2 hosts, 1 rank each"; fi
        echo "== $stage, $label"
        "$tmp/on" "${hosts[0]}" timeout 1800 "${mpi[@]}" "${where[@]}" "$build/dllm" bench parallel --stage "$stage" "${options[@]}" \
            | grep -E "^(stage|step|bytes)" | sed 's/^/   /'
    done
done
