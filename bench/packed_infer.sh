#!/bin/sh
# Packed integer inference vs libqat's float fake-quant forward, BERT-base
# shape (and, for LSQ+ configs, the packed float path side by side).
# usage: [BENCH_QUANTS=Q1,Q2] bench/packed_infer.sh [BUILD_DIR] [REPS] [BATCH:SEQ ...]
set -e
build=${1:-build}
shift || true
ninja -C "$build" tests/export/bench_packed_infer >/dev/null
OMP_WAIT_POLICY=PASSIVE "$build/tests/export/bench_packed_infer" "$@"
