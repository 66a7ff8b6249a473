#!/bin/sh
# Every qat command parses its flags through one option table: each one's
# --help, and refusals (exit status 2, a message naming the flag) of
# unknown options, bad numbers, values out of bounds, unknown choices and
# missing required options, before anything runs. Also the --config file,
# read through the same table.
# usage: test_cli_flags.sh QAT
set -u
qat="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
refuse() { # name, expected text, command...; expects exit status 2 and the text on stderr
    name="$1"; text="$2"; shift 2
    "$@" >"$work/out" 2>"$work/err"; rc=$?
    if [ "$rc" -ne 2 ]; then failed=$((failed + 1)); echo "FAIL (exit $rc, not 2): $name"; cat "$work/out" "$work/err";
    elif grep -qF -- "$text" "$work/err"; then passed=$((passed + 1));
    else failed=$((failed + 1)); echo "FAIL (message): $name: wanted '$text'"; cat "$work/err"; fi
}

for cmd in info quant train dapt eval sweep report export infer estimate; do
    if "$qat" "$cmd" --help >"$work/help" 2>&1 && grep -q "^usage: qat $cmd" "$work/help" &&
       grep -q -- "-h, --help" "$work/help"; then passed=$((passed + 1));
    else failed=$((failed + 1)); echo "FAIL: $cmd --help"; cat "$work/help"; fi
    refuse "$cmd: an unknown option" "qat $cmd: unknown option --frobnicate" "$qat" "$cmd" --frobnicate
done

refuse "train: an unknown precision policy" "qat train: --precision: 'fp8' is not one of" \
    "$qat" train --model m --task t.conll --precision fp8
# A valid policy the backend cannot run: the context refuses it (exit 1).
"$qat" eval --model m --task t.conll --backend ref --precision bf16 >"$work/out" 2>"$work/err"; rc=$?
if [ "$rc" -eq 1 ] && grep -qF "qat eval: bad --precision: the ref backend computes in fp32 only" "$work/err"; then
    passed=$((passed + 1))
else failed=$((failed + 1)); echo "FAIL (exit $rc): eval --backend ref --precision bf16"; cat "$work/err"; fi
refuse "eval: a bad number" "qat eval: --seq-len: 'abc' is not a number" \
    "$qat" eval --model m --task t.conll --seq-len abc
refuse "eval: a missing value" "qat eval: --tokenizer needs a value" "$qat" eval --model m --task t.conll --tokenizer
refuse "eval: required" "qat eval: --model and --task are required" "$qat" eval --seq-len 8
refuse "infer: an unknown ISA" "qat infer: --isa: 'sse9' is not one of auto, scalar, avx2, avx512vnni" \
    "$qat" infer m.qatp --isa sse9
refuse "infer: an unknown pooling" "qat infer: --pooling: 'max' is not one of model, cls, mean" \
    "$qat" infer m.qatp --embed --pooling max
refuse "infer: a max length past 512" "qat infer: --max-length" "$qat" infer m.qatp --embed --max-length 513
refuse "infer: no model" "qat infer: MODEL.qatp is required" "$qat" infer --threads 1
refuse "infer: two models" "unexpected argument 'b.qatp'" "$qat" infer a.qatp b.qatp
refuse "export: an unknown task" "'ner' is not one of mlm, token-classification, sequence-classification" \
    "$qat" export --model m -o out.qatp --task ner
refuse "export: an unknown packing" "--ternary: '1.58' is not one of 2, 1.6" "$qat" export --model m -o x --ternary 1.58
refuse "estimate: a length below 1" "qat estimate: --seq: '0' is below 1" "$qat" estimate --config c.json --seq 0
refuse "sweep: too many threads" "qat sweep: --threads: '100000' is outside [0, " \
    "$qat" sweep --grid g.yaml --threads 100000
refuse "sweep: an unknown plan" "--plan: 'all' is not one of per-alpha, shared-prefix" "$qat" sweep --grid g.yaml --plan all
refuse "sweep: a carbon intensity out of range" "--carbon-intensity: '-5' is outside [0, 100000]" \
    "$qat" sweep --grid g.yaml --carbon-intensity -5
refuse "report: digits out of range" "qat report: --digits: '9' is outside [0, 6]" "$qat" report runs --digits 9
refuse "report: no directory" "qat report: RUNS_DIR is required" "$qat" report --quiet
refuse "dapt: required" "qat dapt: --corpus and --out are required" "$qat" dapt --model m --alphas 0.5
refuse "dapt: a bad alpha" "qat dapt: --alphas: '2' is not an alpha in (0, 1)" "$qat" dapt --model m --alphas 0.5,2
refuse "train: a warm-up above 1" "qat train: --warmup: '1.5' is outside [0, 1]" \
    "$qat" train --model m --task t.conll --warmup 1.5
refuse "train: a seed below 0" "qat train: --seed: '-3' is not a number (a whole number >= 0)" \
    "$qat" train --model m --task t.conll --seed -3

# --config: the keys are the flags' names with '_' for '-'
printf 'model: m\ntask: t.conll\nsteps: abc\n' >"$work/a.yaml"
refuse "config: a string for a number" "qat train: $work/a.yaml: 'steps' must be a number" "$qat" train --config "$work/a.yaml"
printf 'model: m\ntask: t.conll\nsteps: 0\n' >"$work/b.yaml"
refuse "config: a value out of bounds" "qat train: $work/b.yaml: steps: '0' is below 1" "$qat" train --config "$work/b.yaml"
printf 'model: m\ntask: t.conll\nmicro-batch: 4\n' >"$work/c.yaml"
refuse "config: a flag's spelling is not a key" "'micro-batch' is not a qat train setting" \
    "$qat" train --config "$work/c.yaml"
printf 'model: m\ntask: t.conll\nconfig: other.yaml\n' >"$work/d.yaml"
refuse "config: no --config inside a config" "'config' is not a qat train setting" "$qat" train --config "$work/d.yaml"
printf '{"model": "m", "task": "t.conll", "warmup": 2}\n' >"$work/e.json"
refuse "config: JSON, out of bounds" "$work/e.json: warmup: '2' is outside [0, 1]" "$qat" train --config "$work/e.json"
printf 'model: m\n' >"$work/f.txt"
refuse "config: an unknown format" "unknown format (name it .yaml, .yml or .json)" "$qat" train --config "$work/f.txt"
# flags beside a file are checked as without it
printf 'model: m\ntask: t.conll\nwarmup: 0.5\n' >"$work/g.yaml"
refuse "config, then a bad flag" "qat train: --batch: '0' is below 1" "$qat" train --batch 0 --config "$work/g.yaml"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
