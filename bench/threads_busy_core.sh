#!/usr/bin/env bash
# Steps/s of a small E6W1.58A6 fine-tuning run (`qat train`, the demo's
# 2 x 64 encoder, batch 16, seq-len 32) with --threads 1 and --threads 2,
# on an idle machine and with one shell busy-loop competing for a core
# (issue #21 item 7: 2 threads must be no slower than 1 when a core is
# taken). The four cases run side by side, interleaved, REPEAT times; the
# best and the median of each are printed. Steps/s = steps / the run's
# `seconds` in results.json (the whole run: load, training, evaluation).
# usage: bench/threads_busy_core.sh [build dir (default build)]
# env: STEPS (default 300), REPEAT (default 5)
set -euo pipefail
build=${1:-build}
qat="$PWD/$build/examples/qat/qat"
steps=${STEPS:-300}
repeat=${REPEAT:-5}
work=$(mktemp -d)
busy_pid=
cleanup() { [ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

LIBQAT_LIBRARY="$PWD/$build/libqat.so.0" /usr/bin/python3 examples/make_demo.py "$work/data" >/dev/null

one_run() { # threads out -> steps/s
    "$qat" train --model "$work/data/model" --tokenizer "$work/data/spm.model" --task "$work/data/task.conll" \
        --quant E6W1.58A6 --steps "$steps" --batch 16 --lr 3e-3 --seq-len 32 --threads "$1" --out "$2" \
        >/dev/null 2>&1
    /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('%.2f' % ($steps / d['seconds']))" \
        "$2/results.json"
    rm -rf "$2"
}

declare -A runs
for r in $(seq "$repeat"); do
    for load in idle busy; do
        if [ "$load" = busy ]; then (while :; do :; done) & busy_pid=$!; fi
        for t in 1 2; do runs[$load-$t]+="$(one_run "$t" "$work/run") "; done
        if [ "$load" = busy ]; then kill "$busy_pid"; wait "$busy_pid" 2>/dev/null || true; busy_pid=; fi
    done
done

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-) ; usable CPUs: $(nproc); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "steps/s over $repeat repeats ($steps steps each): best / median  (all runs)"
for load in idle busy; do
    for t in 1 2; do
        sorted=$(tr ' ' '\n' <<<"${runs[$load-$t]}" | grep . | sort -g)
        best=$(tail -1 <<<"$sorted"); median=$(sed -n "$(( (repeat + 1) / 2 ))p" <<<"$sorted")
        printf '%-5s --threads %d: %7s / %7s  (%s)\n' "$load" "$t" "$best" "$median" "${runs[$load-$t]% }"
    done
done
