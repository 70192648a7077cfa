#!/bin/sh
# make bench, issue 10: does the cost of "darkstab analyze" grow linearly
# with the records, and its memory with the groups rather than the records?
#
#   sh bench/linear.sh BUILD_DIR [RECORDS...]
#
# For each count (default 1, 10 and 50 million) darkstab-gen writes the
# bench scenario's 30 quiet days with that many background records
# (--scenario bench --records N: the same days, sources and ports, denser),
# and analyze runs bench/bench.yaml over it (best of two): seconds, records
# a second, peak resident memory, and the groups of the busiest slot of each
# analysis (from the JSON).  The files are kept in BUILD_DIR/bench-data;
# 50 million records take 2.3 GB.
set -u
BUILD=${1:-build}
shift
COUNTS=${*:-1000000 10000000 50000000}
D="$BUILD/bench-data"
mkdir -p "$D"

printf '%12s %8s %10s %8s %s\n' records seconds "records/s" peak_MB "groups (busiest slot per analysis)"
for n in $COUNTS; do
    in="$D/linear-$n.ipfix"
    if [ ! -s "$in" ]; then
        "$BUILD/darkstab-gen" --scenario bench --records "$n" "$in" 2> /dev/null || exit 1
    fi
    best=""
    for i in 1 2; do
        rm -f "$D"/linear.db*
        /usr/bin/time -f "%e %M" -o "$D/time" "$BUILD/darkstab" analyze -q -c bench/bench.yaml \
            --store "$D/linear.db" -f json -o "$D/linear.json" "$in" || exit 1
        best=$(printf '%s\n%s\n' "$best" "$(cat "$D/time")" | awk 'NF == 2' | sort -n | head -n 1)
    done
    rm -f "$D"/linear.db*
    groups=$(jq -r '[.analyses[] | "\(.name) \([.slots[].groups // 0] | max)"] | join(", ")' \
        "$D/linear.json" 2> /dev/null)
    echo "$best" | awk -v n="$n" -v g="$groups" \
        '{ printf "%12d %8.2f %8.2f M %8d %s\n", n, $1, n / $1 / 1e6, $2 / 1024, g }'
done
