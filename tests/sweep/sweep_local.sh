#!/usr/bin/env bash
# A tiny real sweep on the demo data (2 configs x 2 alphas, 6 steps, 1
# thread): every cell runs, a second invocation skips them all, a removed
# results.json is redone alone, `qat report` makes the tables (and plots
# where gnuplot exists), and --emit-slurm writes a valid array script.
# usage: sweep_local.sh QAT DEMO_DIR
set -euo pipefail
qat=$1
demo=$2
work=$(mktemp -d /tmp/qat-sweep-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat > "$work/grid.yaml" <<EOF
name: tiny
root: runs
configs: [FP32, E6W1.58A6]
alphas: [0, 0.5]
threads: 1
models:
  - name: demo
    path: $demo/model
    tokenizer: $demo/spm.model
    corpus: $demo/corpus.txt
tasks:
  - name: pos
    train: $demo/task.conll
training: {total_steps: 6, batch: 4, lr: 0.003, seq_len: 32}
EOF

# --list before anything ran
"$qat" sweep --grid "$work/grid.yaml" --list > "$work/list.txt"
[ "$(grep -c pending "$work/list.txt")" -eq 4 ] || fail "expected 4 pending cells: $(cat "$work/list.txt")"
grep -q $'^3\tpending\tdemo/pos/E6W1.58A6/a0.5-s42$' "$work/list.txt" || fail "cell 3 id: $(cat "$work/list.txt")"

# first run: all four cells
"$qat" sweep --grid "$work/grid.yaml" --quiet > "$work/run1.txt"
grep -q '^4 run, 0 skipped' "$work/run1.txt" || fail "first run: $(cat "$work/run1.txt")"
for d in FP32/a0-s42 FP32/a0.5-s42 E6W1.58A6/a0-s42 E6W1.58A6/a0.5-s42; do
    [ -f "$work/runs/demo/pos/$d/results.json" ] || fail "no results.json in $d"
    [ -f "$work/runs/demo/pos/$d/cell.json" ] || fail "no cell.json in $d"
done

# second run: nothing to do
"$qat" sweep --grid "$work/grid.yaml" --quiet > "$work/run2.txt"
grep -q '^0 run, 4 skipped' "$work/run2.txt" || fail "second run: $(cat "$work/run2.txt")"

# one cell lost its results: only it runs again, also when chosen by id
rm "$work/runs/demo/pos/FP32/a0.5-s42/results.json"
"$qat" sweep --grid "$work/grid.yaml" --list | grep -q $'^1\tstarted\t' || fail "cell 1 should show as started"
"$qat" sweep --grid "$work/grid.yaml" --cell demo/pos/FP32/a0.5-s42 --quiet > "$work/run3.txt"
grep -q '^1 run, 0 skipped' "$work/run3.txt" || fail "--cell by id: $(cat "$work/run3.txt")"
"$qat" sweep --grid "$work/grid.yaml" --cell 1 --quiet | grep -q '^0 run, 1 skipped' || fail "--cell 1 should skip"

# the report
"$qat" report "$work/runs" > "$work/report.txt" 2> "$work/report.err"
grep -q '| Config | α | pos / demo |' "$work/report.txt" || fail "report header: $(cat "$work/report.txt")"
[ "$(grep -cE '^\| (FP32|E6W1\.58A6) \| (0|0\.5) \|' "$work/report.txt")" -eq 4 ] || fail "report rows: $(cat "$work/report.txt")"
grep -q 'token micro F1' "$work/report.txt" || fail "report does not say which F1"
grep -q '| E6W1.58A6 |' "$work/runs/report/table1.md" || fail "Table I: $(cat "$work/runs/report/table1.md")"
[ -f "$work/runs/report/table3.tex" ] || fail "no table3.tex"
[ -f "$work/runs/report/plots/plots.gp" ] || fail "no plots.gp"
if command -v gnuplot > /dev/null; then
    for ext in svg png; do
        [ -s "$work/runs/report/plots/f1_vs_alpha_E6W1.58A6.$ext" ] || fail "no $ext plot: $(cat "$work/report.err")"
    done
else
    grep -q 'gnuplot not found' "$work/report.err" || fail "should say gnuplot is missing"
fi

# the SLURM script: valid bash, one array task per cell
"$qat" sweep --grid "$work/grid.yaml" --emit-slurm "$work/sweep.sbatch" > /dev/null
bash -n "$work/sweep.sbatch" || fail "emitted script does not parse"
grep -q '^#SBATCH --array=0-3$' "$work/sweep.sbatch" || fail "array range: $(cat "$work/sweep.sbatch")"
grep -q -- '--cell "$SLURM_ARRAY_TASK_ID"' "$work/sweep.sbatch" || fail "no --cell in the script"
[ -d "$work/runs/slurm-logs" ] || fail "no log directory for the array"
# run task 2 of it the way SLURM would (it is done: it must skip)
SLURM_ARRAY_TASK_ID=2 SLURM_CPUS_PER_TASK=1 bash "$work/sweep.sbatch" | grep -q '^0 run, 1 skipped' \
    || fail "array task 2 should skip its finished cell"

# bad grids: exit status 2 and the key in the message
sed 's/alphas: \[0, 0.5\]/alphas: [0, 1.5]/' "$work/grid.yaml" > "$work/bad.yaml"
set +e
"$qat" sweep --grid "$work/bad.yaml" --list 2> "$work/bad.err"
rc=$?
set -e
[ $rc -eq 2 ] || fail "bad grid exit status $rc"
grep -q 'alphas\[1\]: 1.5 is outside \[0, 1)' "$work/bad.err" || fail "bad grid message: $(cat "$work/bad.err")"
echo "sweep_local: ok"
