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
cc=aarch64-linux-gnu-gcc
qemu=qemu-aarch64-static
for tool in "$cc" "$qemu"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not installed"; exit 77; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
p="$src/lib/packed"
"$cc" -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$src/lib" -I"$src/include" -I"$build" -I"$build/include" \
    "$src/tests/packed/neon_check.c" "$p/matrix.c" "$p/tile_scalar.c" "$p/tile_neon.c" "$p/tile_i8mm.c" "$p/pack_ternary.c" \
    "$p/pack_bits.c" "$p/dispatch.c" "$p/onednn.c" "$p/tile_amx.c" "$p/epilogue.c" "$src/lib/core/error.c" -static -o "$work/neon_check"
"$qemu" -cpu max "$work/neon_check"
"$qemu" -cpu cortex-a76 "$work/neon_check"
"$qemu" -cpu cortex-a53 "$work/neon_check"
