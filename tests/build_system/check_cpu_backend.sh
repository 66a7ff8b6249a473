#!/usr/bin/env bash
# Where oneDNN's header is installed, the build must have the cpu backend:
# dropping it silently (Debian's DNNL CMake config fails without OpenCL's
# headers) leaves users on the slow ref backend (issue #21 item 2).
# Usage: check_cpu_backend.sh QAT_CLI
set -euo pipefail
qat="$1"
info=$("$qat" info)
if [ ! -f /usr/include/oneapi/dnnl/dnnl.h ]; then
    echo "SKIP: oneDNN is not installed here (no /usr/include/oneapi/dnnl/dnnl.h)"
    exit 77
fi
if ! grep -Eq '(^|[^a-z])cpu([^a-z]|$)' <<<"$info"; then
    echo "FAIL: oneDNN is installed but the build has no cpu backend; qat info says:" >&2
    echo "$info" >&2
    exit 1
fi
echo "ok: the cpu backend is built ($(grep -E 'cpu' <<<"$info" | head -n1))"
