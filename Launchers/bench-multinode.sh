#!/usr/bin/env bash
# `dllm bench parallel` on the two namespace test hosts of Launchers/multinode-hosts.sh:
# DDP, ZeRO-2 and FSDP with 2 ranks on one host against 1 rank on each of two hosts
# (over the bridge, OpenMPI's TCP transport both times), printing each run's bytes sent
# per rank per step (against the theory) and the time blocked in communication.
#
#   Launchers/bench-multinode.sh [BUILD_DIR] [--link-rate RATE] [--stages LIST] [--wires LIST]
#                                [-- BENCH OPTIONS…]
#
#   BUILD_DIR      default .build/debug
#   --link-rate    cap each host's link (its eth0's egress) at RATE with a token-bucket
#                  filter (`tc qdisc … tbf rate RATE`, tc's units: 1gbit, 200mbit); only
#                  the two-host layout crosses it. Default: no cap (the bridge is a memory copy).
#   --stages       comma-separated stages of `dllm bench parallel --stage` (default ddp,zero2,fsdp)
#   --wires        comma-separated gradient wire types, DeepSpeed's communication_data_type
#                  (`--communication-data-type`: fp32, bf16; default fp32)
#   BENCH OPTIONS  default: a small model so a loaded 2-core machine finishes in minutes:
#                  --hidden 256 --layers 4 --heads 4 --intermediate 704 --vocab 8000
#                  --batch 2 --seq 128 --steps 2
#
# Needs root (network namespaces; tc for --link-rate). Both "hosts" share this machine's
# cores: the figures compare the transports and byte counts, not two real machines' compute.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
build=.build/debug
[[ $# -gt 0 && "$1" != -* ]] && { build=$1; shift; }
build=$(cd "$build" && pwd)
link_rate="" stages=ddp,zero2,fsdp wires=fp32
while [[ $# -gt 0 ]]; do
    case "$1" in
        --link-rate) link_rate=${2:?--link-rate needs a rate such as 1gbit}; shift 2 ;;
        --stages) stages=${2:?--stages needs a list such as ddp,zero2}; shift 2 ;;
        --wires) wires=${2:?--wires needs a list such as fp32,bf16}; shift 2 ;;
        --) shift; break ;;
        *) echo "bench-multinode: unknown option '$1' (see the comment at the top of $0)" >&2; exit 2 ;;
    esac
done
options=("$@")
[[ ${#options[@]} -gt 0 ]] || options=(--hidden 256 --layers 4 --heads 4 --intermediate 704 --vocab 8000 --batch 2 --seq 128 --steps 2)
IFS=, read -r -a stage_list <<< "$stages"
IFS=, read -r -a wire_list <<< "$wires"
for stage in "${stage_list[@]}"; do
    case "$stage" in ddp|zero1|zero2|fsdp) ;; *) echo "bench-multinode: --stages: unknown stage '$stage' (ddp, zero1, zero2, fsdp)" >&2; exit 2 ;; esac
done
for wire in "${wire_list[@]}"; do
    case "$wire" in fp32|bf16) ;; *) echo "bench-multinode: --wires: unknown wire type '$wire' (fp32, bf16)" >&2; exit 2 ;; esac
done
[[ -x "$build/dllm" ]] || { echo "bench-multinode: $build/dllm missing (swift build first)" >&2; exit 1; }
[[ -z "$link_rate" ]] || command -v tc >/dev/null || { echo "bench-multinode: --link-rate needs tc (apt-get install iproute2)" >&2; exit 1; }
multinode_name=bench-multinode
source "$repo/Launchers/multinode-hosts.sh"

mpi=(mpirun --allow-run-as-root --mca plm_rsh_agent "$tmp/rsh-agent" --mca btl tcp,self
     --mca oob_tcp_if_include "$subnet.0/24" --mca btl_tcp_if_include "$subnet.0/24" -x OMP_NUM_THREADS=1)
printf '%s slots=2\n' "${hosts[0]}" > "$tmp/hostfile-one"
if [[ -n "$link_rate" ]]; then
    # Each host's egress capped: a rank's bytes to the other host leave through its eth0.
    for host in "${hosts[@]}"; do
        "$tmp/on" "$host" tc qdisc add dev eth0 root tbf rate "$link_rate" burst 256kb latency 100ms
    done
    echo "bench-multinode: each host's link capped at $link_rate (tc tbf on eth0)"
fi
echo "bench-multinode: dllm bench parallel ${options[*]}"
for stage in "${stage_list[@]}"; do
    for wire in "${wire_list[@]}"; do
        for layout in one two; do
            if [[ $layout == one ]]; then where=(--hostfile "$tmp/hostfile-one" -np 2); label="1 host, 2 ranks"
            else where=(--hostfile "$tmp/hostfile" -np 2 --map-by ppr:1:node); label="2 hosts, 1 rank each"; fi
            echo "== $stage, gradients as $wire, $label"
            "$tmp/on" "${hosts[0]}" timeout 1800 "${mpi[@]}" "${where[@]}" "$build/dllm" bench parallel --stage "$stage" \
                --communication-data-type "$wire" "${options[@]}" | grep -E "^(stage|step|bytes)" | sed 's/^/   /'
        done
    done
done
