#!/usr/bin/env bash
# A user's first build must not need PyTorch, and must never use the python3
# first on PATH (issue #21 item 1). Configures the source tree in a scratch
# directory with a PATH whose python3 only records that it ran, and with an
# oracle interpreter that cannot import torch; then asks ninja what the demo's
# build (examples/qat/qat) would run. A few seconds: nothing is compiled.
# Usage: check_first_build.sh SOURCE_ROOT
set -euo pipefail
src="$1"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/bin"
cat >"$scratch/bin/python3" <<SHIM
#!/bin/sh
echo "\$0 \$*" >>"$scratch/path-python3-ran"
exit 1
SHIM
chmod +x "$scratch/bin/python3"
printf '#!/bin/sh\nexit 1\n' >"$scratch/no-torch-python3"   # cannot import anything
chmod +x "$scratch/no-torch-python3"
export PATH="$scratch/bin:$PATH"
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. An interpreter without torch: the tests are left out with a warning,
#    and the library and CLI still configure.
meson setup "$scratch/b1" "$src" -Dcuda=disabled -Dpython="$scratch/no-torch-python3" >"$scratch/b1.log" 2>&1 \
    || { cat "$scratch/b1.log"; fail "configure failed without a torch-capable python"; }
grep -q "WARNING: test suites left out" "$scratch/b1.log" || { cat "$scratch/b1.log"; fail "no warning that the tests were left out"; }
if ninja -C "$scratch/b1" -n examples/qat/qat | grep -q "Generating tests/"; then
    fail "the CLI's build runs test-data generators"
fi

# 2. -Dtests=enabled with that interpreter is a clear configure error.
if meson setup "$scratch/b2" "$src" -Dcuda=disabled -Dtests=enabled -Dpython="$scratch/no-torch-python3" \
        >"$scratch/b2.log" 2>&1; then
    fail "-Dtests=enabled accepted an interpreter without torch"
fi
grep -q "cannot import torch" "$scratch/b2.log" || { cat "$scratch/b2.log"; fail "unclear error for a python without torch"; }

# 3. Default interpreter choice: never the python3 on PATH.
if [ -f "$scratch/path-python3-ran" ]; then
    echo "the PATH's python3 ran:" >&2; cat "$scratch/path-python3-ran" >&2
    fail "the build used the python3 first on PATH"
fi
echo "ok: first build needs no torch and never runs PATH's python3"
