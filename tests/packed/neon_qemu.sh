#!/bin/sh
# Cross-compiles lib/packed for aarch64 with tests/packed/neon_check.c and
# runs it under qemu-user: on a CPU with the Armv8.2 dot product and the
# int8 matrix multiply (-cpu max: the neon and i8mm paths must match the
# scalar one bit for bit, auto picking i8mm), on one with the dot product
# only (-cpu cortex-a76: i8mm refused, auto picking neon) and on one with
# neither (-cpu cortex-a53: both refused, auto falling back to scalar).
# Skips (77) without Debian's gcc-aarch64-linux-gnu or qemu-user-static.
# usage: neon_qemu.sh SOURCE_ROOT BUILD_ROOT
set -eu
src=$1
build=$2
. "$src/tests/aarch64_qemu.sh"
aarch64_cc "$work/neon_check" "$src/tests/packed/neon_check.c"
aarch64_run "$work/neon_check"
