#!/usr/bin/env bash
# The plans of a sweep on the demo data (2 configs x alphas {0, 0.25, 0.5,
# auto}, B_total = 8): the shared-prefix plan runs one DAPT job per config
# (schedule round(max alpha * B) = round(0.9 * 8) = 7 with "auto"), snapshots
# at round(alpha * B), cells start from them; the per-alpha plan runs each
# cell's own DAPT. Step counts are checked against the documented formulas
# and against what the runs logged (metrics.jsonl), the printed cost line
# against the same formulas, and the emitted SLURM scripts.
# usage: sweep_plan.sh QAT DEMO_DIR
set -euo pipefail
qat=$1
demo=$2
work=$(mktemp -d /tmp/qat-plan-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
py() { python3 -c "$@"; }

B=8
cat > "$work/grid.yaml" <<EOG
name: tiny
root: runs
plan: shared-prefix
configs: [FP32, E6W1.58A6]
alphas: [0, 0.25, 0.5, auto]
threads: 1
# min_delta above any loss change: the rule fires at the 3rd evaluation
adaptive: {eval_every: 1, patience: 2, min_delta: 100, heldout: 8, alpha_max: 0.9}
models:
  - {name: demo, path: $demo/model, tokenizer: $demo/spm.model, corpus: $demo/corpus.txt}
tasks:
  - {name: pos, train: $demo/task.conll}
training: {total_steps: $B, batch: 4, lr: 0.003, seq_len: 32}
EOG

# --- the plan's cost, from docs/method.md's formulas (python's round = llround here: no .5 ties)
read -r sched shared_dapt per_dapt ft <<< "$(py "
B=$B; alphas=[0.25, 0.5]; amax=0.9; configs=2
sched=max(round(a*B) for a in alphas+[amax])
per=configs*sum(round(a*B) for a in alphas+[amax])
ft=configs*sum(B-round(a*B) for a in [0]+alphas+[amax])
print(sched, configs*sched, per, ft)")"
"$qat" sweep --grid "$work/grid.yaml" --list > "$work/list.txt"
grep -q "^# plan shared-prefix: 2 DAPT jobs x at most $sched steps = $shared_dapt DAPT steps + $ft fine-tuning steps" \
    "$work/list.txt" || fail "cost line: $(cat "$work/list.txt")"
grep -q "the per-alpha plan: $per_dapt DAPT + $ft = $((per_dapt + ft)) steps; saved $((per_dapt - shared_dapt)) steps" \
    "$work/list.txt" || fail "cost comparison: $(cat "$work/list.txt")"
grep -q $'^d1\tpending\t_dapt/demo/E6W1.58A6/s42$' "$work/list.txt" || fail "DAPT job ids: $(cat "$work/list.txt")"
[ "$(grep -c $'^[0-9]\tpending' "$work/list.txt")" -eq 8 ] || fail "8 cells: $(cat "$work/list.txt")"

# --- a cell alone before its DAPT job: refused with the job named
set +e
"$qat" sweep --grid "$work/grid.yaml" --cell demo/pos/FP32/a0.5-s42 --quiet > /dev/null 2> "$work/early.err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "a cell before its DAPT job should fail (status $rc)"
grep -q "_dapt/demo/FP32/s42 has not finished" "$work/early.err" || fail "early cell: $(cat "$work/early.err")"

# --- the shared-prefix sweep
"$qat" sweep --grid "$work/grid.yaml" --quiet > "$work/run1.txt" 2> "$work/run1.err" \
    || fail "shared sweep: $(cat "$work/run1.txt" "$work/run1.err")"
grep -q '^8 run, 0 skipped, 0 failed' "$work/run1.txt" || grep -q '^8 run, 0 skipped (done before), 0 failed' \
    "$work/run1.txt" || fail "run: $(cat "$work/run1.txt")"
for cfg in FP32 E6W1.58A6; do
    d="$work/runs/_dapt/demo/$cfg/s42"
    [ -f "$d/dapt.json" ] || fail "no dapt.json for $cfg"
    for s in 2 4 3; do  # alphas 0.25, 0.5 and the rule's step (3rd evaluation, eval_every 1)
        [ -f "$d/snapshots/step-$s/model.safetensors" ] || fail "$cfg: no snapshot at step $s"
    done
    py "
import json, sys
d = json.load(open('$d/dapt.json'))
assert d['schedule_steps'] == $sched, d
assert [s['step'] for s in d['snapshots']] == [round(0.25*$B), round(0.5*$B)], d['snapshots']
assert d['adaptive']['step'] == 3 and d['adaptive']['stopped_by_rule'], d['adaptive']
# past the rule only the last owed snapshot (step 4) keeps it going
assert d['steps_done'] == 4, d['steps_done']
n = sum(1 for l in open('$d/metrics.jsonl') if json.loads(l)['phase'] == 'dapt')
assert n == d['steps_done'], (n, d['steps_done'])
" || fail "$cfg dapt.json"
    for a in 0 0.25 0.5 auto; do
        c="$work/runs/demo/pos/$cfg/a$a-s42"
        [ ! -e "$c/dapt" ] || fail "$cfg a$a ran its own DAPT"
        py "
import json
r = json.load(open('$c/results.json'))
a = '$a'; B = $B
want = 3 if a == 'auto' else round(float(a) * B)
assert r['plan'] == 'shared-prefix', r['plan']
assert r['dapt_steps'] == want and r['finetune_steps'] == B - want, (r['dapt_steps'], r['finetune_steps'])
assert r['alpha_mode'] == ('adaptive' if a == 'auto' else 'fixed')
if a == 'auto':
    assert abs(r['alpha'] - 3 / B) < 1e-12 and r['adaptive']['chosen_steps'] == 3
if want:
    assert r['dapt']['snapshot_step'] == want and r['dapt']['schedule_steps'] == $sched
n = sum(1 for l in open('$c/metrics.jsonl') if json.loads(l)['phase'] == 'finetune')
assert n == B - want, n
for split in ('eval', 'test'):
    for k in ('f1', 'micro_f1', 'macro_f1', 'weighted_f1'):
        lo, hi = r[split][k + '_ci95']
        assert lo <= r[split][k] + 1e-12 <= hi + 2e-12, (split, k)
" || fail "$cfg a$a results.json"
    done
done
"$qat" sweep --grid "$work/grid.yaml" --quiet | grep -q '^0 run, 8 skipped' || fail "second run should skip all"

# --- the same grid, per-alpha: every cell its own DAPT; logged DAPT steps
"$qat" sweep --grid "$work/grid.yaml" --plan per-alpha --root "$work/per" --quiet > "$work/run2.txt" \
    || fail "per-alpha sweep: $(cat "$work/run2.txt")"
[ ! -d "$work/per/_dapt" ] || fail "per-alpha made DAPT jobs"
py "
import json, glob
B = $B
shared = sum(1 for f in glob.glob('$work/runs/**/metrics.jsonl', recursive=True) for l in open(f) if json.loads(l)['phase'] == 'dapt')
per = sum(1 for f in glob.glob('$work/per/**/metrics.jsonl', recursive=True) for l in open(f) if json.loads(l)['phase'] == 'dapt')
for f in glob.glob('$work/per/demo/pos/*/*/results.json'):
    r = json.load(open(f)); assert r['plan'] == 'per-alpha', f
    if r['alpha_mode'] == 'fixed': assert r['dapt_steps'] == round(r['alpha'] * B), f
    else: assert r['dapt_steps'] == 3, f  # the same rule on the same held-out split
# per-alpha: 2 configs x (2 + 4 + 3 (auto stops at 3)) = 18 logged DAPT steps; shared: 2 x 4
assert per == 2 * (round(0.25*B) + round(0.5*B) + 3), per
assert shared == 2 * 4, shared
print('logged DAPT steps: shared-prefix', shared, 'per-alpha', per)
" || fail "per-alpha step counts"

# --- the report: an "auto" row with the chosen alpha, the plan named,
# error bars in the plots and the adaptive points beside the lines
"$qat" report "$work/runs" --no-plots > "$work/report.txt" 2>&1 || fail "report: $(cat "$work/report.txt")"
chosen=$(py "print('%.2f' % (3 / $B))")
grep -qE "^\| E6W1\.58A6 \| auto \| .*\(α̂ $chosen\) \|" "$work/report.txt" || fail "auto row: $(cat "$work/report.txt")"
grep -q 'Plan: shared-prefix DAPT.' "$work/report.txt" || fail "plan note: $(cat "$work/report.txt")"
"$qat" report "$work/runs" > /dev/null 2>&1 || true
grep -q 'yerrorlines' "$work/runs/report/plots/plots.gp" || fail "no error bars in plots.gp"
grep -q "f1_adaptive_FP32.dat" "$work/runs/report/plots/plots.gp" || fail "no adaptive points in plots.gp"
py "
rows = [l.split('\t') for l in open('$work/runs/report/plots/f1_adaptive_FP32.dat') if not l.startswith('#')]
assert len(rows) == 1 and abs(float(rows[0][1]) - 3 / $B) < 1e-4, rows
lo, f1, hi = float(rows[0][3]), float(rows[0][2]), float(rows[0][4])
assert lo <= f1 <= hi, rows  # one seed: the bootstrap CI95
" || fail "adaptive points"

# --- SLURM scripts: the cells' array and the DAPT jobs' array
"$qat" sweep --grid "$work/grid.yaml" --emit-slurm "$work/sweep.sbatch" > "$work/emit.txt"
[ -f "$work/sweep-dapt.sbatch" ] || fail "no DAPT script: $(cat "$work/emit.txt")"
bash -n "$work/sweep-dapt.sbatch" || fail "DAPT script does not parse"
grep -q '^#SBATCH --array=0-1$' "$work/sweep-dapt.sbatch" || fail "DAPT array: $(cat "$work/sweep-dapt.sbatch")"
grep -q -- '--plan shared-prefix --dapt "$SLURM_ARRAY_TASK_ID"' "$work/sweep-dapt.sbatch" || fail "no --dapt"
grep -q '^#SBATCH --array=0-7$' "$work/sweep.sbatch" || fail "cells array: $(cat "$work/sweep.sbatch")"
SLURM_ARRAY_TASK_ID=1 SLURM_CPUS_PER_TASK=1 bash "$work/sweep-dapt.sbatch" | grep -q 'done already, skipped' \
    || fail "DAPT task 1 should skip its finished job"
echo "sweep_plan: ok"
