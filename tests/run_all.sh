#!/usr/bin/env bash
# Every test of libqat: the plain build's suites, the Python bindings, the
# whole suite again under ASan+UBSan, and the C suites under valgrind.
# Usage: tests/run_all.sh            (from anywhere; builds what it needs)
set -uo pipefail
cd "$(dirname "$0")/.."
bash tests/setup_venv.sh || { echo "cannot set up the test venv"; exit 1; }
export PATH="$PWD/.venv/bin:$PATH"
jobs=$(nproc)
passed=0
failed=0

# Adds the counts of a `meson test` run (its Ok:/Fail:/Timeout: lines).
count_meson() {
    local log="$1"
    local ok fail timeout
    ok=$(awk '/^Ok:/ {print $2}' "$log" | tail -n1)
    fail=$(awk '/^Fail:/ {print $2}' "$log" | tail -n1)
    timeout=$(awk '/^Timeout:/ {print $2}' "$log" | tail -n1)
    passed=$((passed + ${ok:-0}))
    failed=$((failed + ${fail:-0} + ${timeout:-0}))
    if [ -z "$ok" ]; then failed=$((failed + 1)); fi
}

configure() { # dir, options...
    local dir="$1"; shift
    if [ -f "$dir/build.ninja" ]; then
        meson setup --reconfigure "$dir" "$@" >"$dir.configure.log" 2>&1
    else
        meson setup "$dir" "$@" >"$dir.configure.log" 2>&1
    fi || { cat "$dir.configure.log"; echo "run_all: configuring $dir failed"; return 1; }
    grep -E "meson.build:[0-9]+:[0-9]*:? ?WARNING" "$dir.configure.log" || true
}

# Each section says when it starts (seconds since the script began), so a
# slow section shows in the log: the suite's budget is 12 minutes.
section() { printf '\n==== %s (at %ds) ====\n' "$1" "$SECONDS"; }

# Where Debian's oneDNN is installed the cpu backend is required: a build that
# silently fell back to the ref backend would pass every test (issue #21.2).
onednn=auto
if dpkg-query -W -f='${Status}' libdnnl-dev 2>/dev/null | grep -q "install ok installed"; then
    onednn=enabled
fi

section "build (release)"
configure build -Dbuildtype=release -Dtests=enabled -Donednn="$onednn" || exit 1
ninja -C build -j "$jobs" >/dev/null || { ninja -C build; exit 1; }

section "meson test (release)"
meson test -C build --num-processes "$jobs" --print-errorlogs 2>&1 | tee build/run_all.log
count_meson build/run_all.log

section "python bindings (pytest)"
LIBQAT_LIBRARY="$PWD/build/libqat.so.0" QAT_BACKEND_PATH="$PWD/build/backends/cuda" \
    python3 -m pytest -q bindings/python/tests 2>&1 | tee build/pytest.log
py_passed=$(grep -Eo '[0-9]+ passed' build/pytest.log | tail -n1 | awk '{print $1}')
py_failed=$(grep -Eo '[0-9]+ (failed|error)' build/pytest.log | awk '{s += $1} END {print s + 0}')
passed=$((passed + ${py_passed:-0}))
failed=$((failed + py_failed))
[ -n "$py_passed" ] || failed=$((failed + 1))

section "build + meson test (ASan + UBSan)"
# -O1, as the sanitizers' own docs advise: the tests ran in half the time of
# -O0's (58 vs 114 s on 2 Zen 3 cores) for 23 s more compiling.
# The release build's tokenizer fixtures and model goldens (the same
# source, made by the same oracles): 27 s of generating less.
configure build-sanitize -Dbuildtype=debug -Doptimization=1 -Dsanitize=true -Dcuda=disabled -Dtests=enabled \
    -Donednn="$onednn" -Dtest_data_from="$PWD/build" || exit 1
ninja -C build-sanitize -j "$jobs" >/dev/null || { ninja -C build-sanitize; exit 1; }
# Not the SLURM run here: its 18 s are the daemons' start and scheduling,
# and the sweep code it drives runs under ASan in sweep_local.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C build-sanitize --num-processes "$jobs" --print-errorlogs --no-suite slow --no-suite slurm 2>&1 \
    | tee build-sanitize/run_all.log
count_meson build-sanitize/run_all.log

section "valgrind (C suites, leaks)"
CK_FORK=no meson test -C build --suite c --num-processes "$jobs" --print-errorlogs --no-suite slow \
    --wrap='valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --suppressions='"$PWD"'/tests/valgrind.supp' \
    --timeout-multiplier 10 2>&1 | tee build/valgrind.log
count_meson build/valgrind.log

bash tests/fuzz/run_fuzz.sh && passed=$((passed + 1)) || failed=$((failed + 1)) # libFuzzer, QAT_FUZZ_SECONDS per target
section "summary"
echo "all: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
