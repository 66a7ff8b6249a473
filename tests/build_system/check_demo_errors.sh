#!/usr/bin/env bash
# examples/demo.sh must say which step failed and show its output, instead of
# exiting 1 in silence (issue #21 item 1). A `ninja` on PATH that fails makes
# the build step fail; the demo runs in scratch directories.
# Usage: check_demo_errors.sh SOURCE_ROOT
set -euo pipefail
src="$1"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/bin"
real_ninja=$(command -v ninja)
cat >"$scratch/bin/ninja" <<SHIM
#!/bin/sh
# meson asks for the version while configuring: answer as the real one does.
[ "\$1" = --version ] && exec "$real_ninja" --version
echo "ninja: error: the compiler fell over (injected)"
exit 1
SHIM
chmod +x "$scratch/bin/ninja"
status=0
PATH="$scratch/bin:$PATH" DEMO_OUT="$scratch/out" DEMO_BUILD_DIR="$scratch/build" \
    bash "$src/examples/demo.sh" >"$scratch/stdout" 2>"$scratch/stderr" || status=$?
fail() { echo "FAIL: $*" >&2; echo "--- stderr:" >&2; cat "$scratch/stderr" >&2; exit 1; }
[ "$status" -ne 0 ] || fail "demo.sh succeeded although ninja failed"
grep -q "FAILED: building libqat" "$scratch/stderr" || fail "demo.sh does not say which step failed"
grep -q "the compiler fell over (injected)" "$scratch/stderr" || fail "demo.sh hides the failing step's output"
echo "ok: demo.sh names the failed step and shows its log"
