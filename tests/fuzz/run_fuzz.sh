#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser, as CI runs it (tests/run_all.sh).
# Builds the libFuzzer targets (clang, -Dfuzz=true -Dsanitize=true: the
# library itself carries the coverage instrumentation, ASan and UBSan) and
# runs each one for QAT_FUZZ_SECONDS from its committed seed corpus,
# tests/fuzz/corpus/NAME for the binary libfuzzer_NAME. Any crash, leak,
# sanitizer report, per-input timeout or memory blow-up fails the run; the
# input that did it is saved as BUILD/fuzz-artifacts/NAME-crash-... (or
# -leak-, -timeout-, -oom-) and the command to replay it is printed.
#
# What a run finds goes to a working corpus, BUILD/fuzz-corpus/NAME, that
# the next run starts from. QAT_FUZZ_MERGE=1 then folds the inputs that
# reach new edges into the committed corpus (libFuzzer -merge=1, edges only,
# not hit counts: it stays small), to be committed.
#
# Environment:
#   QAT_FUZZ_SECONDS  seconds per target (default 4; 0 skips the step)
#   QAT_FUZZ_BUILD    build directory (default build-fuzz; reused if there)
#   QAT_FUZZ_TARGETS  space-separated NAMEs (default: every target)
#   QAT_FUZZ_JOBS     targets run at once (default: nproc)
#   QAT_FUZZ_MERGE    1: merge the working corpus into tests/fuzz/corpus
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
seconds=${QAT_FUZZ_SECONDS:-4}
build=${QAT_FUZZ_BUILD:-build-fuzz}
jobs=${QAT_FUZZ_JOBS:-$(nproc)}
corpus_root=$root/tests/fuzz/corpus
started=$(date +%s)

printf '\n==== fuzz (libFuzzer + ASan/UBSan, %ss per target) ====\n' "$seconds"
if [ "$seconds" = 0 ]; then
    echo "fuzz: skipped (QAT_FUZZ_SECONDS=0)"
    exit 0
fi
if ! command -v clang >/dev/null; then
    echo "fuzz: SKIPPED: clang not found (Debian: clang; .ci/deps installs it)"
    exit 0
fi
# Debian ships libFuzzer and the sanitizer runtimes apart from clang.
asan_so=$(clang -print-file-name=libclang_rt.asan-"$(uname -m)".so)
if [ ! -f "$(clang -print-file-name=libclang_rt.fuzzer-"$(uname -m)".a)" ] || [ ! -f "$asan_so" ]; then
    echo "fuzz: SKIPPED: clang's libFuzzer/ASan runtimes not found (Debian: libclang-rt-14-dev; .ci/deps installs it)"
    exit 0
fi

# Configure once; later runs only rebuild what changed. -O1 and line
# tables only: 14% less compile time than debugoptimized.
options=(-Dbuildtype=plain -Doptimization=1 -Dc_args=-gline-tables-only -Dfuzz=true -Dsanitize=true
         -Dtests=enabled -Dcuda=disabled -Donednn=disabled -Dexamples=true)
is_fuzz_build() {
    grep -q -- '-fsanitize=fuzzer-no-link' "$build/build.ninja" && grep -q -- '-fsanitize=address' "$build/build.ninja"
}
if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" "${options[@]}" >"$build.configure.log" 2>&1 \
        || { cat "$build.configure.log"; echo "fuzz: configuring $build failed"; exit 1; }
elif ! is_fuzz_build && grep -q '^ command = clang ' "$build/build.ninja"; then # a clang build without them
    meson setup --reconfigure "$build" "${options[@]}" >"$build.configure.log" 2>&1 \
        || { cat "$build.configure.log"; echo "fuzz: reconfiguring $build failed"; exit 1; }
fi
if ! is_fuzz_build; then
    echo "fuzz: $build is not a clang -Dfuzz=true -Dsanitize=true build (remove it, or set QAT_FUZZ_BUILD)"
    exit 1
fi

# Every libfuzzer_NAME the build defines, and its seed corpus.
mapfile -t binaries < <(sed -n 's/^build \(tests\/[^ :]*\/libfuzzer_[A-Za-z0-9_]*\): .*/\1/p' "$build/build.ninja" | sort -u)
if [ ${#binaries[@]} -eq 0 ]; then
    echo "fuzz: $build defines no libfuzzer_* target"
    exit 1
fi
declare -A binary_of
for b in "${binaries[@]}"; do
    name=${b##*/libfuzzer_}
    binary_of[$name]=$b
    [ -d "$corpus_root/$name" ] || { echo "fuzz: libfuzzer_$name has no seed corpus tests/fuzz/corpus/$name"; exit 1; }
done
for d in "$corpus_root"/*/; do
    name=$(basename "$d")
    [ -n "${binary_of[$name]:-}" ] || { echo "fuzz: tests/fuzz/corpus/$name has no target libfuzzer_$name"; exit 1; }
done
names=${QAT_FUZZ_TARGETS:-${!binary_of[*]}}
wanted=()
for name in $names; do
    [ -n "${binary_of[$name]:-}" ] || { echo "fuzz: no target '$name' (have: ${!binary_of[*]})"; exit 1; }
    wanted+=("${binary_of[$name]}")
done

ninja -C "$build" -j "$jobs" "${wanted[@]}" >"$build/fuzz-build.log" 2>&1 \
    || { tail -n 40 "$build/fuzz-build.log"; echo "fuzz: building the targets failed"; exit 1; }
built=$(date +%s)
echo "fuzz: built ${#wanted[@]} targets in $((built - started)) s"

mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1
# The build links clang's shared ASan runtime (libqat.so needs it), and
# libFuzzer's C++ runtime would be loaded before it: the targets preload it.

# One target: its working corpus first (new inputs go there), the seeds second.
fuzz_one() {
    local bin=$1 name=${1##*/libfuzzer_}
    local work="$build/fuzz-corpus/$name" log="$build/fuzz-logs/$name.log"
    mkdir -p "$work"
    # Sanitizer reports go to files of their own: a target may point stderr
    # at /dev/null while the code under test runs (fuzz_documents does, for
    # the CLI's refusals), which would swallow a report written there.
    local reports="$build/fuzz-logs/$name.sanitizer"
    rm -f "$reports".*
    ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$reports" UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$reports" \
    LD_PRELOAD=$asan_so "$build/$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$name-" \
        "$work" "$corpus_root/$name" >"$log" 2>&1
    local rc=$?
    local runs cov
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n1 | awk '{print $2}')
    if [ $rc -eq 0 ]; then
        printf 'fuzz: %-22s ok    %8s runs, %5s edges, corpus %s\n' "$name" "${runs:-?}" "${cov:-?}" \
            "$(ls "$work" | wc -l) new + $(find "$corpus_root/$name" -type f | wc -l) seeds"
        return 0
    fi
    printf 'fuzz: %-22s FAIL  (exit %s)\n' "$name" "$rc"
    local report
    for report in "$reports".*; do
        [ -f "$report" ] || continue
        echo "fuzz: sanitizer report $report:"
        head -n 25 "$report" | sed 's/^/    /'
    done
    grep -E '^(==[0-9]+== ?ERROR|SUMMARY|.*runtime error:)' "$log" | head -n 5
    tail -n 30 "$log" | sed 's/^/    /'
    local art
    art=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -n1)
    # A crash while the target's stderr was elsewhere loses that line; the
    # input is still saved, the newest under this target's prefix.
    [ -n "$art" ] || art=$(ls -t "$build/fuzz-artifacts/$name-"* 2>/dev/null | head -n1)
    if [ -n "$art" ]; then
        echo "fuzz: input saved: $art"
        echo "fuzz: replay: LD_PRELOAD=$asan_so $build/$bin $art"
    fi
    return 1
}

failed=0
running=0
for bin in "${wanted[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n || failed=$((failed + 1))
        running=$((running - 1))
    fi
    fuzz_one "$bin" &
    running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=$((failed + 1))
    running=$((running - 1))
done

if [ "${QAT_FUZZ_MERGE:-0}" = 1 ]; then
    for bin in "${wanted[@]}"; do
        name=${bin##*/libfuzzer_}
        LD_PRELOAD=$asan_so "$build/$bin" -merge=1 -use_counters=0 "$corpus_root/$name" "$build/fuzz-corpus/$name" >>"$build/fuzz-logs/$name.log" 2>&1 \
            || { echo "fuzz: merging $name's corpus failed"; failed=$((failed + 1)); }
    done
    echo "fuzz: merged into tests/fuzz/corpus (git status shows what to commit)"
fi

echo "fuzz: ${#wanted[@]} targets, $failed failed, $(( $(date +%s) - started )) s in all (build $((built - started)) s)"
[ "$failed" -eq 0 ]
