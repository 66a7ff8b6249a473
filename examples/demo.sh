#!/usr/bin/env bash
# The README's first command: installs what a fresh Debian machine lacks,
# builds libqat, and runs the demo on small models it makes itself.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps
if [ -f build/build.ninja ]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
ninja -C build >/dev/null
echo "== libqat and its backends"
./build/examples/qat info
echo
echo "== the study's configs, as libqat reads them"
for q in FP32 E8W8A8 E4W4A4 E2W2A2 E6W2A6 E6W1.58A6; do ./build/examples/qat quant "$q" | head -n 1; done
./build/examples/qat quant E6W1.58A6
echo
echo "== a C training loop on the public API, float and ternary"
./build/examples/train_loop FP32 200
./build/examples/train_loop E6W1.58A6 200
