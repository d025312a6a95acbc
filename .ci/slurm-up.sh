#!/usr/bin/env bash
# Starts a single-node Slurm test cluster on this machine (localhost): installs Debian's slurm-wlm and munge with apt
# when they are missing, creates a munge key when there is none, writes /etc/slurm/slurm.conf for one node (this
# machine's short host name, its CPUs and memory as `slurmd -C` detects them), starts munged, slurmctld and slurmd as
# plain background daemons (no systemd), waits until `sinfo` shows the node idle, and records the daemons' process ids
# in $SLURM_LOCAL_STATE (default /run/eventprop-slurm) so .ci/slurm-down.sh stops exactly those processes.
#
# Idempotent: a daemon that is already running (by its recorded process id) is left alone; running it twice is fine.
# Must run as root (as CI does). Tried on Debian 12 (Slurm 22.05); see docs/cluster.md, "A local test cluster".
#
# Environment:
#   SLURM_UP_TIMEOUT   seconds to wait for the node to become idle (default 60)
#   SLURM_LOCAL_STATE  folder for the recorded process ids (default /run/eventprop-slurm)
#
# Exit codes: 0 the node is idle; 3 Slurm or munge is missing and could not be installed (no apt-get, or apt-get
# failed, e.g. offline); 1 anything else (not root, a foreign slurm.conf, a daemon that does not start).
set -euo pipefail

timeout_s="${SLURM_UP_TIMEOUT:-60}"
state_dir="${SLURM_LOCAL_STATE:-/run/eventprop-slurm}"
conf=/etc/slurm/slurm.conf
marker="# Written by eventprop .ci/slurm-up.sh (single-node test cluster)."

fail() { echo "slurm-up: $*" >&2; exit 1; }
# Exit code 3: the packages are missing and cannot be installed here (no apt-get, or apt-get failed), as opposed to a
# cluster that does not come up (exit 1); .ci/run skips the Slurm tests for the first and fails for the second.
cannot_install() { echo "slurm-up: $*" >&2; exit 3; }

[[ "$(id -u)" == 0 ]] || fail "must run as root (it installs packages and starts daemons); run it with root rights."

# --- 1. packages ------------------------------------------------------------------------------------------------
need_install=0
for tool in munged munge unmunge slurmctld slurmd sbatch sinfo squeue scancel scontrol; do
    command -v "$tool" > /dev/null 2>&1 || [[ -x "/usr/sbin/$tool" ]] || need_install=1
done
if (( need_install )); then
    command -v apt-get > /dev/null 2>&1 || cannot_install "Slurm or munge is missing and there is no apt-get to install them; install slurm-wlm and munge by hand."
    echo "slurm-up: installing slurm-wlm and munge with apt ..."
    t0=$(date +%s)
    # Keep the packages' init scripts from starting daemons during the install: this script starts them itself.
    created_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt_ok=1
    { apt-get update -q > /dev/null && apt-get install -y -q --no-install-recommends slurm-wlm munge > /dev/null; } || apt_ok=0
    (( created_policy )) && rm -f /usr/sbin/policy-rc.d
    (( apt_ok )) || cannot_install "apt-get could not install slurm-wlm and munge (see the apt output above)."
    echo "slurm-up: installed in $(( $(date +%s) - t0 )) s."
fi
PATH="$PATH:/usr/sbin:/sbin"
# Never overwrite a configuration this script did not write (checked before anything starts).
if [[ -e "$conf" ]] && ! grep -qxF "$marker" "$conf"; then
    fail "$conf exists and was not written by this script; move it away to let this script write a test configuration."
fi

mkdir -p "$state_dir"
start_ms=$(( $(date +%s%N) / 1000000 ))

# alive NAME PIDFILE: true when PIDFILE names a running process whose command is NAME.
alive() {
    local pid
    [[ -s "$2" ]] || return 1
    pid="$(tr -dc '0-9' < "$2")"
    [[ -n "$pid" ]] && [[ "$(cat "/proc/$pid/comm" 2> /dev/null)" == "$1" ]]
}

# --- 2. munge ---------------------------------------------------------------------------------------------------
munge_pidfile=/run/munge/munged.pid
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    echo "slurm-up: created a new munge key."
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! alive munged "$munge_pidfile"; then
    rm -f "$munge_pidfile" /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
    runuser -u munge -- /usr/sbin/munged --pid-file="$munge_pidfile"
fi
for _ in $(seq 1 50); do munge -n 2> /dev/null | unmunge > /dev/null 2>&1 && break; sleep 0.1; done
if [[ -s "$munge_pidfile" ]]; then cp "$munge_pidfile" "$state_dir/munged.pid"; fi
munge -n | unmunge > /dev/null 2>&1 || fail "munged does not answer (munge -n | unmunge fails); see /var/log/munge/munged.log, stop it with .ci/slurm-down.sh."

# --- 3. slurm.conf ----------------------------------------------------------------------------------------------
host="$(hostname -s)"
# `slurmd -C` prints this machine's node line (CPUs, sockets, cores, threads, RealMemory); use it as is, minus UpTime,
# so the configuration matches the hardware and the node is not drained for a mismatch.
node_line="$(slurmd -C | grep '^NodeName=' | sed -e 's/ UpTime=.*//')"
[[ -n "$node_line" ]] || fail "slurmd -C did not describe this machine."
node_line="NodeName=$host ${node_line#NodeName=* }"
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
new_conf="$(cat << EOF
$marker
ClusterName=local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# No cgroups, no systemd: track processes by parent id, bind nothing. (Do not add a cgroup.conf with
# CgroupPlugin=disabled: Slurm 22.05 does not know that value and slurmd refuses to start.)
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=10
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
$node_line State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
)"
conf_changed=0
if [[ ! -e "$conf" ]] || [[ "$(cat "$conf")" != "$new_conf" ]]; then
    printf '%s\n' "$new_conf" > "$conf"
    conf_changed=1
fi

# --- 4. slurmctld, slurmd ---------------------------------------------------------------------------------------
if ! alive slurmctld /run/slurmctld.pid; then
    /usr/sbin/slurmctld
elif (( conf_changed )); then
    scontrol reconfigure
fi
# slurmctld writes its pid file once it has daemonised; wait for it before slurmd registers.
for _ in $(seq 1 100); do alive slurmctld /run/slurmctld.pid && break; sleep 0.1; done
alive slurmctld /run/slurmctld.pid || fail "slurmctld did not start; see /var/log/slurm/slurmctld.log."
cp /run/slurmctld.pid "$state_dir/slurmctld.pid"
if ! alive slurmd /run/slurmd.pid; then
    /usr/sbin/slurmd
fi
for _ in $(seq 1 100); do alive slurmd /run/slurmd.pid && break; sleep 0.1; done
alive slurmd /run/slurmd.pid || fail "slurmd did not start; see /var/log/slurm/slurmd.log."
cp /run/slurmd.pid "$state_dir/slurmd.pid"

# --- 5. wait for the node -----------------------------------------------------------------------------------------
deadline=$(( $(date +%s) + timeout_s ))
resumed=0
state=""
while (( $(date +%s) < deadline )); do
    state="$(sinfo -h -n "$host" -o '%t' 2> /dev/null | head -n 1 || true)"
    case "$state" in
        idle|mix|alloc) break ;;
        drain*|down*|drng)
            # A node left down or drained by an earlier run (state is kept in StateSaveLocation): bring it back once.
            if (( ! resumed )); then scontrol update nodename="$host" state=resume 2> /dev/null || true; resumed=1; fi ;;
    esac
    sleep 0.5
done
case "$state" in
    idle|mix|alloc) ;;
    *)
        echo "slurm-up: node $host is '${state:-unknown}' after ${timeout_s} s; last log lines:" >&2
        tail -n 5 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
        fail "the node did not become idle within ${timeout_s} s (raise SLURM_UP_TIMEOUT); stop the daemons with .ci/slurm-down.sh." ;;
esac
echo "slurm-up: node $host is $state (ready $(( $(date +%s%N) / 1000000 - start_ms )) ms after the packages were present); pids in $state_dir:" \
     "munged $(cat "$state_dir/munged.pid"), slurmctld $(cat "$state_dir/slurmctld.pid"), slurmd $(cat "$state_dir/slurmd.pid")."
