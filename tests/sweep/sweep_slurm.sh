#!/usr/bin/env bash
# `qat sweep --emit-slurm --submit` against a real single-node SLURM: this
# script starts munged, slurmctld and slurmd (as root, on private ports,
# with all state in a temporary directory), submits the tiny demo grid as
# an array, waits (bounded) for every cell's results.json, reports, and
# stops the daemons it started, by their pids.
# Exit 77 (skipped) where SLURM or munge is not installed or we are not
# root. .ci/deps installs slurm-wlm and munge.
# usage: sweep_slurm.sh QAT DEMO_DIR
set -euo pipefail
qat=$1
demo=$2
for tool in sbatch squeue slurmctld slurmd munged; do
    command -v "$tool" > /dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: starting slurmd needs root"; exit 77; }

work=$(mktemp -d /tmp/qat-slurm-XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2> /dev/null || true
    done
    if [ -f "$work/munged.pid" ]; then
        mpid=$(cat "$work/munged.pid")
        kill "$mpid" 2> /dev/null || true
        for _ in $(seq 50); do kill -0 "$mpid" 2> /dev/null || break; sleep 0.1; done
    fi
    # a daemon may still be flushing its log: retry once, never fail here
    rm -rf "$work" 2> /dev/null || { sleep 1; rm -rf "$work" || true; }
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    for log in slurmctld.log slurmd.log munged.log; do
        [ -f "$work/$log" ] && { echo "== $log" >&2; tail -20 "$work/$log" >&2; }
    done
    exit 1
}

host=$(hostname -s)
# Ports derived from our pid: two runs side by side do not collide.
port=$((20000 + ($$ % 20000)))
mkdir -p "$work/state" "$work/spool"
head -c 1024 /dev/urandom > "$work/munge.key"
chmod 600 "$work/munge.key"
cat > "$work/slurm.conf" <<EOF
ClusterName=qattest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$work/munge.sock
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=qat Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$work/slurm.conf

timeout 20 munged --force --socket="$work/munge.sock" --key-file="$work/munge.key" \
    --pid-file="$work/munged.pid" --log-file="$work/munged.log" --seed-file="$work/munge.seed" \
    || fail "munged did not start"
slurmctld -D -f "$work/slurm.conf" > "$work/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$work/slurm.conf" > "$work/slurmd.out" 2>&1 &
pids+=($!)

# Bounded wait for the node to come up idle.
for i in $(seq 60); do
    state=$(timeout 5 sinfo -h -N -o '%t' 2> /dev/null | head -1 || true)
    [ "$state" = idle ] && break
    [ "$i" -eq 60 ] && fail "the node never became idle (state '$state')"
    sleep 0.5
done

cat > "$work/grid.yaml" <<EOF
name: tiny
root: runs
configs: [FP32, E6W1.58A6]
alphas: [0, 0.5]
threads: 1
slurm: {cpus_per_task: 1, time: '00:05:00'}
models:
  - {name: demo, path: $demo/model, tokenizer: $demo/spm.model, corpus: $demo/corpus.txt}
tasks:
  - {name: pos, train: $demo/task.conll}
training: {total_steps: 6, batch: 4, lr: 0.003, seq_len: 32}
EOF

timeout 30 "$qat" sweep --grid "$work/grid.yaml" --emit-slurm "$work/sweep.sbatch" --submit > "$work/submit.txt" \
    || fail "submit: $(cat "$work/submit.txt")"
grep -q 'Submitted batch job' "$work/submit.txt" || fail "no job id: $(cat "$work/submit.txt")"

# Bounded wait for the four cells (each takes well under a second).
for i in $(seq 240); do
    n=$(find "$work/runs" -name results.json | wc -l)
    [ "$n" -eq 4 ] && break
    [ "$i" -eq 240 ] && fail "only $n of 4 cells finished in 120 s; logs: $(cat "$work"/runs/slurm-logs/* 2> /dev/null)"
    sleep 0.5
done
# Every array task ran a distinct cell and said so in its log.
[ "$(cat "$work"/runs/slurm-logs/*.out | grep -c ': test F1')" -eq 4 ] \
    || fail "task logs: $(cat "$work"/runs/slurm-logs/*.out)"
"$qat" report "$work/runs" --no-plots > "$work/report.txt" || fail "report failed"
[ "$(grep -cE '^\| (FP32|E6W1\.58A6) \| (0|0\.5) \|' "$work/report.txt")" -eq 4 ] || fail "$(cat "$work/report.txt")"
echo "sweep_slurm: ok"
