# The test tools and the generator's UDP senders, end to end over loopback.
# Sourced by tests/e2e/run.sh: uses its T, BUILD, GEN, DS, HERE, ok,
# not_ok, report, same, and the scenario it generated ($T/c.yaml,
# $T/truth.csv, $T/all.ipfix and the independent results $T/want.txt).
#
#   - replay --count-only counts what truth.tsv counts (export_packets) for
#     every capture, and keeps multi-exporter captures apart;
#   - replay sends them to tests/tools/udpsink from 127.0.0.10, .11, ...;
#   - darkstab-gen --send-format netflow9 and ipfix: udpsink walks the
#     flowsets and sets with the templates the stream carried; datagrams
#     and templates as tests/e2e/datagrams.awk computes them from the
#     truth CSV, records equal to the truth in order, times included;
#     darkstab analyze gives the IPFIX stream the results of the file.
REPLAY="$(cd "$BUILD" && pwd)/tests/replay"
SINK="$BUILD/tests/udpsink"
CAP="$HERE/../data/captures"

# start_sink ARGS...: udpsink in the background; PORT once it listens (its
# port file is the readiness signal), empty if it never does.
start_sink() {
    rm -f "$T/port"
    "$SINK" --port-file "$T/port" --idle 300 --timeout 20 "$@" > "$T/sink.out" 2> "$T/sink.err" &
    SINK_PID=$!
    i=0
    while [ ! -s "$T/port" ] && [ $i -lt 200 ] && kill -0 "$SINK_PID" 2> /dev/null; do
        sleep 0.05
        i=$((i + 1))
    done
    PORT=$(cat "$T/port" 2> /dev/null)
}

# sink_value NAME: a counter of the last udpsink run
sink_value() {
    awk -v k="$1" '$1 == k { print $2 }' "$T/sink.out"
}

# ---- 10. replay ------------------------------------------------------------
# a. datagrams per capture: replay's version filter against truth.tsv's
#    export_packets (tshark and a length-walking parser), every capture
files=$(awk -F'\t' 'NR > 1 { print $1 }' "$CAP/truth.tsv")
# shellcheck disable=SC2086
(cd "$CAP" && "$REPLAY" --count-only $files) > "$T/counts" 2> "$T/err"
awk 'NR == FNR { if (FNR > 1) { split($0, c, "\t"); want[c[1]] = c[3]; files++ } next }
     { f = $1; sub(/:$/, "", f); n++
       if (!(f in want) || want[f] != $2) print f ": " $2 " datagrams, truth " want[f] }
     END { if (n != files) print n + 0 " files counted of " files }' \
    "$CAP/truth.tsv" "$T/counts" > "$T/u" 2>&1
if [ -s "$T/counts" ] && [ ! -s "$T/u" ]; then
    ok "replay --count-only: datagrams of all $(wc -l < "$T/counts" | tr -d ' ') captures as truth.tsv"
else
    cat "$T/err" >> "$T/u"
    not_ok "replay --count-only against truth.tsv" "$T/u"
fi

# b. multi-exporter captures: sources counted apart
"$REPLAY" --count-only -v "$CAP/graylog-plugin-netflow/nprobe-netflow9.pcap" \
    "$CAP/tcpdump/sflow_multiple_counter_30_pdus.pcap" > "$T/u" 2>&1
if [ "$(grep -c '^  from ' "$T/u")" = 11 ] && grep -q '^  from 172.17.0.1: 7 datagrams' "$T/u" &&
    grep -q '^  from 172.17.0.5: 2 datagrams' "$T/u"; then
    ok "replay --count-only -v: 2 and 9 exporters in two captures"
else
    not_ok "replay --count-only -v sources" "$T/u"
fi

# c. sent over loopback: each exporter from its own address, in order
p111="$CAP/pmacct/111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources_traffic"
start_sink -v
"$REPLAY" -v --gap 20 "127.0.0.1:$PORT" "$p111-00.pcap" "$p111-01.pcap" \
    "$CAP/graylog-plugin-netflow/nprobe-netflow9.pcap" > "$T/replay.out" 2> "$T/replay.err"
st=$?
wait "$SINK_PID"
bytes=$("$REPLAY" --count-only "$p111-00.pcap" "$p111-01.pcap" \
    "$CAP/graylog-plugin-netflow/nprobe-netflow9.pcap" | awk '{ s += $4 } END { print s }')
if [ $st -eq 0 ] && [ "$(sink_value datagrams)" = 31 ] && [ "$(sink_value bytes)" = "$bytes" ] &&
    grep -q '^138.187.57.55 -> 127.0.0.10$' "$T/replay.out" &&
    grep -q '^2001:4d98:a100:303:0:931:f:1 -> 127.0.0.11$' "$T/replay.out" &&
    grep -q '^172.17.0.5 -> 127.0.0.13$' "$T/replay.out" &&
    grep -q '^source 127.0.0.10 11 ' "$T/sink.out" && grep -q '^source 127.0.0.11 11 ' "$T/sink.out" &&
    grep -q '^source 127.0.0.12 7 ' "$T/sink.out" && grep -q '^source 127.0.0.13 2 ' "$T/sink.out"; then
    ok "replay: 31 datagrams ($bytes bytes) from 4 exporters arrive from 127.0.0.10 to .13"
else
    cat "$T/replay.out" "$T/replay.err" "$T/sink.err" >> "$T/sink.out"
    not_ok "replay to udpsink from one address per exporter" "$T/sink.out"
fi
start_sink
"$REPLAY" --repeat 3 --one-socket "127.0.0.1:$PORT" "$p111-00.pcap" 2> "$T/replay.err"
wait "$SINK_PID"
if [ "$(sink_value datagrams)" = 33 ] && [ "$(sink_value sources)" = 1 ]; then
    ok "replay --repeat 3 --one-socket: 33 datagrams from one source"
else
    cat "$T/replay.err" >> "$T/sink.out"
    not_ok "replay --repeat --one-socket" "$T/sink.out"
fi

# d. only flow exports, unless --all: a capture (classic pcap, raw IPv4) of
#    two UDP datagrams 192.0.2.1:5000 -> 192.0.2.2:2055, the first a NetFlow
#    v5 header (version 5, 24 bytes), the second a DNS query header (12 bytes)
hex2bin() {
    for h in "$@"; do printf "\\$(printf '%03o' "0x$h")"; done
}
{
    hex2bin d4 c3 b2 a1 02 00 04 00 00 00 00 00 00 00 00 00 ff ff 00 00 65 00 00 00
    hex2bin 00 00 00 00 00 00 00 00 34 00 00 00 34 00 00 00
    hex2bin 45 00 00 34 00 01 00 00 40 11 00 00 c0 00 02 01 c0 00 02 02
    hex2bin 13 88 08 07 00 20 00 00 00 05 00 00
    hex2bin 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    hex2bin 00 00 00 00 00 00 00 00 28 00 00 00 28 00 00 00
    hex2bin 45 00 00 28 00 02 00 00 40 11 00 00 c0 00 02 01 c0 00 02 02
    hex2bin 13 88 08 07 00 14 00 00 ab cd 01 00 00 01 00 00 00 00 00 00
} > "$T/mixed.pcap"
c1=$("$REPLAY" --count-only "$T/mixed.pcap" 2>&1)
c2=$("$REPLAY" --count-only --all "$T/mixed.pcap" 2>&1)
case "$c1/$c2" in
*": 1 datagrams, 24 bytes (1 other UDP datagram left out)/"*": 2 datagrams, 36 bytes")
    ok "replay leaves a DNS datagram out, and sends it with --all" ;;
*) echo "$c1/$c2" > "$T/u"; not_ok "replay's flow-export filter" "$T/u" ;;
esac

# e. exit status and messages
expect_exit "replay: a missing capture: exit 1, named" 1 "$REPLAY" 127.0.0.1:9 "$T/nope.pcap"
grep -q 'nope.pcap: cannot open' "$T/err" || not_ok "replay names the missing capture" "$T/err"
expect_exit "replay: not a pcap file: exit 1" 1 "$REPLAY" --count-only "$T/c.yaml"
expect_exit "replay: a port out of range: exit 2" 2 "$REPLAY" 127.0.0.1:70000 "$T/mixed.pcap"
expect_exit "replay: no capture: exit 2" 2 "$REPLAY" 127.0.0.1:9
check "replay --help exits 0" "$REPLAY" --help

# ---- 11. darkstab-gen --send -------------------------------------------------
# the same scenario as $T/truth.csv, so the same records in the same order
send_check() {
    fmt=$1
    max=$2
    shift 2
    awk -F, -v format="$fmt" -f "$HERE/datagrams.awk" "$T/truth.csv" > "$T/want_dg"
    start_sink --csv "$T/got_$fmt.csv" "$@"
    "$GEN" --flows-per-day 600 --truth "$T/sent_$fmt.csv" --send-format "$fmt" --rate 200000 \
        --send "127.0.0.1:$PORT" 2> "$T/gen.err"
    st=$?
    wait "$SINK_PID"
    got="datagrams $(sink_value datagrams) template_datagrams $(sink_value template_datagrams)"
    got="$got restarts $(sink_value restarts)"
    records=$(wc -l < "$T/truth.csv" | tr -d ' ')
    if [ $st -eq 0 ] && [ "$got" = "$(cat "$T/want_dg")" ] &&
        [ "$(sink_value records)" = "$records" ] && [ "$(sink_value max_datagram)" -le "$max" ] &&
        [ "$(sink_value sequence_errors)" = 0 ] && [ "$(sink_value unknown_template_sets)" = 0 ] &&
        [ "$(sink_value malformed)" = 0 ] && cmp -s "$T/sent_$fmt.csv" "$T/truth.csv" &&
        same "$T/truth.csv" "$T/got_$fmt.csv"; then
        ok "darkstab-gen --send-format $fmt: $got (as datagrams.awk), $records records as the truth, in order"
    else
        { echo "want: $(cat "$T/want_dg")"; echo "got:  $got"; cat "$T/gen.err" "$T/sink.err" \
              "$T/sink.out"; head -5 "$T/diff" 2> /dev/null; } > "$T/u"
        not_ok "darkstab-gen --send-format $fmt" "$T/u"
    fi
}
send_check netflow9 1400
send_check ipfix 1420 --dump "$T/udp.ipfix"
"$DS" analyze -q -c "$T/c.yaml" --no-store -f json -o "$T/udp.json" "$T/udp.ipfix"
report "$T/udp.json" "$T/gotudp.txt"
if same "$T/want.txt" "$T/gotudp.txt"; then
    ok "the IPFIX sent over UDP, kept by udpsink, gives analyze the file's results"
else
    not_ok "analyze of the IPFIX sent over UDP" "$T/diff"
fi
if "$GEN" --help | grep -q -- '--send-format F'; then ok "darkstab-gen --help shows --send-format"; else
    not_ok "darkstab-gen --help shows --send-format"; fi
expect_exit "darkstab-gen: an unknown --send-format: exit 2" 2 "$GEN" --send 127.0.0.1:9 --send-format v5
expect_exit "darkstab-gen: --send-format without --send: exit 2" 2 "$GEN" --send-format ipfix "$T/x.ipfix"
# --spoofed: random IPv4 sources for a share of the background (bench/sources.sh), the
# rest as without it; the same options write the same bytes
"$GEN" --days 1 --flows-per-day 4000 --no-events --truth "$T/sp0.csv" "$T/sp0.ipfix" 2> /dev/null
"$GEN" --days 1 --flows-per-day 4000 --no-events --spoofed 100 --truth "$T/sp1.csv" "$T/sp1.ipfix" \
    2> /dev/null
"$GEN" --days 1 --flows-per-day 4000 --no-events --spoofed 100 "$T/sp2.ipfix" 2> /dev/null
v4=$(awk -F, '$3 == 4' "$T/sp1.csv" | wc -l)
src1=$(awk -F, '$3 == 4 { print $5 }' "$T/sp1.csv" | sort -u | wc -l)
src0=$(awk -F, '$3 == 4 { print $5 }' "$T/sp0.csv" | sort -u | wc -l)
if [ "$v4" -gt 3000 ] && [ "$src1" -ge $((v4 - 5)) ] && [ "$src0" -lt $((v4 / 2)) ] &&
    cmp -s "$T/sp1.ipfix" "$T/sp2.ipfix"; then
    ok "darkstab-gen --spoofed 100: $src1 distinct sources in $v4 IPv4 flows (without: $src0), the same file twice"
else
    echo "v4 $v4, sources $src1, without $src0" > "$T/sp.why"
    not_ok "darkstab-gen --spoofed" "$T/sp.why"
fi
expect_exit "darkstab-gen: --spoofed 101: exit 2" 2 "$GEN" --spoofed 101 "$T/x.ipfix"
