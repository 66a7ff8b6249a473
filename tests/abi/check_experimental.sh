#!/bin/sh
# The experimental tier stays behind QAT_EXPERIMENTAL: qat/study.h refuses
# to compile without it and says how to ask for it; qat/qat.h alone does
# not declare its functions; with the macro, both headers declare them.
# usage: check_experimental.sh INCLUDE_DIR CC [CC_ARGS...]
set -u
include="$1"
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
compile() { # expected (ok|fails), name, source, extra flags...
    expected="$1"; name="$2"; printf '%s\n' "$3" >"$work/t.c"; shift 3
    if "$@" -std=c11 -Werror=implicit-function-declaration -fsyntax-only -I"$include" "$work/t.c" \
        >"$work/out" 2>&1; then got=ok; else got=fails; fi
    if [ "$got" = "$expected" ]; then passed=$((passed + 1)); else
        failed=$((failed + 1)); echo "FAIL: $name: compilation $got, expected $expected"; cat "$work/out"; fi
}
call='int main(void) { qat_pipeline_options o; return qat_pipeline_options_init(&o, QAT_PIPELINE_OPTIONS_VERSION); }'
compile fails "study.h without QAT_EXPERIMENTAL" "#include <qat/study.h>" "$@"
grep -q "define QAT_EXPERIMENTAL" "$work/out" && passed=$((passed + 1)) ||
    { failed=$((failed + 1)); echo "FAIL: the refusal does not say to define QAT_EXPERIMENTAL"; cat "$work/out"; }
compile fails "qat.h without QAT_EXPERIMENTAL hides the pipeline" "#include <qat/qat.h>
$call" "$@"
compile ok "qat.h with QAT_EXPERIMENTAL" "#define QAT_EXPERIMENTAL
#include <qat/qat.h>
$call" "$@"
compile ok "study.h with -DQAT_EXPERIMENTAL" "#include <qat/study.h>
$call" "$@" -DQAT_EXPERIMENTAL
compile ok "the stable API without the macro" "#include <qat/qat.h>
int main(void) { qat_train_options t; return qat_train_options_init(&t, QAT_TRAIN_OPTIONS_VERSION); }" "$@"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
