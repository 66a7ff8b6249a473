# What the qemu-user tests of the ARM64 kernels share (sourced by
# tests/packed/neon_qemu.sh and tests/c/float_neon_qemu.sh, which set $src
# and $build, the source and build roots). Skips the test (77) without
# Debian's gcc-aarch64-linux-gnu or qemu-user-static; makes a folder $work,
# removed on exit.
#   aarch64_cc OUT ARGS...  compiles and links ARGS, lib/packed's kernels
#                           and lib/core/error.c (which both checks need)
#                           statically for aarch64 with the library's flags
#                           (as meson.build and lib/meson.build: C11, POSIX,
#                           no contraction into FMA) and include paths
#   aarch64_run PROG        runs PROG under qemu-user on a CPU with the
#                           Armv8.2 dot product and the int8 matrix multiply
#                           (-cpu max), on one with the dot product only
#                           (cortex-a76) and on one with neither (cortex-a53)
cc=aarch64-linux-gnu-gcc
qemu=qemu-aarch64-static
for tool in "$cc" "$qemu"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not installed"; exit 77; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

aarch64_cc() {
    out=$1
    shift
    p="$src/lib/packed"
    "$cc" -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -ffp-contract=off -Wall -Wextra -Werror \
        -I"$src/lib" -I"$src/include" -I"$build" -I"$build/include" "$@" "$p/matrix.c" "$p/tile_scalar.c" \
        "$p/tile_neon.c" "$p/tile_i8mm.c" "$p/pack_ternary.c" "$p/pack_bits.c" "$p/dispatch.c" "$p/onednn.c" \
        "$p/tile_amx.c" "$p/epilogue.c" "$p/gemm_lut.c" "$p/float_gemm_neon.c" "$src/lib/core/error.c" -static -lm -lpthread -o "$out"
}

aarch64_run() {
    for cpu in max cortex-a76 cortex-a53; do
        echo "== qemu-aarch64 -cpu $cpu"
        "$qemu" -cpu "$cpu" "$1"
    done
}
