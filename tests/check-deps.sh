#!/bin/sh
# make check-deps: dependencies only point downstream (STYLE.md, section A).
#
# Every header of include/ds/ belongs to the module whose sources implement
# it; a source file may include the headers of its own module, of core, and
# of the modules upstream of it in the pipeline, never those downstream.
# Prints every offending #include with its file and line; exits 1 if any.
cd "$(dirname "$0")/.." || exit 2

# The pipeline, upstream first: a module's rank is its position here.
ORDER="core ingest norm filter agg stability explain store report mail pipeline cli"

rank() {
    i=0
    for m in $ORDER; do
        [ "$m" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
    echo -1
}

# The module of a header: where the .c of the same name lives; headers with
# no .c of their own are listed here.
header_module() {
    case "$1" in
    flow.h | hash.h | varint.h | deadline.h) echo core; return ;;
    ingest.h) echo ingest; return ;;
    result.h) echo stability; return ;;
    rowbinary.h) echo store; return ;;
    esac
    base=${1%.h}
    for m in $ORDER; do
        [ -f "src/$m/$base.c" ] && { echo "$m"; return; }
    done
    [ -d "src/$base" ] && { echo "$base"; return; }
    echo unknown
}

bad=0
tmp=$(mktemp) || exit 2
trap 'rm -f "$tmp"' EXIT
for f in src/*/*.c src/*/*.h include/ds/*.h; do
    case "$f" in
    include/ds/*) mod=$(header_module "$(basename "$f")") ;;
    *) mod=$(echo "$f" | cut -d/ -f2) ;;
    esac
    r=$(rank "$mod")
    if [ "$r" -lt 0 ]; then
        echo "$f: module '$mod' is not in the pipeline order of tests/check-deps.sh"
        bad=1
        continue
    fi
    grep -n '^#include "ds/' "$f" | while IFS=: read -r line inc; do
        h=$(echo "$inc" | sed 's/.*"ds\/\([^"]*\)".*/\1/')
        hm=$(header_module "$h")
        hr=$(rank "$hm")
        if [ "$hr" -lt 0 ]; then
            echo "$f:$line: includes ds/$h, which belongs to no known module"
            echo x
        elif [ "$hr" -gt "$r" ]; then
            echo "$f:$line: $mod includes ds/$h of $hm, downstream of it"
            echo x
        fi
    done > "$tmp"
    if [ -s "$tmp" ]; then
        grep -v '^x$' "$tmp"
        bad=1
    fi
done
# Internal headers stay inside their module.
for f in src/*/*_int.h; do
    [ -e "$f" ] || continue
    h=$(basename "$f")
    m=$(echo "$f" | cut -d/ -f2)
    if grep -ln "#include \"$h\"" src/*/*.c | grep -v "^src/$m/" > /dev/null; then
        grep -n "#include \"$h\"" src/*/*.c | grep -v "^src/$m/" | sed "s/\$/: internal header of $m/"
        bad=1
    fi
done
[ $bad -eq 0 ] && echo "check-deps: every include points downstream"
exit $bad
