#!/bin/sh
# Fails when libqat exports any dynamic symbol outside the qat_ namespace,
# or when its SONAME is not libqat.so.0.
set -eu
lib="$1"
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | grep -v '^qat_' || true)
if [ -n "$bad" ]; then
    echo "symbols exported outside qat_*:"; echo "$bad"; exit 1
fi
count=$(nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | grep -c '^qat_')
[ "$count" -gt 10 ] || { echo "only $count qat_ functions exported"; exit 1; }
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = "libqat.so.0" ] || { echo "SONAME is '$soname', expected libqat.so.0"; exit 1; }
# Internal helpers share the qat_ prefix but must stay hidden.
for internal in qat_fail qat_rng_next qat_backend_open qat_gemm_desc_validate; do
    if nm -D --defined-only "$lib" | grep -qw "$internal"; then
        echo "internal symbol $internal is exported"; exit 1
    fi
done
echo "1 passed, 0 failed: $count qat_ symbols exported, SONAME $soname"
