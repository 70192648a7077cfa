#!/bin/sh
# make bench (second part): UDP ingest of IPFIX on loopback, darkstab collect
# against nfdump's nfcapd and pmacct's nfacctd, at the same offered rates.
#
#   sh bench/collect.sh BUILD_DIR [RATES]
#
# For each rate (records a second; "max": as fast as darkstab-gen sends) and
# each collector, darkstab-gen sends the bench scenario (10.5 million
# records, 30 days) as IPFIX over UDP to 127.0.0.1; then the collector's own
# count says what arrived:
#   darkstab collect   (two analyses, three thresholds each, store)
#                      darkstab_exporter_records_total in its metrics
#   nfcapd             (writes records to files)      nfdump -I: Flows
#   nfacctd            (aggregates by port and protocol, print plugin)
#                      the packets it printed, against the stream's
# Loss is what the sender sent that the collector never counted; CPU is the
# collector's user + system time (all its processes) over the run's wall
# time, in percent of one core.  Every receiver gets a 64 MB socket buffer
# (net.core.rmem_max is raised to allow it, when we may).
#
# COLLECTORS (default "darkstab nfcapd nfacctd") picks which run and in what
# order; "ceiling" is darkstab built by bench/ceiling.sh (CEILING_BIN).
set -u
BUILD=${1:-build}
RATES=${2:-"500000 1000000 2000000 3000000 max"}
D="$BUILD/bench-data/collect"
GEN="$BUILD/darkstab-gen"
DS="$(cd "$BUILD" && pwd)/darkstab"
COLLECTORS=${COLLECTORS:-"darkstab nfcapd nfacctd"}
CEILING_BIN=${CEILING_BIN:-}
case " $COLLECTORS " in
*" ceiling "*)
    if [ ! -x "$CEILING_BIN" ]; then
        echo "collect.sh: COLLECTORS has ceiling, and CEILING_BIN is not a program" >&2
        exit 1
    fi
    ;;
esac
PORT=39995
MPORT=39464
. "$(dirname "$0")/lib.sh"
bench_dir "$D"

raise_rmem

collect_config "$D/collect.yaml" "$(cd "$D" && pwd)/collect.db" "$PORT" "$MPORT"

cat > "$D/nfacctd.conf" <<EOF
daemonize: false
nfacctd_ip: 127.0.0.1
nfacctd_port: $PORT
nfacctd_pipe_size: 67108864
plugins: print[p]
aggregate[p]: proto, dst_port
print_output[p]: csv
print_output_file[p]: $(cd "$D" && pwd)/nfacctd-%s.csv
print_output_file_append[p]: true
print_refresh_time[p]: 3600
EOF

# cpu_ticks PID: user + system clock ticks of the process and its children's processes
cpu_ticks() {
    t=0
    for p in $1 $(pgrep -P "$1"); do
        [ -r "/proc/$p/stat" ] || continue
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo "$t"
}

darkstab_count() {
    metric_sum "$MPORT" darkstab_exporter_records_total
}

hz=$(getconf CLK_TCK)
results=""
truth_packets=""
for rate in $RATES; do
    r=$rate
    [ "$r" = max ] && r=0
    for tool in $COLLECTORS; do
        rm -rf "$D/collect.db"* "$D/nfcapd" "$D"/nfacctd-*.csv
        case $tool in
        darkstab)
            "$DS" collect -c "$D/collect.yaml" --foreground -q > "$D/collect.log" 2>&1 &
            ;;
        ceiling)
            "$CEILING_BIN" collect -c "$D/collect.yaml" --foreground -q > "$D/collect.log" 2>&1 &
            ;;
        nfcapd)
            mkdir -p "$D/nfcapd"
            nfcapd -w "$D/nfcapd" -b 127.0.0.1 -p "$PORT" -t 3600 -B 67108864 \
                > "$D/nfcapd.log" 2>&1 &
            ;;
        nfacctd)
            nfacctd -f "$D/nfacctd.conf" > "$D/nfacctd.log" 2>&1 &
            ;;
        esac
        pid=$!
        sleep 1
        t0=$(date +%s.%N)
        c0=$(cpu_ticks "$pid")
        sent=$("$GEN" --scenario bench --send "127.0.0.1:$PORT" --rate "$r" 2>&1 |
               sed -n 's/.*: \([0-9]*\) records in .* in \([0-9.]*\) s: \([0-9]*\) records\/s.*/\1 \3/p')
        offered=${sent#* }
        sent=${sent% *}
        case $tool in
        darkstab|ceiling)
            settle darkstab_count
            got=$(darkstab_count)
            pk=$(metric_sum "$MPORT" darkstab_exporter_received_packets_total)
            [ "$got" = "$sent" ] && truth_packets=$pk
            ;;
        nfcapd|nfacctd)
            sleep 2
            ;;
        esac
        t1=$(date +%s.%N)
        c1=$(cpu_ticks "$pid")
        kill -INT "$pid"
        wait "$pid" 2> /dev/null
        case $tool in
        nfcapd)
            got=$(nfdump -R "$D/nfcapd" -I 2>/dev/null | awk '/^Flows:/ {print $2}')
            ;;
        nfacctd)
            # nfacctd counts packets, not records: its share of the stream's packets
            pk=$(cat "$D"/nfacctd-*.csv 2> /dev/null | awk -F, '$3 ~ /^[0-9]+$/ {s += $3} END {print s + 0}')
            if [ -n "$truth_packets" ] && [ "$truth_packets" -gt 0 ]; then
                got=$(awk -v p="$pk" -v t="$truth_packets" -v s="$sent" \
                      'BEGIN {printf "%d", s * p / t}')
            else
                got="?"
            fi
            ;;
        esac
        cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v t0="$t0" -v t1="$t1" \
              'BEGIN {printf "%.0f", 100 * (b - a) / hz / (t1 - t0)}')
        loss=$(awk -v s="$sent" -v g="$got" 'BEGIN {if (g == "?") print "?"; else printf "%.3f", 100 * (s - g) / s}')
        line=$(printf '%-9s %-8s %10s %12s %12s %9s%% %6s%%' "$rate" "$tool" "$offered" "$sent" "$got" \
               "$loss" "$cpu")
        echo "$line"
        results="$results$line
"
    done
done

echo
echo "UDP ingest of IPFIX on 127.0.0.1, $(nproc) cores; the bench scenario (10.5 million records)"
printf '%-9s %-8s %10s %12s %12s %10s %7s\n' rate tool offered/s sent counted loss cpu
printf '%s' "$results"
echo
echo "highest zero-loss rate offered, per collector:"
for tool in $COLLECTORS; do
    best=$(printf '%s' "$results" | awk -v t="$tool" '$2 == t && $6 == "0.000%" {if ($3 > b) b = $3}
                                                      END {print b + 0}')
    printf '  %-9s %s records/s\n' "$tool" "$best"
done
