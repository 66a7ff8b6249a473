#!/usr/bin/env bash
# Crash consistency of a whole run (issue #17): a short `qat train` (DAPT then
# fine-tuning, E6W1.58A6, checkpoints every 2 steps) is broken
#   1. by a SIGKILL just before each of its renames and fsyncs, in turn
#      (kill_shim.so counts them), and once after the last;
#   2. by kill -9 at random moments, restarted until it finishes (3 runs);
#   3. by a full disk (a small tmpfs, filled by the shim) during its first
#      checkpoint and during its final save: the run fails with a clear
#      error, and finishes once space is freed;
# and every run, started again with the same command, must end with the
# same bytes as an uninterrupted one: model directories, shards,
# metrics.jsonl, results.json but for its seconds and energy; nothing left
# behind (temporaries, pending checkpoints).
# usage: crash_resume.sh QAT KILL_SHIM DEMO_DIR PYTHON
set -uo pipefail
qat="$1"; shim="$2"; demo="$3"; python="$4"
work=$(mktemp -d /tmp/qat-crash-XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

head -300 "$demo/corpus.txt" >"$work/corpus.txt"
awk 'BEGIN { RS = ""; ORS = "\n\n" } NR <= 120' "$demo/task.conll" >"$work/task.conll"
train() { # out_dir  (exec: in the background, $! is the training process itself)
    exec "$qat" train --model "$demo/model" --tokenizer "$demo/spm.model" --corpus "$work/corpus.txt" \
        --task "$work/task.conll" --quant E6W1.58A6 --alpha 0.5 --steps 8 --batch 4 --seq-len 16 --threads 1 \
        --checkpoint-every 2 --out "$1"
}

# Same bytes as the reference run; results.json without its timing.
same_as_ref() { # label, out_dir
    local label="$1" out="$2"
    if [ ! -f "$out/results.json" ]; then fail "$label: no results.json"; return; fi
    if ! diff -r -q -x results.json -x .lock "$work/ref" "$out" >"$work/diff" 2>&1; then
        fail "$label: differs from the uninterrupted run:"; cat "$work/diff"; return
    fi
    "$python" - "$work/ref/results.json" "$out/results.json" <<'PY' || fail "$label: results.json differs"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for r in (a, b):
    r.pop("seconds"); r.pop("energy")
sys.exit(a != b)
PY
    local left
    left=$(find "$out" -name '*.tmp-*' -o -name '*.pending' -o -name '*.state' | head -3)
    [ -z "$left" ] || fail "$label: left behind: $left"
}

(QAT_SHIM_TRACE="$work/trace" LD_PRELOAD="$shim" train "$work/ref") >/dev/null 2>&1 || { echo "reference run failed"; exit 1; }
calls=$(wc -l <"$work/trace")
[ "$calls" -gt 20 ] || { echo "the shim saw only $calls calls"; exit 1; }

# 1. A kill before every rename / fsync (k = calls + 1: after the last).
for k in $(seq 1 $((calls + 1))); do
    out="$work/k$k"
    (QAT_SHIM_KILL_AT=$k LD_PRELOAD="$shim" train "$out") >/dev/null 2>&1
    rc=$?
    if [ "$k" -le "$calls" ] && [ "$rc" -ne 137 ]; then fail "kill at call $k: exit $rc, not a SIGKILL"; continue; fi
    if ! (train "$out") >"$work/log" 2>&1; then fail "resume after a kill at call $k ($(sed -n "${k}p" "$work/trace")):"; tail -3 "$work/log"; continue; fi
    same_as_ref "kill at call $k ($(sed -n "${k}p" "$work/trace"))" "$out"
    rm -rf "$out"
done
echo "1. SIGKILL at each of $calls renames/fsyncs, and after the last: resumed, compared"

# 2. kill -9 at random moments until the run finishes.
for r in 1 2 3; do
    out="$work/r$r"
    kills=0
    for attempt in $(seq 1 60); do
        (train "$out") >/dev/null 2>&1 &
        pid=$!
        sleep "0.$(printf %03d $((RANDOM % 140 + 10)))" # 10..150 ms of a ~160 ms run
        if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
        wait "$pid" 2>/dev/null
        [ -f "$out/results.json" ] && break
    done
    (train "$out") >"$work/log" 2>&1 || { fail "random kills, run $r: the last start failed:"; tail -3 "$work/log"; }
    same_as_ref "random kills, run $r ($kills kills)" "$out"
    echo "2. random kill -9, run $r: $kills kills, resumed, compared"
    rm -rf "$out"
done

# 3. A full disk, on a small tmpfs (mounted in a private mount namespace).
full_disk() { # mount point
    local mnt="$1" k label
    for label in checkpoint final-save; do
        # the metrics fsync just before the first checkpoint / the final save
        if [ "$label" = checkpoint ]; then
            k=$(grep -n ' fsync .*metrics.jsonl$' "$work/trace" | head -1 | cut -d: -f1)
        else
            k=$(grep -n ' fsync .*metrics.jsonl$' "$work/trace" | tail -1 | cut -d: -f1)
        fi
        local out="$mnt/run-$label"
        if (QAT_SHIM_FILL_AT=$k QAT_SHIM_FILL_PATH="$mnt/filler" LD_PRELOAD="$shim" train "$out") >"$work/log" 2>&1; then
            fail "full disk during the $label: the run succeeded"
        elif ! grep -q "No space left on device" "$work/log"; then
            fail "full disk during the $label: unclear error:"; tail -3 "$work/log"
        fi
        [ -z "$(ls -d "$out"/model "$out"/*.tmp-* 2>/dev/null)" ] || fail "full disk during the $label: left $(ls -d "$out"/model "$out"/*.tmp-* 2>/dev/null)"
        rm -f "$mnt/filler"
        (train "$out") >/dev/null 2>&1 || fail "full disk during the $label: no resume once space was freed"
        same_as_ref "full disk during the $label" "$out"
        echo "3. full disk during the $label: '$(grep -o 'cannot[^(]*No space left on device' "$work/log" | head -1)', resumed, compared"
        rm -rf "$out"
    done
}
mnt="$work/tmpfs"
mkdir -p "$mnt"
export -f full_disk train same_as_ref fail
export qat shim demo python work mnt
if unshare --user --map-root-user --mount true 2>/dev/null; then ns=(unshare --user --map-root-user --mount)
elif unshare --mount true 2>/dev/null; then ns=(unshare --mount)
else ns=(); fi
if [ ${#ns[@]} -gt 0 ]; then
    "${ns[@]}" bash -c 'failed=0; mount -t tmpfs -o size=16m tmpfs "$mnt" || exit 77; full_disk "$mnt"; exit $((failed > 0))'
    rc=$?
    case $rc in
        0) ;;
        77) echo "SKIP (full disk): mounting a tmpfs is not permitted here" ;;
        *) failed=$((failed + 1)) ;;
    esac
else
    echo "SKIP (full disk): no mount namespace can be made here (unshare refused), so no tmpfs"
fi

[ "$failed" -eq 0 ] && echo "crash consistency: all resumed runs equal the uninterrupted one"
[ "$failed" -eq 0 ]
