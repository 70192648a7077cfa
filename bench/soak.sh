#!/bin/sh
# make bench (third part): darkstab collect's memory over a long run.
#
#   sh bench/soak.sh BUILD_DIR [SECONDS] [RATE]
#
# Sends IPFIX to the collector for SECONDS (default 600) at RATE records a
# second (default 1000000): day after day of the bench scenario's traffic
# (two million records a day, each day a new darkstab-gen run), with the two
# analyses of the benchmark, so that slots keep opening and closing and the
# store keeps growing.  Samples the collector's resident memory every 10
# seconds; memory that does not grow with the records received is flat from
# the first minutes on.
set -u
BUILD=${1:-build}
SECONDS_RUN=${2:-600}
RATE=${3:-1000000}
D="$BUILD/bench-data/soak"
GEN="$BUILD/darkstab-gen"
DS="$(cd "$BUILD" && pwd)/darkstab"
PORT=39985
MPORT=39454
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
        "$GEN" --days 1 --start "$d" --flows-per-day 2000000 --seed "$day" --no-events \
            --send "127.0.0.1:$PORT" --rate "$RATE" > /dev/null 2>&1
        day=$((day + 1))
    done
) &
sender=$!
echo "seconds  records_received  rss_MB  store_MB"
while [ $(($(date +%s) - start)) -lt "$SECONDS_RUN" ]; do
    sleep 10
    rss=$(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
    recs=$(metric_sum "$MPORT" darkstab_exporter_records_total)
    db=$(du -m "$D/soak.db" 2> /dev/null | cut -f1)
    printf '%7d  %16s  %6s  %8s\n' $(($(date +%s) - start)) "$recs" "$rss" "$db" | tee -a "$D/rss.txt"
done
wait "$sender"
kill -TERM "$pid"
wait "$pid"
awk 'NR <= 6 {if ($3 > a) a = $3} NR > 6 {if ($3 > b) b = $3; n++} END {
     printf "peak resident memory: %s MB in the first minute, %s MB over the %d samples after\n", a, b, n}' \
    "$D/rss.txt"
