#!/usr/bin/env bash
# Builds and runs the packed integer GEMM benchmark (bench/packed_gemm.c)
# against oneDNN fp32 sgemm and int8 matmul. Usage:
#   bench/packed_gemm.sh [build-dir] [--quick] [--reps N] [--isa avx2|... ...] [--cpu-time] [--gemm-only] [--pool]
# The build dir (default: build) is configured if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then dir=$1; shift; fi
[ -f "$dir/build.ninja" ] || meson setup "$dir" -Dbuildtype=release >/dev/null
ninja -C "$dir" tests/packed/bench_packed_gemm >/dev/null
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# ISA flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512(f|bw|vl|_vnni|_bf16)|avx_vnni|amx_(tile|int8|bf16))$' | tr '\n' ' ')"
exec "$dir/tests/packed/bench_packed_gemm" "$@"
