#!/bin/sh
# Installs the build into a scratch DESTDIR, then builds a downstream program
# with nothing but `pkg-config --cflags --libs libqat`, as a user would.
set -eu
build="$1"
src="$2"
extra=""
# A sanitized libqat needs its runtime in the program too.
[ "${3:-plain}" = sanitize ] && extra="-fsanitize=address,undefined"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
meson install -C "$build" --destdir "$stage" --no-rebuild --quiet >/dev/null
pc=$(find "$stage" -name libqat.pc | head -n 1)
[ -n "$pc" ] || { echo "libqat.pc not installed"; exit 1; }
so=$(find "$stage" -name 'libqat.so.0' | head -n 1)
[ -n "$so" ] || { echo "lib/libqat.so.0 not installed"; exit 1; }
[ -f "$(find "$stage" -path '*/include/qat/qat.h' | head -n 1)" ] || { echo "headers not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
prefix=$(pkg-config --variable=prefix libqat)
flags=$(pkg-config --define-variable=prefix="$stage$prefix" --cflags --libs libqat)
cc $extra -o "$stage/hello" "$src/examples/hello_version.c" $flags
out=$(LD_LIBRARY_PATH="$(dirname "$so")" "$stage/hello")
expected=$(sed -n 's/^#define QAT_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)/\2/p' "$src/include/qat/core.h" | paste -sd.)
case "$out" in
    *"$expected"*) echo "1 passed, 0 failed: downstream program printed '$out'" ;;
    *) echo "downstream program printed '$out', expected version $expected"; exit 1 ;;
esac
