#!/bin/sh
# make bench, ClickHouse part (issue 9): how fast one node inserts the
# bench's darknet records into a two-shard cluster, what they take on disk,
# and how long a day's group counts take to query.  Two clickhouse-server
# processes on 127.0.0.1 (tests/e2e/chlib.sh) share the two cores with
# darkstab, so this is a floor for a real two-node cluster.
#
#   sh bench/clickhouse.sh BUILD_DIR
#
# Uses BUILD_DIR/bench-data/bench.ipfix (bench/run.sh makes it).
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DS="$ROOT/$BUILD/darkstab"
IN="$ROOT/$BUILD/bench-data/bench.ipfix"
[ -x /usr/sbin/clickhouse-server ] || { echo "clickhouse: not installed (make deps), skipped"; exit 0; }
[ -s "$IN" ] || { echo "clickhouse: no $IN (run bench/run.sh first), skipped"; exit 0; }
T=$(mktemp -d /tmp/darkstab-chbench-XXXXXX)
PIDS=""
cleanup() {
    # everything goes with its directory: no need for ClickHouse's orderly (5-8 s) shutdown
    for p in $PIDS; do kill -9 "$p" 2> /dev/null; done
    for p in $PIDS; do wait "$p" 2> /dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
. "$ROOT/tests/e2e/chlib.sh"
ch_setup
start s1 "$HTTP1" && start s2 "$HTTP2" || { echo "clickhouse: the servers did not start"; exit 1; }
# node NAME DATABASE: bench/bench.yaml as node NAME of the cluster (NAME.yaml, its
# own spool), its database's tables on both shards
node() {
    sed "s|^analyses:|store:\n  backend: clickhouse\n  clickhouse:\n    url: http://127.0.0.1:$HTTP1/\n    cluster: dk\n    database: $2\n    node: $1\n    spool: $T/spool-$1\nanalyses:|" \
        "$ROOT/bench/bench.yaml" > "$T/$1.yaml"
    for p in "$HTTP1" "$HTTP2"; do
        "$DS" clickhouse-schema -c "$T/$1.yaml" --apply "http://127.0.0.1:$p/" > /dev/null || exit 1
    done
}
node bench darkstab
/usr/bin/time -f "%e %M" -o "$T/time" "$DS" analyze -c "$T/bench.yaml" --store "$T/node.db" \
    -f json -o "$T/out.json" "$IN" 2> "$T/log" || { cat "$T/log"; exit 1; }
secs=$(cut -d' ' -f1 "$T/time")
rss=$(cut -d' ' -f2 "$T/time")
rows=$(q "$HTTP1" "SELECT count() FROM darkstab.records")
# merges settle before the parts are measured
sleep 5
disk=0
for p in "$HTTP1" "$HTTP2"; do
    b=$(q "$p" "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'darkstab' AND table = 'records_local' AND active")
    disk=$((disk + b))
done
day=$(q "$HTTP1" "SELECT intDiv(min(start_ms), 86400000) * 86400000 + 5 * 86400000 FROM darkstab.records")
best() { sort -n | head -n 1; }
qt() {
    for i in 1 2 3; do
        s=$(date +%s.%N)
        q "$HTTP1" "$1" > /dev/null
        echo "$(date +%s.%N) - $s" | bc
    done | best
}
plain=$(qt "SELECT proto, dport, sum(packets) FROM darkstab.records WHERE start_ms >= $day AND start_ms < $day + 86400000 GROUP BY proto, dport FORMAT Null")
final=$(qt "SELECT proto, dport, sum(packets) FROM darkstab.records FINAL WHERE start_ms >= $day AND start_ms < $day + 86400000 GROUP BY proto, dport FORMAT Null")
dayrows=$(q "$HTTP1" "SELECT count() FROM darkstab.records WHERE start_ms >= $day AND start_ms < $day + 86400000")
# the judgement on the cluster, which analyze does once its records are in
judged() { sed -n 's/.*judged on the cluster: \(.*\)/\1/p' "$1"; }
jsecs=$(judged "$T/log" | sed -n 's/.* \([0-9.]*\) s$/\1/p')
echo "clickhouse (two shards on 127.0.0.1, $(q "$HTTP1" 'SELECT version()'))"
awk -v r="$rows" -v s="$secs" -v j="${jsecs:-0}" -v m="$rss" 'BEGIN {
    printf "  analyze with store.backend clickhouse: %d records in %.2f s, %.0f records/s inserted (its %.2f s of judging apart), peak %d MB\n",
        r, s, r / (s - j), j, m / 1024 }'
echo "  judged on the cluster, 30 days of both analyses: $(judged "$T/log")"
# the same node with a new store (its batches found in the cluster), details on the shards
sed "s|^    node: bench|    node: bench\n    details: shards|" "$T/bench.yaml" > "$T/bench-shards.yaml"
"$DS" analyze -c "$T/bench-shards.yaml" --store "$T/node-shards.db" -o /dev/null "$IN" \
    2> "$T/log-shards" || { tail -5 "$T/log-shards"; exit 1; }
echo "  judged again, details counted on the shards: $(judged "$T/log-shards")"
awk -v d="$disk" -v r="$rows" 'BEGIN { printf "  on disk: %.1f bytes a record (both shards, active parts)\n", d / r }'
awk -v n="$dayrows" -v a="$plain" -v b="$final" 'BEGIN {
    printf "  a day'"'"'s group counts (%d records, [proto, dst_port]): %.3f s, %.3f s with FINAL\n", n, a, b }'

# One day of 50 million darknet records, inserted by a node and judged on
# the cluster (both analyses of bench/bench.yaml, with drill-down), the shown
# groups' details read back (store.clickhouse.details records), then judged
# again by the same node with a new store (its batches found in the cluster)
# and the details counted on the shards.  Then the same with scanners that
# send 200 flows a day each (--per-source 200) instead of the bench's 2.5,
# where GROUP BY on the shards shrinks what comes back.
DAY_RECORDS=${DAY_RECORDS:-50000000}
# a_day NAME [GEN OPTIONS]: generate, insert and judge with records, judge with shards
a_day() {
    name=$1
    shift
    "$ROOT/$BUILD/darkstab-gen" --scenario bench --days 1 --records "$DAY_RECORDS" "$@" \
        "$T/$name.ipfix" 2> /dev/null ||
        { echo "  (the day of $DAY_RECORDS records could not be generated)"; exit 0; }
    node "$name" "$name"
    /usr/bin/time -f "%e %M" -o "$T/time" "$DS" analyze -c "$T/$name.yaml" --store "$T/$name.db" \
        -o /dev/null "$T/$name.ipfix" 2> "$T/${name}log" || { tail -5 "$T/${name}log"; exit 1; }
    sed "s|^    node: $name|    node: $name\n    details: shards|" "$T/$name.yaml" > "$T/$name-shards.yaml"
    "$DS" analyze -c "$T/$name-shards.yaml" --store "$T/$name-shards.db" -o /dev/null \
        "$T/$name.ipfix" 2> "$T/${name}log-shards" || { tail -5 "$T/${name}log-shards"; exit 1; }
    rm -f "$T/$name.ipfix"
    drows=$(q "$HTTP1" "SELECT count() FROM $name.records")
    echo "  a day of $drows records${1:+ ($*)}: analyze $(cut -d' ' -f1 "$T/time") s in all, peak $(($(cut -d' ' -f2 "$T/time") / 1024)) MB"
    echo "    judged, details records: $(judged "$T/${name}log")"
    echo "    judged, details shards:  $(judged "$T/${name}log-shards")"
}
a_day day
a_day rep --per-source 200
