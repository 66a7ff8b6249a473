#!/bin/sh
# Cross-compiles the cpu backend's float kernels and fused attention for
# aarch64 (its NEON twins, cpu_float_neon.c, with the scalar path and the
# ref backend they must match) with tests/c/float_neon_check.c, and runs it
# under qemu-user on three CPUs (tests/aarch64_qemu.sh): every case bit for
# bit, and QAT_ISA's mapping to the float path on each (neon unless it says
# scalar, even on the Cortex-A53, whose missing dot product turns only the
# packed kernels to scalar). Not oneDNN: cpu_backend.c (the GEMMs) is left
# out. qemu proves the bits, never the speed.
# Skips (77) without Debian's gcc-aarch64-linux-gnu or qemu-user-static.
# usage: float_neon_qemu.sh SOURCE_ROOT BUILD_ROOT
set -eu
src=$1
build=$2
. "$src/tests/aarch64_qemu.sh"
b="$src/backends"
aarch64_cc "$work/float_neon_check" -I"$b" "$src/tests/c/float_neon_check.c" \
    "$b/cpu/cpu_float.c" "$b/cpu/cpu_float_neon.c" "$b/cpu/cpu_float_kernels.c" "$b/cpu/cpu_quant_kernels.c" \
    "$b/cpu/cpu_optim_kernels.c" "$b/cpu/cpu_backward_kernels.c" "$b/cpu/cpu_attention.c" "$b/cpu/cpu_attention_bwd.c" \
    "$b/cpu/cpu_gemm_skinny.c" \
    "$b"/ref/*.c "$b"/host/*.c "$src/lib/core/thread_pool.c" "$src/lib/core/rng.c" \
    "$src"/lib/backend/*_validate.c
aarch64_run "$work/float_neon_check"
