#!/bin/sh
# Two or more darkstab binaries on the bench file, alternating, N runs each,
# so that a shared machine's load falls on all of them alike:
#
#   sh bench/ab.sh N BINARY_A BINARY_B...
#
# (for instance the commit before a change, built in a git worktree, against
# build/darkstab).  Each run is `analyze -q -c bench/bench.yaml` into a fresh
# store and a JSON report, on build/bench-data/bench.ipfix (make bench makes
# it).  Prints each binary's best and median wall time, and its rate against
# the first binary's.
set -u
n=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
in="$root/build/bench-data/bench.ipfix"
[ -f "$in" ] || { echo "ab.sh: no $in: run make bench first" >&2; exit 2; }
out=$(mktemp -d /tmp/darkstab-ab-XXXXXX)
trap 'rm -rf "$out"' EXIT INT TERM
i=0
while [ $i -lt "$n" ]; do
    k=0
    for b in "$@"; do
        rm -f "$out"/store.db*
        s=$(date +%s.%N)
        "$b" analyze -q -c "$root/bench/bench.yaml" --store "$out/store.db" -f json \
            -o "$out/out.json" "$in" || exit 1
        e=$(date +%s.%N)
        awk -v k=$k -v s="$s" -v e="$e" 'BEGIN {printf "%d %.3f\n", k, e - s}' >> "$out/times"
        k=$((k + 1))
    done
    i=$((i + 1))
done
k=0
for b in "$@"; do
    awk -v k=$k '$1 == k {print $2}' "$out/times" | sort -n > "$out/t.$k"
    best=$(head -n 1 "$out/t.$k")
    median=$(awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}' "$out/t.$k")
    if [ $k = 0 ]; then b0=$best; m0=$median; fi
    awk -v b="$b" -v best="$best" -v median="$median" -v b0="$b0" -v m0="$m0" 'BEGIN {
        printf "%-40s best %.3f s, median %.3f s; rate against the first: best %.2f, median %.2f\n",
            b, best, median, b0 / best, m0 / median}'
    k=$((k + 1))
done
