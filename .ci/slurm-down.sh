#!/usr/bin/env bash
# Stops the single-node Slurm test cluster that .ci/slurm-up.sh started: cancels the jobs still queued or running on
# it, then stops slurmd, slurmctld and munged by the process ids slurm-up.sh recorded in $SLURM_LOCAL_STATE (default
# /run/eventprop-slurm) — never by process name. A recorded id whose process is gone, or now belongs to another
# program, is skipped. Safe to run when nothing is running. Packages, slurm.conf and the munge key stay.
set -euo pipefail

state_dir="${SLURM_LOCAL_STATE:-/run/eventprop-slurm}"
PATH="$PATH:/usr/sbin:/sbin"

# pid_of NAME: the recorded process id of daemon NAME when that process is still NAME; empty otherwise.
pid_of() {
    local file="$state_dir/$1.pid" pid
    [[ -s "$file" ]] || return 0
    pid="$(tr -dc '0-9' < "$file")"
    if [[ -n "$pid" ]] && [[ "$(cat "/proc/$pid/comm" 2> /dev/null)" == "$1" ]]; then echo "$pid"; fi
}

# Cancel this cluster's jobs first so no job step outlives slurmd, and wait (bounded) until they are gone.
if [[ -n "$(pid_of slurmctld)" ]] && command -v squeue > /dev/null 2>&1; then
    jobs="$(squeue -h -o '%A' 2> /dev/null || true)"
    if [[ -n "$jobs" ]]; then
        # shellcheck disable=SC2086
        scancel $jobs 2> /dev/null || true
        for _ in $(seq 1 30); do [[ -z "$(squeue -h -o '%A' 2> /dev/null || true)" ]] && break; sleep 0.5; done
    fi
fi

for daemon in slurmd slurmctld munged; do
    pid="$(pid_of "$daemon")"
    if [[ -z "$pid" ]]; then
        rm -f "$state_dir/$daemon.pid"
        continue
    fi
    kill -TERM "$pid" 2> /dev/null || true
    for _ in $(seq 1 100); do [[ -d "/proc/$pid" ]] || break; sleep 0.1; done
    if [[ -d "/proc/$pid" ]]; then
        echo "slurm-down: $daemon ($pid) did not stop within 10 s; killing it." >&2
        kill -KILL "$pid" 2> /dev/null || true
    fi
    rm -f "$state_dir/$daemon.pid"
    echo "slurm-down: stopped $daemon ($pid)."
done
