#!/usr/bin/env bash
# Sequence-classification tasks (.tsv / .jsonl, docs/data.md) through `qat
# sweep` and `qat report`: a tiny generated pair task (GLUE header, string
# labels) beside the demo CoNLL task, 2 configs x alphas {0, 0.5}, B = 4, run
# under both plans (per-alpha, shared-prefix); every cell's results.json says
# "f1_metric": "accuracy" for the pair task, the progress lines say
# "accuracy" / "F1", and the reports name the metric in the caption and the
# accuracy columns' headers. A task mixing .tsv and CoNLL files is refused
# when the grid is checked. Seconds.
# usage: sweep_seqcls.sh QAT DEMO_DIR
set -euo pipefail
qat=$1
demo=$2
work=$(mktemp -d /tmp/qat-seqcls-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A pair task: 24 lines, two classes; no eval/test: seeded 70/10/20 split.
printf 'sentence1\tsentence2\tlabel\n' > "$work/pairs.tsv"
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    printf 'le patient %s\tun examen\tyes\nce traitement\tla dose %s\tno\n' "$i" "$i" >> "$work/pairs.tsv"
done
printf '{"premise": "le patient", "hypothesis": "la dose", "label": "yes"}\n{"premise": "ce patient", "hypothesis": "la dose", "label": "no"}\n' \
    > "$work/pairs.jsonl"

cat > "$work/grid.yaml" <<EOG
name: seqcls
root: runs
configs: [FP32, E6W1.58A6]
alphas: [0, 0.5]
threads: 1
models:
  - {name: demo, path: $demo/model, tokenizer: $demo/spm.model, corpus: $demo/corpus.txt}
tasks:
  - {name: pairs, train: pairs.tsv}
  - {name: pairs-j, train: pairs.tsv, eval: pairs.jsonl, test: pairs.jsonl}
  - {name: pos, train: $demo/task.conll}
training: {total_steps: 4, batch: 4, lr: 0.003, seq_len: 32}
EOG

check_plan() { # plan root
    local plan=$1 root=$2
    "$qat" sweep --grid "$work/grid.yaml" --plan "$plan" --root "$work/$root" --quiet > "$work/$root.txt" \
        2> "$work/$root.err" || fail "$plan sweep: $(cat "$work/$root.txt" "$work/$root.err")"
    grep -q '^12 run, 0 skipped' "$work/$root.txt" || fail "$plan: $(cat "$work/$root.txt")"
    [ "$(grep -c ': test accuracy ' "$work/$root.txt")" -eq 8 ] || fail "$plan progress: $(cat "$work/$root.txt")"
    [ "$(grep -c ': test F1 ' "$work/$root.txt")" -eq 4 ] || fail "$plan progress: $(cat "$work/$root.txt")"
    for task in pairs pairs-j; do
        for cell in FP32/a0-s42 FP32/a0.5-s42 E6W1.58A6/a0-s42 E6W1.58A6/a0.5-s42; do
            local r="$work/$root/demo/$task/$cell/results.json"
            [ -f "$r" ] || fail "$plan: no $r"
            python3 - "$r" "$plan" <<'EOP' || fail "$plan: $r: $(cat "$r")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["task"] == "sequence-classification", r["task"]
assert r["test"]["f1_metric"] == "accuracy" and r["test"]["f1"] == r["test"]["accuracy"], r["test"]
assert r["plan"] == sys.argv[2], r["plan"]
assert (r["dapt_steps"] > 0) == (r["alpha"] > 0), (r["alpha"], r["dapt_steps"])
EOP
        done
    done
    # a second run has nothing to do
    "$qat" sweep --grid "$work/grid.yaml" --plan "$plan" --root "$work/$root" --quiet | grep -q '^0 run, 12 skipped' \
        || fail "$plan: second run should skip every cell"
    # the report: the caption and the headers say which columns are accuracies
    "$qat" report "$work/$root" --no-plots > "$work/$root.report" 2>&1 || fail "report: $(cat "$work/$root.report")"
    local rep="$work/$root.report"
    grep -q '| Config | α | pairs / demo (accuracy) | pairs-j / demo (accuracy) | pos / demo |' "$rep" \
        || fail "$plan report header: $(cat "$rep")"
    grep -q 'Test F1 or accuracy in %: pairs: accuracy (sequence classification); pairs-j: accuracy (sequence classification); pos: token micro F1' \
        "$rep" || fail "$plan report caption: $(cat "$rep")"
    [ "$(grep -cE '^\| (FP32|E6W1\.58A6) \| (0|0\.5) \|( [^|]+ \|){3}$' "$rep")" -eq 4 ] || fail "$plan rows: $(cat "$rep")"
    grep -q "multicolumn{1}{c}{pairs (accuracy)}" "$work/$root/report/table3.tex" \
        || fail "$plan table3.tex: $(cat "$work/$root/report/table3.tex")"
}
check_plan per-alpha runs-pa
grep -q 'Plan: per-alpha DAPT' "$work/runs-pa.report" || fail "per-alpha caption"
check_plan shared-prefix runs-sp
grep -q 'Plan: shared-prefix DAPT' "$work/runs-sp.report" || fail "shared-prefix caption"
[ -f "$work/runs-sp/_dapt/demo/E6W1.58A6/s42/dapt.json" ] || fail "no shared DAPT job"
grep -q '"dapt"' "$work/runs-sp/demo/pairs/E6W1.58A6/a0.5-s42/results.json" || fail "cell does not name its DAPT job"

# a task whose files are of two kinds: refused before any cell runs
sed "s|{name: pairs-j, train: pairs.tsv, eval: pairs.jsonl, test: pairs.jsonl}|{name: pairs-j, train: pairs.tsv, eval: $demo/task.conll, test: pairs.jsonl}|" \
    "$work/grid.yaml" > "$work/mixed.yaml"
set +e
"$qat" sweep --grid "$work/mixed.yaml" --list > /dev/null 2> "$work/mixed.err"
rc=$?
set -e
[ $rc -eq 2 ] || fail "mixed task: exit status $rc"
grep -q "tasks\[1\].eval: '.*task.conll' is a CoNLL file but train '.*pairs.tsv' is a sequence-classification" \
    "$work/mixed.err" || fail "mixed task message: $(cat "$work/mixed.err")"
echo "sweep_seqcls: ok"
