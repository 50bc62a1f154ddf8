# The body every dllm sbatch template shares (sourced, after CONFIG and LAUNCH_CONFIG are set):
# start dllm-launch, forward Slurm's SIGTERM to it (preemption, or the time limit with
# --signal=B:TERM@SECONDS) so every rank checkpoints and exits, and requeue the job when
# it stopped before the end, so it resumes from that checkpoint.
#
# Knobs (environment):
#   DLLM_LAUNCH     the dllm-launch executable (default: on PATH, else .build/release/dllm-launch)
#   MAX_RESTARTS    whole-job restarts from the last checkpoint after a failure (default 1)
#   LAUNCH_ARGS     more dllm-launch flags, e.g. "--tee" or "--launcher mpirun"
#   REQUEUE_ON_STOP 1 (default) requeues a job stopped by SIGTERM before it finished
set -uo pipefail

if [[ -z "${DLLM_LAUNCH:-}" ]]; then
    DLLM_LAUNCH=$(command -v dllm-launch || echo .build/release/dllm-launch)
fi
MAX_RESTARTS=${MAX_RESTARTS:-1}
REQUEUE_ON_STOP=${REQUEUE_ON_STOP:-1}

echo "job ${SLURM_JOB_ID:-?} on ${SLURM_JOB_NODELIST:-$(hostname -s)}: ${SLURM_JOB_NUM_NODES:-1} node(s), ${SLURM_NTASKS:-?} task(s)," \
     "${SLURM_CPUS_PER_TASK:-?} cpu(s) per task; restart count ${SLURM_RESTART_COUNT:-0}"
# shellcheck disable=SC2086
"$DLLM_LAUNCH" --config "$LAUNCH_CONFIG" --max_restarts "$MAX_RESTARTS" ${LAUNCH_ARGS:-} "$CONFIG" "$@" &
launcher=$!
# --signal=B:TERM reaches only this shell: pass it on. dllm-launch asks every rank to finish
# its step and checkpoint (a second TERM would stop them at once).
trap 'echo "SIGTERM: asking dllm-launch to checkpoint and stop"; kill -TERM "$launcher" 2>/dev/null' TERM
status=0
wait "$launcher" || status=$?
while kill -0 "$launcher" 2>/dev/null; do
    wait "$launcher" && status=0 || status=$?
done

if [[ $status -eq 143 && "$REQUEUE_ON_STOP" == 1 && -n "${SLURM_JOB_ID:-}" ]]; then
    echo "stopped before the end: requeueing job $SLURM_JOB_ID (it resumes from the last checkpoint)"
    scontrol requeue "$SLURM_JOB_ID"
fi
exit "$status"
