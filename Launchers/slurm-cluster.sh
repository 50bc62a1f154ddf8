# Sourced by Launchers/test-slurm.sh and Launchers/test-multinode.sh: the pieces of a throwaway
# Slurm cluster both start by hand (no systemd), every file under one folder.

# start_munged DIR PID_FILE: a fresh random key in DIR/munge and munged on DIR/munge/munge.socket.
start_munged() {
    local dir=$1 pid_file=$2
    mkdir -p "$dir/munge"
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 700 "$dir/munge"; chmod 400 "$dir/munge/munge.key"
    munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
        --pid-file="$pid_file" --log-file="$dir/munged.log" --seed-file="$dir/munge/munge.seed"
}

# write_slurm_conf FILE: the settings both clusters share, from these variables:
#   conf_cluster, conf_ctld_host, conf_port (slurmd takes port + 1), conf_auth_info,
#   conf_state, conf_spool, conf_ctld_pid, conf_slurmd_pid, conf_ctld_log, conf_slurmd_log;
# then the caller's own lines (TmpFS, NodeName, PartitionName …) from standard input.
write_slurm_conf() {
    {
        cat <<CONF
ClusterName=$conf_cluster
SlurmctldHost=$conf_ctld_host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$conf_port
SlurmdPort=$((conf_port + 1))
AuthType=auth/munge
AuthInfo=$conf_auth_info
CredType=cred/munge
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$conf_state
SlurmdSpoolDir=$conf_spool
SlurmctldPidFile=$conf_ctld_pid
SlurmdPidFile=$conf_slurmd_pid
SlurmctldLogFile=$conf_ctld_log
SlurmdLogFile=$conf_slurmd_log
ReturnToService=2
MinJobAge=600
KillWait=10
CONF
        cat
    } > "$1"
}
