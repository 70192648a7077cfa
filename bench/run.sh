#!/bin/sh
# make bench: speed and memory of "darkstab analyze", beside the floor of
# decoding (a bare libfixbuf loop) and nfdump over the same flows.
#
#   sh bench/run.sh BUILD_DIR
#
# The generated input (30 days, 10 million records) and its nfdump copy are
# kept in BUILD_DIR/bench-data; delete it to start afresh.  Each timing is
# the best of three runs (the machine is shared: the best is the least
# disturbed).
set -u
BUILD=${1:-build}
D="$BUILD/bench-data"
mkdir -p "$D"
IN="$D/bench.ipfix"
NF="$D/nfcapd"

best() { sort -n | head -n 1; }
# best_rate CMD...: the highest rate of three runs of CMD, whose line ends "R million records/s"
best_rate() { for i in 1 2 3; do "$@"; done | awk '{print $(NF-2)}' | sort -rn | head -n 1; }

if [ ! -s "$IN" ]; then
    echo "generating $IN (30 days, 10.5 million records)..."
    "$BUILD/darkstab-gen" --scenario bench "$IN" || exit 1
    rm -rf "$NF" "$D/nfdays"
fi
size=$(du -m "$IN" | cut -f1)

# 1. the floor: a bare libfixbuf loop reading each record into a struct
floor_out=$(for i in 1 2 3; do "$BUILD/bench/fixbuf_floor" "$IN"; done)
records=$(echo "$floor_out" | head -n 1 | awk '{print $2}')
floor=$(echo "$floor_out" | awk '{print $(NF-2)}' | sort -rn | head -n 1)

# 2. darkstab's reader alone (check, decode, normalise, filter), with its fast
#    path for fixed-length templates and with libfixbuf decoding every record
reader=$(best_rate "$BUILD/bench/ingest_only" "$IN")
reader_fb=$(best_rate "$BUILD/bench/ingest_only" --libfixbuf "$IN")

# 3. darkstab analyze: two analyses, three thresholds each, distinct counts, SQLite store
runs=""
for i in 1 2 3; do
    rm -f "$D"/bench.db*
    /usr/bin/time -f "%e %M" -o "$D/time" "$BUILD/darkstab" analyze -q -c bench/bench.yaml \
        --store "$D/bench.db" -f json -o "$D/bench.json" "$IN" || exit 1
    runs="$runs$(cat "$D/time")
"
done
secs=$(echo "$runs" | awk 'NF == 2 {print $1}' | best)
rss=$(echo "$runs" | awk 'NF == 2 {print $2}' | sort -n | tail -n 1)
rate=$(awk -v r="$records" -v s="$secs" 'BEGIN { printf "%.2f", r / s / 1e6 }')
dbsize=$(du -m "$D/bench.db" | cut -f1)
# ... and with one analysis (bench1.yaml) and four (bench4.yaml): how the cost grows with them
rate_of() {
    for i in 1 2 3; do
        rm -f "$D"/bench-n.db*
        /usr/bin/time -f "%e" -o "$D/time" "$BUILD/darkstab" analyze -q -c "$1" \
            --store "$D/bench-n.db" -f json -o /dev/null "$IN" || exit 1
        cat "$D/time"
    done | best | awk -v r="$records" '{ printf "%.2f", r / $1 / 1e6 }'
    rm -f "$D"/bench-n.db*
}
rate1=$(rate_of bench/bench1.yaml)
rate4=$(rate_of bench/bench4.yaml)

# 4. nfdump -s dstport/packets over the same flows, in nfdump's own format:
#    darkstab-gen sends them to nfcapd over UDP on 127.0.0.1 once.
nf=""
if command -v nfcapd > /dev/null && command -v nfdump > /dev/null; then
    if [ ! -d "$NF" ] || [ -z "$(ls "$NF" 2> /dev/null)" ]; then
        echo "sending the flows to nfcapd on 127.0.0.1:9995 (about a minute)..."
        mkdir -p "$NF"
        nfcapd -w "$NF" -b 127.0.0.1 -p 9995 -t 86400 -B 16000000 > "$D/nfcapd.log" 2>&1 &
        pid=$!
        sleep 1
        "$BUILD/darkstab-gen" --scenario bench --send 127.0.0.1:9995 --rate 250000 2> /dev/null
        sleep 1
        kill "$pid"
        wait "$pid" 2> /dev/null
    fi
    nf=$(for i in 1 2 3; do nfdump -R "$NF" -s dstport/packets -n 10 2>&1 | grep 'flows/second'; done |
         sed 's/.*flows\/second: \([0-9.]*\).*/\1/' | sort -rn | head -n 1)
    nfflows=$(nfdump -R "$NF" -s dstport/packets -n 1 2>&1 | grep 'Total flows processed' |
              sed 's/Total flows processed: \([0-9]*\).*/\1/')
fi

# 5. darkstab-gen --send: records offered a second, as fast as it goes, to a
#    local UDP socket nobody reads (udpsink --no-read); the generation of
#    the records is included
sends=""
if [ -x "$BUILD/tests/udpsink" ]; then
    rm -f "$D/sink.port"
    "$BUILD/tests/udpsink" --no-read --port-file "$D/sink.port" --timeout 600 &
    sink=$!
    while [ ! -s "$D/sink.port" ] && kill -0 "$sink" 2> /dev/null; do sleep 0.05; done
    for fmt in ipfix netflow9; do
        r=$(for i in 1 2 3; do
                "$BUILD/darkstab-gen" --scenario bench --send-format $fmt --rate 0 \
                    --send "127.0.0.1:$(cat "$D/sink.port")" 2>&1 | sed -n 's/.*: \([0-9]*\) records\/s.*/\1/p'
            done | sort -rn | head -n 1)
        sends="$sends$fmt $r
"
    done
    kill "$sink"
    wait "$sink" 2> /dev/null
fi

echo
echo "input: $records records, ${size} MB, 30 days (darkstab-gen --scenario bench)"
echo "machine: $(nproc) cores, $(awk '/model name/ {sub(/.*: /, ""); print; exit}' /proc/cpuinfo)"
printf '%-58s %12s\n' "" "records/s"
printf '%-58s %10s M\n' "libfixbuf bare loop (bench/fixbuf_floor.c)" "$floor"
printf '%-58s %10s M\n' "darkstab reader alone (bench/ingest_only.c)" "$reader"
printf '%-58s %10s M\n' "darkstab reader alone, libfixbuf decoding every record" "$reader_fb"
printf '%-58s %10s M\n' "darkstab analyze, 1 analysis x 3 thresholds (bench1.yaml)" "$rate1"
printf '%-58s %10s M\n' "darkstab analyze, 2 analyses x 3 thresholds (bench.yaml)" "$rate"
printf '%-58s %10s M\n' "darkstab analyze, 4 analyses x 3 thresholds (bench4.yaml)" "$rate4"
[ -n "$nf" ] && printf '%-58s %10.2f M\n' "nfdump -s dstport/packets ($nfflows flows, nfcapd files)" \
    "$(awk -v n="$nf" 'BEGIN { print n / 1e6 }')"
echo "$sends" | while read -r fmt r; do
    [ -n "$fmt" ] && printf '%-58s %10.2f M\n' "darkstab-gen --send-format $fmt --rate 0, offered" \
        "$(awk -v n="$r" 'BEGIN { print n / 1e6 }')"
done
echo
echo "darkstab analyze: ${secs} s, peak memory $((rss / 1024)) MB, store ${dbsize} MB"
"$BUILD/bench/agg_only" "$IN" 4000000 proto,dst_port 1d
"$BUILD/bench/agg_only" "$IN" 4000000 proto,dst_net/24 1h
"$BUILD/bench/hashtable"
awk -v r="$rate" -v f="$floor" 'BEGIN { printf "darkstab / bare libfixbuf loop: %.0f%%\n", 100 * r / f }'

# 6. the same answer (both analyses judged, drill-down of the unstable
#    slots) with nfdump and a script: nfdump -A per slot of the flows split
#    a file a day (bench/nfdump_script.py); once, not the best of three
if [ -n "$nf" ] && command -v python3 > /dev/null; then
    rm -f "$D"/bench-n.db*
    "$BUILD/darkstab" analyze -q -c bench/bench.yaml --store "$D/bench-n.db" -o "$D/bench.txt" \
        "$IN" || exit 1
    rm -f "$D"/bench-n.db*
    echo
    echo "the same answer with nfdump and a script (python3 bench/nfdump_script.py):"
    python3 bench/nfdump_script.py "$(ls "$NF"/nfcapd.* | head -n 1)" "$D/nfdays" "$D/bench.txt" |
        sed 's/^/  /'
fi
