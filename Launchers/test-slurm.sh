#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, then `sbatch slurm/llada-pt.sbatch`
# with a tiny model and a few steps: the job must complete with a checkpoint (and
# metrics when dllm-collector is built). Called by Launchers/run-tests.sh.
#
#   Launchers/test-slurm.sh [BUILD_DIR]     (default .build/debug, holding dllm and dllm-launch)
#
# Installs Debian's slurm-wlm and munge when missing; munged, slurmctld and slurmd run
# by hand (no systemd) with every file under a temporary folder, and are stopped by
# their pid files on exit, failure included.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
build=$(cd "${1:-.build/debug}" && pwd)
for program in dllm dllm-launch; do
    [[ -x "$build/$program" ]] || { echo "test-slurm: $build/$program missing (swift build first)" >&2; exit 1; }
done

# 1. Packages (apt-get update only when something is missing).
missing=()
for p in slurm-wlm munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "test-slurm: installing ${missing[*]}" >&2
    sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. A cluster of one node, everything under $tmp.
tmp=$(mktemp -d /tmp/dllm-slurm.XXXXXX)
chmod 755 "$tmp"
host=$(hostname -s)
cpus=$(nproc)
port=$((20000 + RANDOM % 20000))
stop_daemons() {
    for name in slurmd slurmctld munged; do
        if [[ -f "$tmp/$name.pid" ]]; then kill "$(cat "$tmp/$name.pid")" 2>/dev/null || true; fi
    done
    sleep 1
    for name in slurmd slurmctld munged; do
        if [[ -f "$tmp/$name.pid" ]]; then kill -9 "$(cat "$tmp/$name.pid")" 2>/dev/null || true; fi
    done
    [[ "${KEEP_SLURM_TMP:-0}" == 1 ]] || rm -rf "$tmp"
}
trap stop_daemons EXIT

source "$repo/Launchers/slurm-cluster.sh"
mkdir -p "$tmp/state" "$tmp/spool" "$tmp/logs" "$tmp/out"
start_munged "$tmp" "$tmp/munged.pid"
# cred_expire is also how long a requeued job waits before it may start again (default 120 s).
conf_cluster=dllmtest conf_ctld_host=$host conf_port=$port
conf_auth_info="socket=$tmp/munge/munge.socket,cred_expire=10"
conf_state=$tmp/state conf_spool=$tmp/spool conf_ctld_pid=$tmp/slurmctld.pid conf_slurmd_pid=$tmp/slurmd.pid
conf_ctld_log=$tmp/slurmctld.log conf_slurmd_log=$tmp/slurmd.log
write_slurm_conf "$tmp/slurm.conf" <<CONF
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$tmp/slurm.conf"
slurmctld -f "$SLURM_CONF" -i
slurmd -f "$SLURM_CONF"

for _ in $(seq 60); do
    state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
    [[ "$state" == idle* ]] && break
    sleep 0.5
done
[[ "$state" == idle* ]] || { echo "test-slurm: node $host is '$state', not idle"; tail -20 "$tmp/slurmctld.log" "$tmp/slurmd.log"; exit 1; }
echo "test-slurm: cluster up ($host, $cpus CPUs, srun --mpi: $(srun --mpi=list 2>&1 | tr '\n' ' '))"

# 3. The real template, a tiny fixture model and a few steps.
fixtures="$repo/Tests/DLLMDistributedTests/Fixtures"
tasks=2
start=$(date +%s)
job=$(DLLM_LAUNCH="$build/dllm-launch" sbatch --parsable --nodes=1 --ntasks-per-node=$tasks --cpus-per-task=1 --overcommit \
    --time=5 --output="$tmp/logs/%x-%j.out" slurm/llada-pt.sbatch \
    --model_name_or_path "$fixtures/model" --dataset_args "$fixtures/data" --max_length 32 --max_steps 6 \
    --per_device_train_batch_size 2 --gradient_accumulation_steps 1 --save_steps 3 --eval_strategy no --logging_steps 1 \
    --warmup_steps 1 --output_dir "$tmp/out")
echo "test-slurm: submitted job $job"
for _ in $(seq 180); do
    jobstate=$(scontrol show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
    case "$jobstate" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED) break ;; esac
    sleep 0.5
done
echo "test-slurm: job $job $jobstate after $(( $(date +%s) - start )) s"
cat "$tmp"/logs/*.out

# 4. Checks.
failures=0
passes=0
check() {
    if eval "$2"; then echo "test-slurm: ok   $1"; passes=$((passes + 1)); else echo "test-slurm: FAIL $1"; failures=$((failures + 1)); fi
}
check "the job completed" '[[ "$jobstate" == COMPLETED ]]'
check "a final checkpoint" '[[ -f "$tmp/out/checkpoint-final/trainer_state.json" && -f "$tmp/out/checkpoint-final/model.safetensors" ]]'
check "an intermediate checkpoint" '[[ -f "$tmp/out/checkpoint-3/trainer_state.json" ]]'
check "one log per rank" '[[ -f "$tmp/out/logs/rank-0.log" && -f "$tmp/out/logs/rank-$((tasks - 1)).log" ]]'
check "$tasks ranks trained" 'grep -q "over $tasks ranks" "$tmp/out/logs/rank-0.log"'

# 5. Preemption: SIGTERM to the batch shell (what --signal=B:TERM@120 sends before the time
# limit) makes every rank checkpoint; the job requeues itself and the rerun resumes.
job2=$(DLLM_LAUNCH="$build/dllm-launch" sbatch --parsable --job-name=preempted --nodes=1 --ntasks-per-node=$tasks --cpus-per-task=1 \
    --overcommit --time=5 --output="$tmp/logs/%x-%j.out" slurm/llada-pt.sbatch \
    --model_name_or_path "$fixtures/model" --dataset_args "$fixtures/data" --max_length 32 --max_steps 60 \
    --per_device_train_batch_size 2 --gradient_accumulation_steps 1 --save_strategy no --eval_strategy no --logging_steps 1 \
    --warmup_steps 1 --output_dir "$tmp/out2")
for _ in $(seq 120); do
    grep -q "step 3/" "$tmp/out2/logs/rank-0.log" 2>/dev/null && break
    sleep 0.25
done
scancel --batch --signal=TERM "$job2"
for _ in $(seq 240); do
    info=$(scontrol show job "$job2" 2>/dev/null)
    jobstate2=$(grep -o 'JobState=[A-Z_]*' <<<"$info" | cut -d= -f2)
    restarts=$(grep -o 'Restarts=[0-9]*' <<<"$info" | cut -d= -f2)
    [[ "$jobstate2" == COMPLETED || "$jobstate2" == FAILED || "$jobstate2" == CANCELLED ]] && break
    sleep 0.5
done
echo "test-slurm: job $job2 $jobstate2 after $restarts requeue(s)"
check "a preempted job checkpoints, requeues itself and completes" '[[ "$jobstate2" == COMPLETED && "${restarts:-0}" -ge 1 ]]'
check "the requeued run resumed from the checkpoint" 'grep -q "resumed from $tmp/out2/checkpoint-" "$tmp/out2/logs/rank-0.log"'
check "and wrote the final checkpoint" '[[ -f "$tmp/out2/checkpoint-final/trainer_state.json" ]]'

if [[ -x "$build/dllm-collector" ]]; then
    check "metrics from the collector" '[[ -n "$(find "$tmp/out" -name metrics.jsonl -size +0 2>/dev/null)" ]]'
fi
if ((failures)); then
    tail -30 "$tmp/slurmd.log" || true
    echo "test-slurm: $passes passed, $failures failed"
    exit 1
fi
echo "test-slurm: $passes passed, 0 failed"
