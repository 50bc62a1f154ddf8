#!/usr/bin/env bash
# Two test hosts on this machine, each in its own network and UTS namespace (its own
# address on a private bridge and its own host name), then real `dllm-launch --hostfile`
# jobs across them: ZeRO-2 and FSDP with one rank per host must end with the losses and
# weights of a 1-host run at the same global batch, and the collector on host 1 must hold
# events from both hosts under their own names; a pulled link, a frozen host and a killed
# rank end the job naming host 2; the collector, listening on every interface, refuses
# clients on host 2 without the launch's token on PULL, PUB and HTTP; `sbatch --nodes=2`
# runs over one slurmd per host.
# Called by Launchers/run-tests.sh.
#
#   Launchers/test-multinode.sh [BUILD_DIR]   (default .build/debug: dllm, dllm-launch, dllm-collector)
#
# Needs root (ip netns, veth, bridge). OpenMPI reaches host 2 through a small
# plm_rsh_agent that enters host 2's namespaces (nsenter) instead of ssh. Everything is
# removed on exit, failure included: the namespaces, their holder processes, the bridge
# and the temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
build=$(cd "${1:-.build/debug}" && pwd)
for program in dllm dllm-launch dllm-collector; do
    [[ -x "$build/$program" ]] || { echo "test-multinode: $build/$program missing (swift build first)" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "test-multinode: curl missing (Launchers/setup.sh --test-deps installs it)" >&2; exit 1; }
# 1. The two hosts (Launchers/multinode-hosts.sh, shared with bench-multinode.sh); the
# Slurm daemons of step 7 are stopped first when it removes them.
multinode_stop_daemons() {
    for pidfile in "$tmp"/slurmd-*.pid "$tmp/slurmctld.pid" "$tmp/munged.pid"; do
        [[ -f "$pidfile" ]] && kill "$(cat "$pidfile")" 2>/dev/null
    done
    sleep 0.5
}
multinode_name=test-multinode
source "$repo/Launchers/multinode-hosts.sh"
fixtures="$repo/Tests/DLLMDistributedTests/Fixtures"
cat > "$tmp/train.yaml" <<YAML
model_name_or_path: $fixtures/model
dataset_args: $fixtures/data
max_length: 32
learning_rate: 3.0e-3
max_steps: 6
per_device_train_batch_size: 2
gradient_accumulation_steps: 1
max_grad_norm: 0.5
weight_decay: 0.1
logging_steps: 1
save_strategy: "no"
eval_strategy: "no"
lr_scheduler_type: cosine
warmup_steps: 2
seed: 7
output_dir: $tmp/unused
YAML
export DLLM_MPIRUN_ARGS="--mca plm_rsh_agent $tmp/rsh-agent --mca btl tcp,self"
network=(--hostfile "$tmp/hostfile" --network-subnet "$subnet.0/24")
export PATH="$build:$PATH"

# A launch from host 1; `launch NAME ARGS…` writes $tmp/NAME.out.
launch() {
    local name=$1; shift
    local start=$(date +%s)
    set +e
    "$tmp/on" "${hosts[0]}" timeout 600 "$build/dllm-launch" "$@" > "$tmp/$name.out" 2>&1
    local status=$?
    set -e
    echo "test-multinode: $name exited $status after $(( $(date +%s) - start )) s"
    return $status
}

failures=0
passes=0
check() {
    if eval "$2"; then echo "test-multinode: ok   $1"; passes=$((passes + 1)); else echo "test-multinode: FAIL $1"; failures=$((failures + 1)); fi
}
# The losses of rank 0's log and the final weights of two runs, compared within the
# distributed tests' tolerance (allclose, rtol = atol = 1e-5).
same_training() {
    python3 - "$tmp/$1" "$tmp/$2" <<'PY'
import json, sys
from safetensors.numpy import load_file
import numpy as np
def losses(run):
    # rank 0's step events as the collector of the run logged them
    steps = [json.loads(l) for l in open(f"{run}/metrics.jsonl") if '"kind":"step"' in l]
    return [e["loss"] for e in sorted(steps, key=lambda e: e["step"]) if e["rank"] == 0]
a, b = sys.argv[1], sys.argv[2]
la, lb = losses(a), losses(b)
if not la or len(la) != len(lb) or not np.allclose(la, lb, rtol=1e-5, atol=1e-5):
    sys.exit(f"losses differ: {la} vs {lb}")
wa = load_file(f"{a}/checkpoint-final/model.safetensors")
wb = load_file(f"{b}/checkpoint-final/model.safetensors")
if wa.keys() != wb.keys():
    sys.exit("different tensors")
for k in wa:
    x, y = wa[k].astype(np.float32), wb[k].astype(np.float32)
    if not np.allclose(x, y, rtol=1e-5, atol=1e-5):
        sys.exit(f"{k}: max difference {np.abs(x - y).max()}")
print(f"  {len(la)} losses equal ({la[0]:.5f} … {la[-1]:.5f}), {len(wa)} tensors equal")
PY
}
# Host names in the collector's events of a run (metrics.jsonl in its run folder).
event_hosts() {
    find "$tmp/$1" -name metrics.jsonl -exec cat {} + 2>/dev/null \
        | python3 -c 'import sys, json
hosts = set()
for line in sys.stdin:
    try: hosts.add(json.loads(line).get("host"))
    except ValueError: pass
print(" ".join(sorted(h for h in hosts if h)))'
}

# 2. The 1-host reference: two ranks on host 1, the same global batch (2 ranks × 2).
launch one-host --num_processes 2 --config configs/zero2.yaml "$tmp/train.yaml" --output_dir "$tmp/one-host" || true
check "the 1-host reference run finished" '[[ -f "$tmp/one-host/checkpoint-final/model.safetensors" ]]'

# 3. ZeRO-2 and FSDP over both hosts, one rank each.
for strategy in zero2 fsdp; do
    launch "$strategy-2hosts" "${network[@]}" --num_processes 2 \
        --config "configs/$strategy.yaml" "$tmp/train.yaml" --output_dir "$tmp/$strategy-2hosts" || true
    check "$strategy: 2 hosts finished" '[[ -f "$tmp/$strategy-2hosts/checkpoint-final/model.safetensors" ]]'
    check "$strategy: a rank ran on each host" 'grep -q "${hosts[1]}" "$tmp/$strategy-2hosts/logs"/rank-1.* && grep -q "${hosts[0]}" "$tmp/$strategy-2hosts/logs"/rank-0.*'
    check "$strategy: losses and weights equal the 1-host run" 'same_training one-host "$strategy-2hosts"'
    seen=$(event_hosts "$strategy-2hosts")
    echo "  collector events from: $seen"
    check "$strategy: the collector on ${hosts[0]} got events from both hosts" '[[ "$seen" == *"${hosts[0]}"* && "$seen" == *"${hosts[1]}"* ]]'
done

# 4. Host 2's cable pulled mid-run: the job must end within the hang bound, name host 2, and
# the same command must resume from the last checkpoint once the link is back.
hang_timeout=10
hang_run=(--num_processes 2 --hang-timeout $hang_timeout --config configs/zero2.yaml "$tmp/train.yaml" --output_dir "$tmp/partition"
          --max_steps 14 --save_strategy steps --save_steps 3)
launch partition "${network[@]}" "${hang_run[@]}" &
launcher=$!
for _ in $(seq 600); do
    grep -q "step 7/" "$tmp/partition/logs/rank-0.log" 2>/dev/null && break
    sleep 0.1
done
ip link set "vmn2-$tag" down
down=$(date +%s.%N)
wait $launcher || true
ended=$(python3 -c "import time; print(round(time.time() - $down, 1))")
echo "test-multinode: the partitioned job ended ${ended} s after the link went down"
check "a partition ends the job within the bound (+5 s to stop)" '[[ -f "$tmp/partition.out" ]] && python3 -c "import sys; sys.exit(0 if $ended <= $hang_timeout + 5 else 1)"'
check "it did not finish" '! grep -q "done: training finished" "$tmp/partition.out"'
check "the message names ${hosts[1]}, rank 1 and its last step" 'grep -q "host ${hosts[1]} unreachable.*rank 1 (last step [0-9]" "$tmp/partition.out"'
grep -E "hang|rank [01] on|lost|last step" "$tmp/partition.out" | sed 's/^/  | /' || true
# The host comes back (its leftover processes gone, as after a reboot), and the same command resumes.
ip netns pids "mn2-$tag" | grep -vx "$(cat "$tmp/holder-2.pid")" | xargs -r kill -9 2>/dev/null || true
ip link set "vmn2-$tag" up
# The link is back once plain OpenMPI reaches host 2 again (right after `up`, OpenMPI's daemon
# there could not always call back: "ORTE was unable to reliably start one or more daemons").
for attempt in $(seq 30); do
    names=$(mpirun_hostnames 20 2>/dev/null) || true
    [[ "$names" == "${hosts[0]} ${hosts[1]} " ]] && break
    sleep 1
done
echo "test-multinode: host ${hosts[1]} reachable again after $attempt attempt(s)"
launch partition-resumed "${network[@]}" "${hang_run[@]}" || true
check "the same command resumes from the last checkpoint" 'grep -q "resuming from $tmp/partition/checkpoint-" "$tmp/partition-resumed.out"'
check "and finishes" '[[ -f "$tmp/partition/checkpoint-final/model.safetensors" ]]'

# 5. A frozen host (its rank stopped: the kernel still answers TCP, so only the telemetry
# watch can tell): the job ends within the bound, naming rank 1 on host 2 and only it (its
# heartbeats stopped; rank 0's go on while it waits in a collective).
launch frozen "${network[@]}" "${hang_run[@]/partition/frozen}" &
launcher=$!
for _ in $(seq 600); do
    grep -q "step 4/" "$tmp/frozen/logs/rank-0.log" 2>/dev/null && break
    sleep 0.1
done
# The rank's pid as its agent recorded it (host 2 shares this machine's pid namespace).
frozen_pids=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["pid"] if r["host"] == sys.argv[2] else "")' \
    "$tmp/frozen/logs/rank-1.pid" "${hosts[1]}" 2>/dev/null || true)
[[ -n "$frozen_pids" ]] || { echo "test-multinode: no rank found on ${hosts[1]}"; exit 1; }
kill -STOP $frozen_pids
down=$(date +%s.%N)
wait $launcher || true
ended=$(python3 -c "import time; print(round(time.time() - $down, 1))")
kill -KILL $frozen_pids 2>/dev/null || true
echo "test-multinode: the frozen-host job ended ${ended} s after host 2's rank froze"
check "a frozen host ends the job within the bound (+1 s polling, +4 s to stop, +5 s for a loaded machine)" 'python3 -c "import sys; sys.exit(0 if $ended <= $hang_timeout + 10 else 1)"'
check "the hang message names rank 1 on ${hosts[1]} and its last step" 'grep -q "rank 1 on ${hosts[1]}: last step [0-9]*, silent for" "$tmp/frozen.out"'
check "and only rank 1 (rank 0 waits for it in a collective, heartbeating)" 'grep -q "hang: 1 of 2 rank(s)" "$tmp/frozen.out" && ! grep -q "rank 0 on .*silent for" "$tmp/frozen.out"'
check "and it did not finish" '! grep -q "done: training finished" "$tmp/frozen.out"'
grep -E "hang|silent|ending the job" "$tmp/frozen.out" | sed 's/^/  | /' || true

# 6. kill -9 of the rank on host 2: the same guarantees as on one host (the job ends, the
# report names the rank, its host and the signal).
launch killed "${network[@]}" "${hang_run[@]/partition/killed}" &
launcher=$!
for _ in $(seq 600); do
    grep -q "step 3/" "$tmp/killed/logs/rank-0.log" 2>/dev/null && break
    sleep 0.1
done
killed_pid=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["pid"])' "$tmp/killed/logs/rank-1.pid" 2>/dev/null || true)
[[ -n "$killed_pid" ]] || { echo "test-multinode: no rank 1 record"; exit 1; }
kill -KILL "$killed_pid"
wait $launcher || true
check "a rank killed on ${hosts[1]} ends the job, named with its host and signal" 'grep -q "rank 1 on ${hosts[1]}.*signal 9" "$tmp/killed.out"'
grep -E "the job failed" "$tmp/killed.out" | sed 's/^/  | /' || true

# 7. The collector of a multi-machine launch listens on every interface: the launcher
# gives it and the ranks a fresh token (in their environment, never on a command line or
# in a file of the run), and clients on host 2 without it are refused on all three
# sides: PULL (their events are counted as unauthorized and stored nowhere), PUB (a
# subscriber gets nothing) and HTTP (401). With the token, each side works.
launch token "${network[@]}" --num_processes 2 --config configs/zero2.yaml "$tmp/train.yaml" --output_dir "$tmp/token" \
    --max_steps 100000 &
launcher=$!
for _ in $(seq 600); do
    grep -q "step 2/" "$tmp/token/logs/rank-0.log" 2>/dev/null && break
    sleep 0.1
done
# The collector's ready line: {"http":"http://0.0.0.0:P","pub":"tcp://0.0.0.0:P","pull":"tcp://0.0.0.0:P","token":"required"}.
ready=$(python3 - "$tmp/token/logs/collector.log" <<'PY' || true
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{") and '"pull"' in line:
        r = json.loads(line)
        port = lambda e: e.rsplit(":", 1)[1]
        hosts = {e.split("//")[1].rsplit(":", 1)[0] for e in (r["pull"], r["pub"], r["http"])}
        print(port(r["pull"]), port(r["pub"]), port(r["http"]), ",".join(sorted(hosts)), r.get("token", "none"))
        break
PY
)
read -r pull_port pub_port http_port bound required <<< "$ready"
echo "  collector: pull ${pull_port:-?}, pub ${pub_port:-?}, http ${http_port:-?}, bound to ${bound:-?}, token ${required:-?}"
check "token: the collector bound every interface and requires a token" '[[ "$bound" == 0.0.0.0 && "$required" == required ]]'
# This job's processes: the launcher's collector runs on host 1; the pid records name the ranks.
collector_pid=0
for pid in $(ip netns pids "mn1-$tag"); do
    [[ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" == "$(readlink -f "$build/dllm-collector")" ]] \
        && [[ "$(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline")" == *" run "* ]] && collector_pid=$pid
done
environment_token() { { tr '\0' '\n' < "/proc/$1/environ"; } 2>/dev/null | sed -n 's/^DLLM_COLLECTOR_TOKEN=//p' || true; }
token=$(environment_token "$collector_pid")
rank1_pid=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["pid"] if r["host"] == sys.argv[2] else "")' \
    "$tmp/token/logs/rank-1.pid" "${hosts[1]}" 2>/dev/null || true)
check "token: the launcher made one (${#token} characters) and gave it to the collector" '[[ ${#token} -ge 32 ]]'
check "token: rank 1 on ${hosts[1]} got the same one" '[[ -n "$token" && -n "$rank1_pid" && "$(environment_token "$rank1_pid")" == "$token" ]]'
# Searched for by a program that reads the token from its environment (a grep for it would find itself).
token_in_no_command_line() {
    TOKEN=$token python3 -c 'import glob, os, sys
t = os.environ["TOKEN"].encode()
hits = []
for f in glob.glob("/proc/[0-9]*/cmdline"):
    try: data = open(f, "rb").read()
    except OSError: continue
    if t in data: hits.append(f + ": " + data.replace(b"\0", b" ").decode(errors="replace")[:160])
if hits: sys.exit("\n".join(hits))'
}
check "token: on no process's command line (the launcher, mpirun, its daemons, the ranks, the collector)" 'token_in_no_command_line'
# Header files for curl (-H @FILE), readable by root only, so the token stays off curl's command line too.
saved_umask=$(umask); umask 077
printf 'Authorization: Bearer %s\n' "$token" > "$tmp/auth-header"
printf 'Authorization: Bearer wrong%s\n' "$token" > "$tmp/wrong-header"
umask "$saved_umask"
collector_ip=$subnet.1
# HTTP from host 2: `http_status HEADERFILE|- PATH` prints the status code (the body goes to $tmp/http-body).
http_status() {
    local header=()
    [[ $1 != - ]] && header=(-H "@$1")
    "$tmp/on" "${hosts[1]}" curl -s -o "$tmp/http-body" -w '%{http_code}' --max-time 5 "${header[@]}" "http://$collector_ip:$http_port$2" || true
}
for path in / /metrics /api/status /api/series; do
    code=$(http_status - "$path"); check "token: HTTP $path from ${hosts[1]} without the token: 401 (got $code)" '[[ "$code" == 401 ]]'
done
code=$(http_status "$tmp/wrong-header" /metrics); check "token: HTTP /metrics with a wrong token: 401 (got $code)" '[[ "$code" == 401 ]]'
code=$(http_status "$tmp/auth-header" /metrics)
check "token: HTTP /metrics with the token (Bearer): 200 and the run's metrics (got $code)" '[[ "$code" == 200 ]] && grep -q "^dllm_run_tokens_per_second" "$tmp/http-body"'
code=$(http_status - "/?token=$token")
check "token: the dashboard with ?token=: 200 (got $code)" '[[ "$code" == 200 ]] && grep -qi "<html" "$tmp/http-body"'
# The collector's own count of unauthorized messages and its runs, read with the token.
collector_status() {
    "$tmp/on" "${hosts[0]}" curl -s --max-time 5 -H "@$tmp/auth-header" "http://$collector_ip:$http_port/api/status" \
        | python3 -c 'import json, sys; s = json.load(sys.stdin); print(s["rejected"].get("unauthorized", 0), " ".join(sorted(r["run"] for r in s["runs"])))' 2>/dev/null || true
}
# Events of a run in the job's metrics.jsonl (the launcher's collector writes every run there).
# (A line still being written is skipped.)
stored_events() {
    python3 - "$tmp/token/metrics.jsonl" "$1" <<'PY' 2>/dev/null || echo 0
import json, sys
count = 0
for line in open(sys.argv[1]):
    try: count += json.loads(line).get("run") == sys.argv[2]
    except ValueError: pass
print(count)
PY
}
read -r unauthorized_before runs_before <<< "$(collector_status)"
# PULL from host 2 with the project's own publisher, as a rank sends: start, 3 steps, a warning, exit.
# `publish RUN`; its send statistics (JSON) go to $tmp/publish-RUN.
publish() {
    "$tmp/on" "${hosts[1]}" timeout 30 "$build/dllm-collector" publish-synthetic --address "tcp://$collector_ip:$pull_port" \
        --run "$1" --steps 3 --interval 0.05 --linger-ms 3000 --output-dir "$tmp/token" > "$tmp/publish-$1" 2>&1 || true
}
(unset DLLM_COLLECTOR_TOKEN; publish intruder)
(export DLLM_COLLECTOR_TOKEN=wrong; publish intruder-wrong)
(export DLLM_COLLECTOR_TOKEN=$token; publish friend)
for run in intruder intruder-wrong friend; do echo "  publisher $run: $(head -c 300 "$tmp/publish-$run")"; done
# The collector appends in the order it receives: once the friend's events (sent last) are
# in metrics.jsonl, any stored intruder's would be there before them.
for _ in $(seq 100); do
    (( $(stored_events friend) >= 6 )) && break
    sleep 0.1
done
read -r unauthorized_after runs_after <<< "$(collector_status)"
echo "  unauthorized: ${unauthorized_before:-?} before, ${unauthorized_after:-?} after; runs: ${runs_after:-?}; stored events: intruder $(stored_events intruder), intruder-wrong $(stored_events intruder-wrong), friend $(stored_events friend)"
check "token: PULL from ${hosts[1]} without the token or with a wrong one: its 12 messages refused as unauthorized" \
    '[[ -n "$unauthorized_after" ]] && (( unauthorized_after - unauthorized_before >= 12 ))'
check "token: and stored nowhere (no such run on the collector, no line in metrics.jsonl)" \
    '[[ -n "$runs_after" && " $runs_after " != *" intruder"* ]] && (( $(stored_events intruder) + $(stored_events intruder-wrong) == 0 ))'
check "token: PULL with the token: its 6 events stored" '[[ " $runs_after " == *" friend "* ]] && (( $(stored_events friend) >= 6 ))'
# PUB from host 2 with the project's own live tail, for 4 s of a run that publishes every step.
subscribe() {
    "$tmp/on" "${hosts[1]}" timeout 8 "$build/dllm-collector" tail --json --address "tcp://$collector_ip:$pub_port" --timeout 4 2>/dev/null || true
}
(unset DLLM_COLLECTOR_TOKEN; subscribe) > "$tmp/sub-none"
(export DLLM_COLLECTOR_TOKEN=wrong; subscribe) > "$tmp/sub-wrong"
(export DLLM_COLLECTOR_TOKEN=$token; subscribe) > "$tmp/sub-token"
echo "  subscribers got $(wc -l < "$tmp/sub-none") event(s) without the token, $(wc -l < "$tmp/sub-wrong") with a wrong one, $(wc -l < "$tmp/sub-token") with it"
check "token: PUB without the token or with a wrong one: nothing" '[[ ! -s "$tmp/sub-none" && ! -s "$tmp/sub-wrong" ]]'
check "token: PUB with the token: the run's step events" 'grep -q "\"kind\":\"step\"" "$tmp/sub-token"'
# The end: SIGTERM to the launcher (the collector's parent).
launcher_pid=$(ps -o ppid= -p "$collector_pid" 2>/dev/null | tr -d ' ' || true)
[[ -n "$launcher_pid" && "$launcher_pid" != 1 ]] && kill -TERM "$launcher_pid"
token_status=0
wait $launcher || token_status=$?
check "token: the job stops on SIGTERM (status $token_status) with the run's summary" \
    '(( token_status == 143 )) && python3 -c "import json, sys; s = json.load(open(sys.argv[1])); sys.exit(0 if s[\"world_size\"] == 2 and s[\"run\"] != \"friend\" else 1)" "$tmp/token/summary.json"'
check "token: in no file of the run (logs, collector.log, metrics.jsonl, summary.json), the launcher's output, or what subscribers got" \
    '! grep -rqF -f <(printf "%s\n" "$token") "$tmp/token" "$tmp/token.out" "$tmp/sub-token"'
rm -f "$tmp/auth-header" "$tmp/wrong-header"

# 8. Slurm across the hosts: munged on this machine (its socket is a file, reachable from
# every namespace), slurmctld and one slurmd on host 1, one slurmd on host 2, each with
# its own NodeName/NodeAddr, spool and pid file; then `sbatch --nodes=2` of the real template.
if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    sl=$tmp/slurm
    source "$repo/Launchers/slurm-cluster.sh"
    mkdir -p "$sl/state" "$sl/logs" "$sl/spool-${hosts[0]}" "$sl/spool-${hosts[1]}"
    start_munged "$sl" "$tmp/munged.pid"
    conf_cluster=dllmmulti conf_ctld_host="${hosts[0]}($subnet.1)" conf_port=$((20000 + RANDOM % 20000))
    conf_auth_info="socket=$sl/munge/munge.socket"
    conf_state=$sl/state conf_spool=$sl/spool-%n conf_ctld_pid=$tmp/slurmctld.pid conf_slurmd_pid=$tmp/slurmd-%n.pid
    conf_ctld_log=$sl/slurmctld.log conf_slurmd_log=$sl/slurmd-%n.log
    write_slurm_conf "$sl/slurm.conf" <<CONF
TmpFS=$sl/nodetmp
NodeName=${hosts[0]} NodeAddr=$subnet.1 CPUs=$(nproc) State=UNKNOWN
NodeName=${hosts[1]} NodeAddr=$subnet.2 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=${hosts[0]},${hosts[1]} Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF="$sl/slurm.conf"
    "$tmp/on" "${hosts[0]}" slurmctld -f "$SLURM_CONF" -i
    # Both slurmd share this machine's /tmp, where the PMIx plugin makes per-step folders with
    # the same names on every node: each slurmd gets its own TmpFS, bind-mounted in a private
    # mount namespace over one path (real nodes have their own disks).
    mkdir -p "$sl/nodetmp" "$sl/tmp-${hosts[0]}" "$sl/tmp-${hosts[1]}"
    for host in "${hosts[@]}"; do
        "$tmp/on" "$host" unshare --mount --propagation private -- \
            sh -c "mount --bind '$sl/tmp-$host' '$sl/nodetmp' && exec slurmd -f '$SLURM_CONF' -N '$host'"
    done
    for _ in $(seq 60); do
        states=$("$tmp/on" "${hosts[0]}" sinfo -h -N -o "%N=%T" 2>/dev/null | tr '\n' ' ')
        [[ "$states" == *"${hosts[0]}=idle"* && "$states" == *"${hosts[1]}=idle"* ]] && break
        sleep 0.5
    done
    echo "test-multinode: slurm nodes: $states"
    job=$("$tmp/on" "${hosts[0]}" env DLLM_LAUNCH="$build/dllm-launch" LAUNCH_ARGS="--network-subnet $subnet.0/24" \
        sbatch --parsable --nodes=2 --ntasks-per-node=1 --cpus-per-task=1 --overcommit --time=5 \
        --output="$sl/logs/%x-%j.out" slurm/llada-pt.sbatch \
        --model_name_or_path "$fixtures/model" --dataset_args "$fixtures/data" --max_length 32 --max_steps 4 \
        --per_device_train_batch_size 2 --gradient_accumulation_steps 1 --save_strategy no --eval_strategy no --logging_steps 1 \
        --warmup_steps 1 --output_dir "$tmp/slurm-out" || true)
    for _ in $(seq 240); do
        jobstate=$("$tmp/on" "${hosts[0]}" scontrol show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
        case "$jobstate" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) break ;; esac
        sleep 0.5
    done
    echo "test-multinode: slurm job ${job:-?} ${jobstate:-not submitted}"
    check "slurm: sbatch --nodes=2 of slurm/llada-pt.sbatch completed" '[[ "$jobstate" == COMPLETED ]]'
    check "slurm: a rank on each node" 'grep -q "${hosts[0]}" "$tmp/slurm-out/logs/rank-0.pid" && grep -q "${hosts[1]}" "$tmp/slurm-out/logs/rank-1.pid"'
    if [[ "$jobstate" != COMPLETED ]]; then cat "$sl"/logs/*.out 2>/dev/null | tail -30; tail -n 15 "$sl"/slurmd-*.log "$sl/slurmctld.log"; fi
else
    check "slurm-wlm and munge installed (Launchers/test-slurm.sh installs them)" false
fi

if ((failures)); then
    for f in "$tmp"/*.out; do echo "----- $f"; tail -40 "$f"; done
    echo "test-multinode: $passes passed, $failures failed"
    exit 1
fi
echo "test-multinode: $passes passed, 0 failed"
