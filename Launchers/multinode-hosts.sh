# Sourced by Launchers/test-multinode.sh and Launchers/bench-multinode.sh (not run on
# its own): two test hosts on this machine, each a network namespace plus a UTS namespace
# with its own host name (dllm-mn1 at 10.77.0.1, dllm-mn2 at 10.77.0.2) on a private
# bridge; `$tmp/on HOST CMD…` runs a command on a host, `$tmp/rsh-agent` is OpenMPI's
# plm_rsh_agent (nsenter instead of ssh), `$tmp/hostfile` names both hosts with one slot.
# Checks plain `mpirun hostname` across both. An EXIT trap removes everything (the
# namespaces, their holder processes, the bridge, $tmp unless KEEP_MULTINODE_TMP=1),
# after calling `multinode_stop_daemons` if the caller defined it.
#
# Needs root and: ip nsenter unshare mpirun python3. Sets: tag subnet bridge hosts tmp.
# Messages start with $multinode_name (default: multinode).
multinode_name=${multinode_name:-multinode}
[[ $(id -u) -eq 0 ]] || { echo "$multinode_name: needs root (network namespaces)" >&2; exit 1; }
for tool in ip nsenter unshare mpirun python3; do
    command -v "$tool" >/dev/null || { echo "$multinode_name: $tool missing" >&2; exit 1; }
done

# The hosts: namespace mnN (net, from ip netns) + a holder process that owns a UTS
# namespace named dllm-mnN; veth pairs to the bridge; 10.77.0.N/24.
tag=$$
subnet=10.77.0
bridge=dllmbr$tag
hosts=(dllm-mn1 dllm-mn2)
tmp=$(mktemp -d /tmp/dllm-multinode.XXXXXX)
chmod 755 "$tmp"
cleanup() {
    set +e
    # The caller's own daemons first (the test's Slurm), when it defines this hook.
    declare -F multinode_stop_daemons >/dev/null && multinode_stop_daemons
    for i in 1 2; do
        [[ -f "$tmp/holder-$i.pid" ]] && kill "$(cat "$tmp/holder-$i.pid")" 2>/dev/null
        ip netns pids "mn$i-$tag" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "mn$i-$tag" 2>/dev/null
        ip link del "vmn$i-$tag" 2>/dev/null
    done
    ip link del "$bridge" 2>/dev/null
    [[ "${KEEP_MULTINODE_TMP:-0}" == 1 ]] || rm -rf "$tmp"
}
trap cleanup EXIT
# A signal ends the script through `exit`, so the EXIT trap above still removes the hosts.
trap 'exit 130' INT
trap 'exit 143' TERM

ip link add "$bridge" type bridge
ip addr add "$subnet.254/24" dev "$bridge"
ip link set "$bridge" up
for i in 1 2; do
    ns="mn$i-$tag"
    ip netns add "$ns"
    ip link add "vmn$i-$tag" type veth peer name eth0 netns "$ns"
    ip link set "vmn$i-$tag" master "$bridge" up
    ip -n "$ns" addr add "$subnet.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    # The holder keeps a UTS namespace with the host's name alive; its pid is the handle.
    ip netns exec "$ns" unshare --uts -- sh -c "hostname ${hosts[$((i - 1))]}; exec sleep 100000" &
    echo $! > "$tmp/holder-$i.pid"
done
sleep 0.5
# `on HOST CMD…`: runs CMD inside the host's network and UTS namespaces.
cat > "$tmp/on" <<SH
#!/bin/sh
case "\$1" in
$(for i in 1 2; do echo "    ${hosts[$((i - 1))]}|$subnet.$i) pid=\$(cat $tmp/holder-$i.pid) ;;"; done)
    *) echo "on: unknown test host '\$1'" >&2; exit 255 ;;
esac
shift
exec nsenter -t "\$pid" --net --uts -- "\$@"
SH
# OpenMPI's plm_rsh_agent: called like ssh (`AGENT [options] HOST COMMAND…`), the command
# being one shell string for the remote side.
cat > "$tmp/rsh-agent" <<SH
#!/bin/sh
while [ \$# -gt 0 ]; do case "\$1" in -*) shift ;; *) break ;; esac; done
host=\$1; shift
exec $tmp/on "\$host" /bin/sh -c "\$*"
SH
chmod +x "$tmp/on" "$tmp/rsh-agent"
for i in 1 2; do
    name=$("$tmp/on" "${hosts[$((i - 1))]}" hostname)
    [[ "$name" == "${hosts[$((i - 1))]}" ]] || { echo "$multinode_name: host $i calls itself '$name'"; exit 1; }
done
echo "$multinode_name: hosts up: ${hosts[0]} ($subnet.1), ${hosts[1]} ($subnet.2) on bridge $bridge"
printf '%s slots=1\n' "${hosts[@]}" > "$tmp/hostfile"
# Plain OpenMPI, one process per host, each printing its host name: the names, sorted, space-separated.
mpirun_hostnames() {
    "$tmp/on" "${hosts[0]}" timeout "$1" mpirun --allow-run-as-root --hostfile "$tmp/hostfile" -np 2 --map-by ppr:1:node \
        --mca plm_rsh_agent "$tmp/rsh-agent" --mca oob_tcp_if_include "$subnet.0/24" hostname | sort | tr '\n' ' '
}
names=$(mpirun_hostnames 60)
[[ "$names" == "${hosts[0]} ${hosts[1]} " ]] || { echo "$multinode_name: mpirun across the hosts printed '$names'"; exit 1; }
echo "$multinode_name: mpirun reaches both hosts ($names)"
