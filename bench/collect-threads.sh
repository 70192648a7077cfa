#!/bin/sh
# Where darkstab collect's CPU goes, thread by thread, at one offered rate.
#
#   sh bench/collect-threads.sh BUILD_DIR RATE [RUNS] [BINARY...]
#
# Starts the collector (the two analyses of bench/bench.yaml, as
# bench/collect.sh does), sends the bench scenario (10.5 million records)
# as IPFIX over UDP on 127.0.0.1 at RATE records a second (0: as fast as
# the sender goes), waits until the count stops growing, and prints for
# each thread its CPU seconds (user + system) and its voluntary and
# involuntary context switches, then the records counted and the process'
# CPU in all (exited threads, such as SQLite's checkpointers, included).
# With BINARY arguments (darkstab binaries, say the commit before a change
# built in a worktree) it runs each in turn, RUNS times (default 1), so
# that a shared machine's load falls on all of them alike.
set -u
BUILD=${1:-build}
RATE=${2:-3000000}
RUNS=${3:-1}
if [ $# -ge 3 ]; then shift 3; else shift $#; fi
D="$BUILD/bench-data/threads"
GEN="$BUILD/darkstab-gen"
PORT=39975
MPORT=39444
. "$(dirname "$0")/lib.sh"
bench_dir "$D"
[ $# -gt 0 ] || set -- "$(cd "$BUILD" && pwd)/darkstab"

raise_rmem

hz=$(getconf CLK_TCK)
run=0
while [ "$run" -lt "$RUNS" ]; do
    for ds in "$@"; do
        rm -rf "$D/collect.db"*
        collect_config "$D/collect.yaml" "$(cd "$D" && pwd)/collect.db" "$PORT" "$MPORT"
        "$ds" collect -c "$D/collect.yaml" --foreground -q > "$D/collect.log" 2>&1 &
        pid=$!
        sleep 1
        "$GEN" --scenario bench --send "127.0.0.1:$PORT" --rate "$RATE" > /dev/null 2>&1
        settle 'metric_sum "$MPORT" darkstab_exporter_records_total'
        printf '%s\n' "$ds"
        for t in /proc/"$pid"/task/*; do
            awk -v hz="$hz" -v name="$(cat "$t/comm")" '
                FILENAME ~ /stat$/ {cpu = ($14 + $15) / hz}
                /^voluntary_ctxt_switches/ {v = $2}
                /^nonvoluntary_ctxt_switches/ {n = $2}
                END {printf "  %-16s %6.2f s  %7d + %d switches\n", name, cpu, v, n}
            ' "$t/stat" "$t/status"
        done
        awk -v hz="$hz" -v got="$now" '{printf "  records counted %s, CPU in all %.2f s\n", got,
                                        ($14 + $15) / hz}' "/proc/$pid/stat"
        kill -INT "$pid"
        wait "$pid" 2> /dev/null
    done
    run=$((run + 1))
done
