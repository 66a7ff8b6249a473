#!/usr/bin/env bash
# The README's first command: installs what a fresh Debian machine lacks,
# builds libqat, makes a small model, tokenizer, corpus and tagging task
# (examples/make_demo.py), and runs the study's protocol on them: alpha in
# {0, 0.5} for FP32 and E6W1.58A6, then prints the F1 table.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${DEMO_OUT:-demo-out}
build=${DEMO_BUILD_DIR:-build}   # the tests point it elsewhere
mkdir -p "$out"

# Runs one step quietly into a log; on failure shows what failed and the log.
step() { # description, log, command...
    local what="$1" log="$2"; shift 2
    if ! "$@" >"$log" 2>&1; then
        echo "demo: FAILED: $what (command: $*)" >&2
        tail -n 40 "$log" >&2
        echo "demo: the whole log is $log" >&2
        exit 1
    fi
}

step "installing the build dependencies (.ci/deps)" "$out/deps.log" bash .ci/deps
if [ -f "$build/build.ninja" ]; then
    step "configuring the build (meson)" "$out/configure.log" meson setup --reconfigure "$build"
else
    step "configuring the build (meson)" "$out/configure.log" meson setup "$build"
fi
grep -E "meson.build:[0-9]+:[0-9]*:? ?WARNING" "$out/configure.log" >&2 || true   # ours, e.g. oneDNN not found
# Only the library, its backends and the CLI: the demo needs no test data
# (whose generators need PyTorch).
step "building libqat and the qat CLI (ninja)" "$out/build.log" ninja -C "$build" examples/qat/qat
qat="$build/examples/qat/qat"
echo "== libqat"
$qat info
echo
echo "== demo data: a 2-layer encoder, a SentencePiece tokenizer, a corpus, a POS task"
export LIBQAT_LIBRARY="$(realpath "$build")/libqat.so.0"   # the Python bindings' library
step "making the demo data (examples/make_demo.py, Debian's python3)" \
    "$out/make_demo.log" /usr/bin/python3 examples/make_demo.py "$out/data"
tail -n 5 "$out/make_demo.log"
echo
steps=${DEMO_STEPS:-300}
mkdir -p "$out/runs"
for quant in FP32 E6W1.58A6; do
    for alpha in 0 0.5; do
        log="$out/runs/$quant-alpha$alpha.log"   # progress lines; shown if the run fails
        $qat train --model "$out/data/model" --tokenizer "$out/data/spm.model" --corpus "$out/data/corpus.txt" \
            --task "$out/data/task.conll" --quant "$quant" --alpha "$alpha" --steps "$steps" --batch 16 \
            --lr 3e-3 --seq-len 32 --threads 1 --out "$out/runs/$quant-alpha$alpha" 2>"$log" || { cat "$log"; exit 1; }
    done
done
echo
echo "== test F1 (token micro F1, %) after $steps steps split between DAPT (alpha) and fine-tuning"
printf '%-12s %10s %10s\n' config "alpha=0" "alpha=0.5"
for quant in FP32 E6W1.58A6; do
    row=$(for alpha in 0 0.5; do
        /usr/bin/python3 -c 'import json,sys; print("%.1f" % (100 * json.load(open(sys.argv[1]))["test"]["f1"]))' \
            "$out/runs/$quant-alpha$alpha/results.json"
    done | xargs printf '%10s ')
    printf '%-12s %s\n' "$quant" "$row"
done
echo "(results.json and metrics.jsonl of each run are under $out/runs/)"
