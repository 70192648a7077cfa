# Sourced by tests/e2e/collect.sh: the collector against real exporters.
#
#   - softflowd and pmacctd (from Debian) turn a pcap made by the test into
#     NetFlow v5, v9, IPFIX and sFlow; every packet must be counted, port by
#     port, as the pcap's own counts say (tests/tools/mkpcap.c);
#   - the captures of tests/data/captures (Cisco, Juniper, Nokia, Huawei,
#     softflowd, nProbe, YAF, ...) replayed datagram by datagram: records
#     and packets as their ground truth (truth.tsv).

# The pcap the exporters read, and its packets per port (the tests below need both).
"$BUILD/tests/mkpcap" --packets 20000 --seed 3 "$T/p.pcap" > "$T/pcap-ports.txt"
pcap_packets=$(awk '{s += $3} END {print s}' "$T/pcap-ports.txt")

# exporter_value METRIC ADDRESS PROTOCOL: from the metrics saved in m-exp.txt
exporter_value() {
    grep "^$1{exporter=\"$2\",protocol=\"$3\"}" "$T/m-exp.txt" | awk '{print $NF}'
}

# ---- softflowd and pmacctd ---------------------------------------------------
if command -v softflowd > /dev/null && command -v pmacctd > /dev/null; then
    config exporters
    # every destination counted; one-hour slots, groups by exporter too, every group
    # above 0.001%: all of them, to compare port by port
    sed -i 's/^  exclude: .*/  exclude: []/; s/^    keys: \[proto, dst_port\]/    keys: [exporter, proto, dst_port]/; s/^    thresholds: \[1.0, 0.75, 0.5\]/    thresholds: [0.001]\n    slot: 1h/' \
        "$T/exporters.yaml"
    start exporters
    # softflowd from 127.0.0.1; -a: flow times from the pcap (without it softflowd
    # 1.1.0 stamps IPFIX uptimes against its own start, and the times make no sense)
    for v in 5 9 10; do
        softflowd -r "$T/p.pcap" -n "127.0.0.1:$PORT9" -v "$v" -a -d -p "$T/softflowd.pid" \
            > "$T/softflowd-$v.log" 2>&1
    done
    # pmacctd from 127.0.0.2
    {
        echo "daemonize: false"
        echo "pcap_savefile: $T/p.pcap"
        echo "plugins: nfprobe[n9], nfprobe[n10], sfprobe[sf]"
        for p in n9 n10; do
            echo "nfprobe_receiver[$p]: 127.0.0.1:$PORT9"
            echo "nfprobe_source_ip[$p]: 127.0.0.2"
        done
        echo "nfprobe_version[n9]: 9"
        echo "nfprobe_version[n10]: 10"
        echo "sfprobe_receiver[sf]: 127.0.0.1:$PORT9"
        echo "sfprobe_source_ip[sf]: 127.0.0.2"
        echo "sfprobe_agentip[sf]: 127.0.0.2"
        echo "sfprobe_sampling_rate[sf]: 1"
    } > "$T/pmacctd.conf"
    pmacctd -f "$T/pmacctd.conf" > "$T/pmacctd.log" 2>&1
    sleep 1
    curl -s "http://127.0.0.1:$MPORT/metrics" > "$T/m-exp.txt"
    for proto in netflow5 netflow9 ipfix; do
        got=$(exporter_value darkstab_exporter_counted_packets_total 127.0.0.1 $proto)
        if [ "${got:-0}" = "$pcap_packets" ]; then
            ok "softflowd over $proto: every packet of the pcap counted ($got)"
        else
            not_ok "softflowd over $proto: ${got:-0} packets counted, the pcap has $pcap_packets" \
                "$T/m-exp.txt"
        fi
    done
    # pmacctd 1.7.7 loses records itself when it stops: at the end of the pcap its core
    # tells the plugins to quit, and an nfprobe plugin still holding its cache (up to
    # 8192 flows) or data in its pipe may be ended before it has exported them.  How
    # much is lost depends on the machine's load (nothing on an idle machine, 8192 of
    # 20000 on an overloaded one), so the pcap is no witness here.  What pmacctd sent
    # must all be counted: no sequence gap, no kernel drop, nothing counted twice,
    # and something sent at all
    for proto in netflow9 ipfix sflow; do
        got=$(exporter_value darkstab_exporter_counted_packets_total 127.0.0.2 $proto)
        missed=$(exporter_value darkstab_exporter_missed_records_total 127.0.0.2 $proto)
        drops=$(metric darkstab_socket_kernel_drops_total "$T/m-exp.txt")
        if [ "${got:-0}" -le "$pcap_packets" ] && [ "${got:-0}" -gt 0 ] &&
            [ "${missed:-1}" = 0 ] && [ "$drops" = 0 ]; then
            ok "pmacctd over $proto: everything it sent counted ($got of the pcap's $pcap_packets)"
            [ "$got" -lt $((pcap_packets - 50)) ] &&
                echo "# pmacctd exported only $got of the pcap's $pcap_packets (loaded machine)"
        else
            not_ok "pmacctd over $proto: ${got:-0} counted of $pcap_packets, ${missed:-?} missed, $drops dropped" \
                "$T/m-exp.txt"
        fi
    done
    wait_log "every exporter is idle" 30
    stop TERM
    results_json exporters
    # port by port, softflowd's v5, v9 and IPFIX (exporter 127.0.0.1): three times the pcap
    jq -r '[.analyses[0].slots[].top[] | select(.key.exporter | startswith("127.0.0.1"))
            | {k: "\(.key.proto) \(.key.dst_port)", n: .packets}]
           | group_by(.k)[] | "\(.[0].k) \(map(.n) | add)"' "$T/exporters.json" |
        sed 's/^tcp /6 /; s/^udp /17 /; s/^icmp none /1 0 /' | sort > "$T/got-ports.txt"
    awk '{print $1, $2, 3 * $3}' "$T/pcap-ports.txt" | sort > "$T/want-ports.txt"
    if cmp -s "$T/want-ports.txt" "$T/got-ports.txt"; then
        ok "per port, the stored counts are the pcap's, in NetFlow v5, v9 and IPFIX"
    else
        paste "$T/want-ports.txt" "$T/got-ports.txt" > "$T/out"
        not_ok "per port, the stored counts are the pcap's (want, got)" "$T/out"
    fi
else
    not_ok "softflowd and pmacctd are installed (make deps)"
fi

# ---- the captures of real routers --------------------------------------------
if [ -x "$BUILD/tests/replay" ]; then
    CAP="$HERE/../data/captures"
    {
        echo "store:"
        echo "  path: $T/caps.db"
        echo "collector:"
        echo "  listen:"
        echo "    - {protocol: ipfix, address: 127.0.0.1, port: $PORT}"
        echo "  idle_close: 10s"
        echo "$USER_LINE"
        echo "metrics:"
        echo "  listen: 127.0.0.1:$MPORT"
    } > "$T/caps.yaml"
    start caps
    # each capture (after those that hold its templates) from addresses of its own;
    # the collector tells protocols apart by their version field, as it must when a
    # router sends v5 and sFlow to one port
    i=0
    # (awk, not read: read would merge the empty columns of tab-separated lines)
    awk -F'\t' 'NR > 1 {print $1 "|" $13}' "$CAP/truth.tsv" | while IFS='|' read -r file first; do
        files=""
        for f in $(echo "$first" | tr '+' ' '); do files="$files $CAP/$f"; done
        "$BUILD/tests/replay" -v --gap 20 --first "127.1.$((i / 8)).$((32 * (i % 8) + 1))" \
            "127.0.0.1:$PORT" $files "$CAP/$file" 2> /dev/null |
            awk -v f="$file" '/ -> / {print f, $3}'
        i=$((i + 1))
    done > "$T/cap-map.txt"
    sleep 2
    curl -s "http://127.0.0.1:$MPORT/metrics" > "$T/m-caps.txt"
    stop TERM
    # per capture, the records and packets of its exporters against truth.tsv; the
    # captures it needs first count with it, so their rows are added to what it wants
    awk -F'\t' -v OFS='\t' '
        FILENAME ~ /truth/ {
            if (FNR == 1) next
            recs[$1] = $4; pk[$1] = $5; req[$1] = $13; ver[$1] = $2; order[++n] = $1; next
        }
        FILENAME ~ /cap-map/ { split($0, a, " "); local[a[1]] = local[a[1]] " " a[2]; next }
        /^darkstab_exporter_(records|received_packets)_total/ {
            match($0, /exporter="[^"]*"/)
            e = substr($0, RSTART + 10, RLENGTH - 11)
            v = $0
            sub(/.* /, "", v)
            if ($0 ~ /^darkstab_exporter_records/) r[e] += v; else p[e] += v
        }
        END {
            for (k = 1; k <= n; k++) {
                f = order[k]; wr = recs[f]; wp = pk[f]
                m = split(req[f], rq, "[ +]+")
                for (j = 1; j <= m; j++)
                    if (rq[j] != "") { wr += recs[rq[j]]; wp += pk[rq[j]] }
                gr = 0; gp = 0
                u = split(local[f], l, " ")
                for (j = 1; j <= u; j++) { gr += r[l[j]]; gp += p[l[j]] }
                print f, ver[f], wr, gr, (pk[f] == "" ? "-" : wp), gp
            }
        }' "$CAP/truth.tsv" "$T/cap-map.txt" "$T/m-caps.txt" > "$T/cap-cmp.txt"
    # refused on purpose: count and length disagree ("garbage by design", MANIFEST.md)
    awk -F'\t' '$1 !~ /nf5_invalid0[12]_malformed/ && ($3 != $4 || ($5 != "-" && $5 != $6))' \
        "$T/cap-cmp.txt" > "$T/out"
    n=$(wc -l < "$T/cap-cmp.txt")
    if [ ! -s "$T/out" ] && [ "$n" -ge 110 ]; then
        ok "$n captures of real exporters replayed over UDP: records and packets as truth.tsv"
    else
        not_ok "captures replayed over UDP (file, version, records want/got, packets want/got)" \
            "$T/out"
    fi
    nd=$(tail -n +2 "$CAP/truth.tsv" | awk -F'\t' '$9 > 0' | wc -l)
    echo "# $nd captures hold data sets sent before their templates: no streaming collector"
    echo "# can decode those, truth.tsv counts them out too, and so does this test"
else
    not_ok "the replay tool is built"
fi

# ---- sampling overrides, IPFIX over TCP and SCTP, an exporter that pauses --------
if command -v softflowd > /dev/null && [ -x "$BUILD/tests/replay" ]; then
    TPORT=$(free_port 7)
    config more
    sed -i "s|^    - {protocol: netflow9, address: 127.0.0.1, port: $PORT9}|&\n    - {protocol: ipfix, transport: tcp, address: 127.0.0.1, port: $TPORT}|" \
        "$T/more.yaml"
    sed -i 's/^  exclude: .*/  exclude: []/; s/^  prefixes: .*/  prefixes: [0.0.0.0\/0, "::\/0"]/' \
        "$T/more.yaml"
    sed -i 's/^  checkpoint: 2s/  checkpoint: 2s\n  sampling:\n    - {exporter: 127.0.0.1, default: 3}\n    - {exporter: 127.6.0.0\/24, rate: 7}/' \
        "$T/more.yaml"
    start more
    # NetFlow v5 from softflowd announces no sampling: the default applies
    softflowd -r "$T/p.pcap" -n "127.0.0.1:$PORT9" -v 5 -a -d -p "$T/softflowd.pid" \
        > /dev/null 2>&1
    # a Cisco capture announcing 1 in 1000 in its options, from an exporter whose rate is forced
    CAPS="$HERE/../data/captures/akvorado"
    "$BUILD/tests/replay" --gap 20 --first 127.6.0.1 "127.0.0.1:$PORT" \
        "$CAPS/samplingrate-template.pcap" "$CAPS/samplingrate-data.pcap" > /dev/null
    # IPFIX over TCP from softflowd
    softflowd -r "$T/p.pcap" -n "127.0.0.1:$TPORT" -v 10 -P tcp -a -d -p "$T/softflowd.pid" \
        > "$T/softflowd-tcp.log" 2>&1
    # an exporter that pauses longer than collector.idle_close keeps its templates
    "$BUILD/tests/replay" --first 127.7.0.1 "127.0.0.1:$PORT" "$CAPS/icmp-template.pcap" \
        > /dev/null
    sleep 12
    "$BUILD/tests/replay" --first 127.7.0.1 "127.0.0.1:$PORT" "$CAPS/icmp-data.pcap" > /dev/null
    sleep 1
    curl -s "http://127.0.0.1:$MPORT/metrics" > "$T/m-exp.txt"
    v5=$(exporter_value darkstab_exporter_counted_packets_total 127.0.0.1 netflow5)
    r5=$(exporter_value darkstab_exporter_sampling_rate 127.0.0.1 netflow5)
    if [ "${v5:-0}" = $((3 * pcap_packets)) ] && [ "$r5" = 3 ]; then
        ok "collector.sampling default: an exporter that announces nothing is scaled by it (1 in $r5)"
    else
        not_ok "collector.sampling default: ${v5:-0} packets at rate ${r5:-?}, want $((3 * pcap_packets)) at 3" \
            "$T/m-exp.txt"
    fi
    raw=$(exporter_value darkstab_exporter_received_packets_total 127.6.0.1 netflow9)
    v9=$(exporter_value darkstab_exporter_counted_packets_total 127.6.0.1 netflow9)
    r9=$(exporter_value darkstab_exporter_sampling_rate 127.6.0.1 netflow9)
    if [ "${raw:-0}" -gt 0 ] && [ "${v9:-0}" = $((7 * raw)) ] && [ "$r9" = 7 ]; then
        ok "collector.sampling rate: forced over the 1 in 1000 the exporter announces ($raw packets, counted $v9)"
    else
        not_ok "collector.sampling rate: ${raw:-0} packets counted as ${v9:-0} at ${r9:-?}" "$T/m-exp.txt"
    fi
    tcp=$(metric darkstab_socket_tcp_connections "$T/m-exp.txt")
    vt=$(exporter_value darkstab_exporter_counted_packets_total 127.0.0.1 ipfix)
    # softflowd's IPFIX announces its sampling (1 in 1): the default does not apply
    if [ "${vt:-0}" = "$pcap_packets" ]; then
        ok "IPFIX over TCP from softflowd: every packet counted, at the rate it announces (1 in 1)"
    else
        not_ok "IPFIX over TCP from softflowd: ${vt:-0} packets, want $pcap_packets ($tcp open)" \
            "$T/softflowd-tcp.log"
    fi
    # two records with the templates, two in the data-only capture after the pause
    ri=$(exporter_value darkstab_exporter_records_total 127.7.0.1 netflow9)
    if [ "${ri:-0}" = 4 ] && grep -q "127.7.0.1 netflow9 sent nothing" "$LOG"; then
        ok "an exporter idle longer than idle_close keeps its templates: its data decodes after the pause"
    else
        not_ok "an exporter idle longer than idle_close keeps its templates (${ri:-0} records)" "$LOG"
    fi
    stop TERM
    # SCTP where the platform has it
    SPORT=$(free_port 8)
    config sctp
    sed -i "s|^    - {protocol: netflow9, address: 127.0.0.1, port: $PORT9}|    - {protocol: ipfix, transport: sctp, address: 127.0.0.1, port: $SPORT}|" \
        "$T/sctp.yaml"
    if start sctp; then
        softflowd -r "$T/p.pcap" -n "127.0.0.1:$SPORT" -v 10 -P sctp -a -d -p "$T/softflowd.pid" \
            > /dev/null 2>&1
        sleep 1
        vs=$(metric 'darkstab_exporter_counted_packets_total{exporter="127.0.0.1",protocol="ipfix"}')
        stop TERM
        [ "$vs" = "$pcap_packets" ] && ok "IPFIX over SCTP from softflowd: every packet counted" ||
            not_ok "IPFIX over SCTP from softflowd: $vs packets counted" "$LOG"
    elif grep -q "SCTP is not available here" "$LOG"; then
        ok "no SCTP in this kernel: collect says so, naming the listener, and exits"
    else
        not_ok "an SCTP listener" "$LOG"
    fi
fi
