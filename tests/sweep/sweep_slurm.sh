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

# --- the shared-prefix plan: a DAPT array, the cells that start from its
# snapshots submitted with --dependency=afterok:<DAPT job>, the alpha-0
# cells without one. Submitted held (SBATCH_HOLD), so the dependency can be
# read before anything runs, then released.
sed -e 's/^name: tiny$/name: shared/' -e 's/^root: runs$/root: shared-runs/' "$work/grid.yaml" > "$work/shared.yaml"
echo "plan: shared-prefix" >> "$work/shared.yaml"
SBATCH_HOLD=1 timeout 30 "$qat" sweep --grid "$work/shared.yaml" --emit-slurm "$work/shared.sbatch" --submit \
    > "$work/submit2.txt" || fail "shared submit: $(cat "$work/submit2.txt")"
dapt_job=$(sed -n 's/^Submitted batch job \([0-9]*\) (DAPT array.*/\1/p' "$work/submit2.txt")
dep_job=$(sed -n 's/^Submitted batch job \([0-9]*\) (.* cells afterok:.*/\1/p' "$work/submit2.txt")
free_job=$(sed -n 's/^Submitted batch job \([0-9]*\) (.* without DAPT.*/\1/p' "$work/submit2.txt")
[ -n "$dapt_job" ] && [ -n "$dep_job" ] && [ -n "$free_job" ] || fail "job ids: $(cat "$work/submit2.txt")"
grep -q "cells afterok:$dapt_job, array=1,3)" "$work/submit2.txt" || fail "dependent array: $(cat "$work/submit2.txt")"
grep -q "without DAPT, no dependency, array=0,2)" "$work/submit2.txt" || fail "free array: $(cat "$work/submit2.txt")"
timeout 10 scontrol show job "$dep_job" > "$work/dep.txt" || fail "scontrol show job $dep_job"
grep -q "Dependency=afterok:${dapt_job}" "$work/dep.txt" || fail "the cells do not depend on the DAPT job: $(cat "$work/dep.txt")"
timeout 10 scontrol show job "$free_job" | grep -q "Dependency=(null)" || fail "alpha-0 cells should not wait"
timeout 10 scontrol release "$dapt_job" "$dep_job" "$free_job" || fail "scontrol release"
for i in $(seq 240); do
    n=$(find "$work/shared-runs" -name results.json | wc -l)
    [ "$n" -eq 4 ] && break
    [ "$i" -eq 240 ] && fail "shared plan: only $n of 4 cells in 120 s; $(cat "$work"/shared-runs/slurm-logs/* 2> /dev/null)"
    sleep 0.5
done
for cfg in FP32 E6W1.58A6; do
    dj="$work/shared-runs/_dapt/demo/$cfg/s42/dapt.json"
    [ -f "$dj" ] || fail "no $dj"
    cell="$work/shared-runs/demo/pos/$cfg/a0.5-s42"
    grep -q '"plan":"shared-prefix"' "$cell/results.json" || grep -q '"plan": "shared-prefix"' "$cell/results.json" \
        || fail "$cfg: results.json plan"
    # the cell started after its DAPT job finished (afterok held it back)
    [ "$(stat -c %Y "$cell/cell.json")" -ge "$(stat -c %Y "$dj")" ] || fail "$cfg: the cell started before its DAPT job ended"
done
echo "sweep_slurm: ok"
