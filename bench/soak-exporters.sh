#!/bin/sh
# make soak: darkstab collect against many real exporters and garbage, for
# a long time (issue 8, section 6).  Not in make check.
#
#   sh bench/soak-exporters.sh BUILD_DIR [SECONDS] [RATE] [EXPORTERS]
#
# EXPORTERS (default 100) real exporters, each on its own source address
# 127.2.0.1 and on (darkstab-gen --from --exporters), send IPFIX day after
# day of background traffic, RATE records a second together (default
# 500000), for
# SECONDS (default 1800); meanwhile one more address sends broken datagrams
# (tests/tools/hostile.py flood), about 1% of the datagrams.  Every 10
# seconds: the records counted from the real exporters and the collector's
# resident memory.  At the end: what the real exporters sent against what
# the collector counted from them (no loss is the target), and whether
# memory stayed flat.
set -u
BUILD=${1:-build}
SECONDS_RUN=${2:-1800}
RATE=${3:-500000}
N=${4:-100}
D="$BUILD/bench-data/soak-exporters"
GEN="$(cd "$BUILD" && pwd)/darkstab-gen"
DS="$(cd "$BUILD" && pwd)/darkstab"
HOSTILE="$(cd "$(dirname "$0")/../tests/tools" && pwd)/hostile.py"
PORT=39987
MPORT=39456
# one darkstab-gen sends for all the exporters (--exporters: a socket
# each, datagrams in turn, each exporter its own sequence and templates):
# a hundred generators would take the two cores from the collector.  A day
# of traffic lasts ten seconds, so that days and slots keep closing.
PER_DAY=$((RATE * 10))
. "$(dirname "$0")/lib.sh"
rm -rf "$D"
bench_dir "$D"
collect_config "$D/soak.yaml" "$(cd "$D" && pwd)/soak.db" "$PORT" "$MPORT" "  lateness: 1m"
"$DS" collect -c "$D/soak.yaml" --foreground -q > "$D/soak.log" 2>&1 &
pid=$!
sleep 1
start=$(date +%s)
(
    day=0
    while [ $(($(date +%s) - start)) -lt "$SECONDS_RUN" ]; do
        d=$(date -u -d "2014-01-01 + $day days" +%Y-%m-%d)
        "$GEN" --days 1 --start "$d" --flows-per-day "$PER_DAY" --seed "$day" --no-events \
            --send "127.0.0.1:$PORT" --from 127.2.0.1 --exporters "$N" --rate "$RATE" 2>&1 |
            sed -n 's/.* \([0-9]*\) records in .*/\1/p' >> "$D/sent"
        day=$((day + 1))
    done
) &
pids=$!
python3 "$HOSTILE" flood "$PORT" 1 "$SECONDS_RUN" 1 > "$D/garbage" 2>&1 &
pids="$pids $!"
real_records() {
    curl -s "http://127.0.0.1:$MPORT/metrics" |
        awk 'index($0, "darkstab_exporter_records_total{exporter=\"127.2.") == 1 {s += $NF}
             END {printf "%.0f\n", s}'
}
echo "seconds  real_records  rss_MB  store_MB"
while [ $(($(date +%s) - start)) -lt "$SECONDS_RUN" ]; do
    sleep 10
    rss=$(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
    db=$(du -m "$D/soak.db" 2> /dev/null | cut -f1)
    printf '%7d  %12s  %6s  %8s\n' $(($(date +%s) - start)) "$(real_records)" "$rss" "$db" |
        tee -a "$D/rss.txt"
done
# shellcheck disable=SC2086
wait $pids
elapsed=$(($(date +%s) - start))
sleep 3
sent=$(awk '{s += $1} END {printf "%.0f\n", s}' "$D/sent")
counted=$(real_records)
drops=$(metric_sum "$MPORT" darkstab_socket_kernel_drops_total)
kill -TERM "$pid"
wait "$pid"
awk -v sent="$sent" -v counted="$counted" -v drops="$drops" -v g="$(cat "$D/garbage")" \
    -v n="$N" -v secs="$elapsed" '
    NR <= 6 {if ($3 > a) a = $3}
    NR > 6 {if ($3 > b) b = $3; if (first == "") first = $3; last = $3; k++}
    END {
        loss = sent > 0 ? 100 * (sent - counted) / sent : 0
        printf "%d exporters, %d s: %.0f records sent (%.0f/s), %.0f counted, loss %.4f%%\n", n, secs, sent, sent / secs, counted, loss
        printf "garbage datagrams %s; kernel drops %s\n", g, drops
        printf "resident memory: peak %s MB in the first minute, %s MB over the %d samples after (first %s, last %s)\n", a, b, k, first, last
    }' "$D/rss.txt"
