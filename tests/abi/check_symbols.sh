#!/bin/sh
# The exported symbols are exactly the QAT_API declarations of the public
# headers, name by name, each in its version node: the experimental tier's
# (qat/study.h) in LIBQAT_EXPERIMENTAL_<n>, every other header's in
# LIBQAT_0; lib/libqat.map lists the same names in the same nodes, without
# wildcards; the Python bindings declare only functions the headers
# declare, and the experimental ones only in libqat/study.py; the SONAME
# is libqat.so.0.
# usage: check_symbols.sh LIBQAT_SO INCLUDE_DIR LIBQAT_MAP PYTHON_PACKAGE_DIR
set -eu
lib="$1"
include="$2"
map="$3"
pydir="$4"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
check() { # name, then a file that must be empty (its lines say what is wrong)
    if [ -s "$2" ]; then failed=$((failed + 1)); echo "FAIL: $1:"; sed 's/^/  /' "$2";
    else passed=$((passed + 1)); fi
}
# The experimental node's number changes with the tier: compare its family.
family() { sed -E 's/ LIBQAT_EXPERIMENTAL_[0-9]+$/ LIBQAT_EXPERIMENTAL/'; }

# "name node" of every QAT_API function declared in the public headers.
for h in "$include"/qat/*.h; do
    node=LIBQAT_0
    [ "$(basename "$h")" = study.h ] && node=LIBQAT_EXPERIMENTAL
    tr '\n' ' ' <"$h" | grep -o 'QAT_API[^;(]*(' |
        sed -nE "s/.*[^A-Za-z0-9_](qat_[A-Za-z0-9_]+)[[:space:]]*\\(\$/\\1 $node/p"
done | sort >"$work/declared"
[ "$(wc -l <"$work/declared")" -gt 10 ] || { echo "FAIL: only $(wc -l <"$work/declared") declarations found"; exit 1; }

# "name node" of every symbol the library defines and exports.
readelf --dyn-syms -W "$lib" |
    awk '($5 == "GLOBAL" || $5 == "WEAK") && $7 != "UND" && $7 != "ABS" && NF >= 8 {print $8}' |
    sed -E 's/@@?/ /' | awk '{print $1, (NF > 1 ? $2 : "(no version)")}' | family | sort >"$work/exported"

# "name node" of every name the version script makes global (wildcards
# kept, to be reported).
perl -0pe 's{/\*.*?\*/}{}gs' "$map" | tr '\n' ' ' | sed -e 's/[{}]/\n&\n/g; s/;/\n/g' |
    awk '
        { gsub(/^[[:space:]]+|[[:space:]]+$/, "") }
        $0 == "{" { inside = 1; node = prev; scope = ""; next }
        $0 == "}" { inside = 0; next }
        !inside { if ($0 != "") prev = $0; next }
        /^global:/ { scope = "global"; sub(/^global:[[:space:]]*/, "") }
        /^local:/ { scope = "local"; sub(/^local:[[:space:]]*/, "") }
        $0 != "" && scope == "global" { print $0, node }
    ' | family | sort >"$work/mapped"

comm -23 "$work/declared" "$work/exported" | sed 's/^/declared but not exported (or in another node): /' >"$work/d1"
comm -13 "$work/declared" "$work/exported" | sed 's/^/exported but not declared in include\/qat (or in another node): /' >>"$work/d1"
check "exported symbols = the headers' QAT_API declarations, by version node" "$work/d1"

comm -3 "$work/declared" "$work/mapped" | sed 's/^[[:space:]]*//;s/^/declared and lib\/libqat.map differ: /' >"$work/d2"
grep -E '[*?[]' "$work/mapped" | sed 's/^/a wildcard in a global list: /' >>"$work/d2" || true
check "lib/libqat.map lists exactly the declarations" "$work/d2"

# Every ctypes declaration names a declared function; experimental ones
# are declared only in the experimental module.
: >"$work/d3"
for py in "$pydir"/*.py; do
    grep -o 'declare("qat_[A-Za-z0-9_]*"' "$py" | sed 's/declare("//;s/"//' | sort -u | while read -r name; do
        node=$(awk -v n="$name" '$1 == n {print $2}' "$work/declared")
        if [ -z "$node" ]; then
            echo "$(basename "$py") declares $name, which no public header declares"
        elif [ "$node" = LIBQAT_EXPERIMENTAL ] && [ "$(basename "$py")" != study.py ]; then
            echo "$(basename "$py") declares the experimental $name (only libqat/study.py may)"
        fi
    done >>"$work/d3"
done
check "the Python bindings call declared functions, the experimental ones from study.py" "$work/d3"

soname=$(objdump -p "$lib" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = "libqat.so.0" ] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: SONAME is '$soname'"; }

echo "$passed passed, $failed failed: $(wc -l <"$work/declared") functions declared" \
    "($(grep -c ' LIBQAT_EXPERIMENTAL$' "$work/declared") experimental), SONAME $soname"
[ "$failed" -eq 0 ]
