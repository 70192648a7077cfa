# Sourced by tests/e2e/collect.sh: the collector against broken and hostile
# senders (issue 8), with small limits so that each is reached.
#
#   - a flood of broken datagrams from 1000 addresses on 127.1.0.0/16 (random
#     bytes, lying lengths, random and long templates, withdrawals, data
#     for templates never sent): a real router that starts in the middle of
#     it has every record counted, the senders on probation stay within
#     limits.probation, memory stays bounded, the log stays short;
#   - TCP: connections that send half a message and wait are closed after
#     limits.tcp_message_timeout, and a real exporter's connection gets in
#     while they hold every place;
#   - a restart brings back the real router only.

HOSTILE="$HERE/../tools/hostile.py"
TPORT=$(free_port 7)

# hvalue METRIC LABELS: the value of one sample in m-hostile.txt
hvalue() {
    grep "^$1{$2}" "$T/m-hostile.txt" | awk '{print $NF}'
}

config hostile
sed -i "s|^    - {protocol: netflow9, address: 127.0.0.1, port: $PORT9}|&\n    - {protocol: ipfix, transport: tcp, address: 127.0.0.1, port: $TPORT}|" \
    "$T/hostile.yaml"
cat >> "$T/hostile.yaml" <<EOF
limits:
  exporters: 8
  probation: 16
  templates: 64
  template_fields: 256
  tcp_connections: 4
  tcp_message_timeout: 2s
EOF
if ! command -v python3 > /dev/null; then
    not_ok "hostile senders: python3 is missing (make deps installs it)"
elif ! start hostile; then
    not_ok "hostile senders: the collector did not start" "$LOG"
else
    rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$COL/status")
    python3 "$HOSTILE" flood "$PORT" 1000 6 1 > "$T/flood.out" 2>&1 &
    FLOOD=$!
    PIDS="$PIDS $FLOOD"
    sleep 1
    # a real router comes in the middle of the flood
    "$GEN" --days 1 --flows-per-day 5000 --no-events --seed 5 --truth "$T/good.csv" \
        --send "127.0.0.1:$PORT" --rate 20000 2> /dev/null
    wait "$FLOOD"
    sleep 1.5
    curl -s "http://127.0.0.1:$MPORT/metrics" > "$T/m-hostile.txt"
    rss1=$(awk '/^VmRSS/ {print $2}' "/proc/$COL/status")
    want=$(wc -l < "$T/good.csv")
    got=$(hvalue darkstab_exporter_records_total 'exporter="127.0.0.1",protocol="ipfix"')
    if [ "${got:-0}" = "$want" ]; then
        ok "a real router amid $(cat "$T/flood.out") broken datagrams from 1000 senders: all its $want records counted"
    else
        not_ok "a real router amid a flood: ${got:-0} of its $want records counted" \
            "$T/m-hostile.txt"
    fi
    prob=$(hvalue darkstab_exporters 'state="probation"')
    est=$(hvalue darkstab_exporters 'state="established"')
    ev=$(hvalue darkstab_exporter_evictions_total 'reason="probation"')
    lim=$(hvalue darkstab_limit_reached_total 'limit="limits.probation"')
    if [ "${prob:-99}" -le 16 ] && [ "${est:-0}" = 1 ] && [ "${ev:-0}" -ge 984 ] &&
        [ "${lim:-0}" = "${ev:-0}" ]; then
        ok "senders on probation: $prob (limits.probation 16), $ev evicted, 1 established"
    else
        not_ok "senders on probation: ${prob:-?} on probation, ${est:-?} established, ${ev:-?} evicted, limit counted ${lim:-?}" \
            "$T/m-hostile.txt"
    fi
    # the ring (64 MB, as the flood fills it) and 16 sessions of about 80 KB:
    # before probation, a session each, 1000 of about 450 KB
    # (under AddressSanitizer, its quarantine and shadow are most of it: not measured)
    if [ -n "${DS_SANITIZED:-}" ]; then
        ok "# skip memory under the flood: $((rss0 / 1024)) MB before, $((rss1 / 1024)) MB after, AddressSanitizer's"
    elif [ $((rss1 - rss0)) -lt 81920 ]; then
        ok "memory under the flood: $((rss0 / 1024)) MB before, $((rss1 / 1024)) MB after"
    else
        not_ok "memory under the flood: $((rss0 / 1024)) MB before, $((rss1 / 1024)) MB after"
    fi
    # warnings are rate-limited: one per 10 s per kind, a few per exporter
    nwarn=$(grep -c ' warning: ' "$LOG")
    tl=$(hvalue darkstab_limit_reached_total 'limit="limits.template_fields"')
    if [ "$nwarn" -le 40 ] && grep -q 'limits.probation (16) reached' "$LOG" &&
        [ "${tl:-0}" -gt 0 ]; then
        ok "the flood logged $nwarn warnings for $(cat "$T/flood.out") datagrams; long templates refused ($tl, limits.template_fields)"
    else
        not_ok "the flood logged $nwarn warnings, template_fields counted ${tl:-?}" "$LOG"
    fi

    # TCP: four connections hold half a message each, a real exporter still gets in
    before=$got
    python3 "$HOSTILE" hold "$TPORT" 4 4 > "$T/hold.out" 2>&1 &
    HOLD=$!
    PIDS="$PIDS $HOLD"
    sleep 0.7
    python3 "$HOSTILE" good "$TPORT" 200
    wait "$HOLD"
    sleep 1.5
    curl -s "http://127.0.0.1:$MPORT/metrics" > "$T/m-hostile.txt"
    got=$(hvalue darkstab_exporter_records_total 'exporter="127.0.0.1",protocol="ipfix"')
    if [ "$((${got:-0} - before))" = 200 ]; then
        ok "TCP: a real exporter gets in while half-sent messages hold every connection"
    else
        not_ok "TCP: the real exporter had $((${got:-0} - before)) of 200 records counted" \
            "$T/m-hostile.txt"
    fi
    closed=$(cat "$T/hold.out")
    tev=$(hvalue darkstab_limit_reached_total 'limit="limits.tcp_connections"')
    tto=$(hvalue darkstab_limit_reached_total 'limit="limits.tcp_message_timeout"')
    open=$(metric darkstab_socket_tcp_connections "$T/m-hostile.txt")
    if [ "$closed" = 4 ] && [ "${tev:-0}" = 1 ] && [ "${tto:-0}" = 3 ] && [ "$open" = 0 ]; then
        ok "TCP: the 4 waiting connections closed (1 for the newcomer, 3 after limits.tcp_message_timeout)"
    else
        not_ok "TCP: ${closed:-?} of 4 waiting connections closed, ${tev:-?} evicted, ${tto:-?} timed out, $open open" \
            "$T/m-hostile.txt"
    fi

    # a restart brings back the real router, not the flood
    stop
    if start hostile && wait_log "state of 1 exporters restored"; then
        ok "a restart restores the 1 established exporter and none of the flood's"
    else
        not_ok "a restart restored: $(grep -o 'state of [0-9]* exporters' "$LOG")" "$LOG"
    fi
    stop
fi

# ---- floods and churn: 1000 real exporters amid 2000 garbage senders ---------------------
# The same 1000 exporters (half IPFIX, half NetFlow v9; templates withdrawn
# and reused with other layouts, v9 ids reused with other lengths) once
# alone, once while 2000 other addresses send garbage: the same results,
# every record counted, memory within the bound of the limits.
churn_run() {
    config "$1"
    printf 'limits:\n  probation: 64\n' >> "$T/$1.yaml"
    start "$1" || { not_ok "churn: the collector did not start ($1)" "$LOG"; return 1; }
    if [ "$2" = flood ]; then
        python3 "$HOSTILE" flood "$PORT" 2000 8 3 > "$T/$1.flood" 2>&1 &
        FLOOD=$!
        PIDS="$PIDS $FLOOD"
        sleep 1
    fi
    python3 "$HOSTILE" real "$PORT" "$PORT9" 1000 11 > "$T/$1.sent" 2> "$T/$1.err"
    [ "$2" = flood ] && wait "$FLOOD"
    wait_log "every exporter is idle" 40
    curl -s "http://127.0.0.1:$MPORT/metrics" > "$T/m-$1.txt"
    rss1=$(awk '/^VmRSS/ {print $2}' "/proc/$COL/status")
    stop TERM
    results_json "$1"
    return 0
}
# real_of METRICS: the records counted from the real exporters, 127.2.x.y
real_of() {
    grep '^darkstab_exporter_records_total{exporter="127\.2\.' "$1" |
        awk '{s += $NF} END {print s + 0}'
}
if command -v python3 > /dev/null && churn_run churnq quiet && churn_run churnf flood; then
    sent=$(cat "$T/churnf.sent")
    analyses_of "$T/churnq.json" "$T/cq.json"
    analyses_of "$T/churnf.json" "$T/cf.json"
    if cmp -s "$T/cq.json" "$T/cf.json" && [ "$(real_of "$T/m-churnq.txt")" = "$sent" ] &&
        [ "$(real_of "$T/m-churnf.txt")" = "$sent" ] &&
        [ "$(jq '[.[0].slots[].packets] | add' "$T/cf.json")" -gt 0 ]; then
        ok "1000 real exporters amid $(cat "$T/churnf.flood") garbage datagrams from 2000 addresses: all $sent records, the results of a quiet run"
    else
        diff "$T/cq.json" "$T/cf.json" > "$T/diff"
        echo "records: quiet $(real_of "$T/m-churnq.txt"), flood $(real_of "$T/m-churnf.txt")" \
            "of $sent" >> "$T/diff"
        not_ok "1000 real exporters amid a flood: the results of a quiet run" "$T/diff"
    fi
    est=$(grep '^darkstab_exporters{state="established"}' "$T/m-churnf.txt" | awk '{print $NF}')
    ev=$(grep '^darkstab_exporter_evictions_total{reason="probation"}' "$T/m-churnf.txt" |
         awk '{print $NF}')
    drops=$(grep '^darkstab_exporter_dropped_total' "$T/m-churnf.txt" |
            grep -v 'exporter="127\.2\.' | awk '{s += $NF} END {print s + 0}')
    if [ "${est:-0}" -ge 1000 ] && [ "${ev:-0}" -ge 1000 ] && [ "${drops:-0}" -gt 0 ]; then
        ok "churn metrics: $est established, $ev garbage senders evicted from probation, $drops datagrams dropped by reason"
    else
        not_ok "churn metrics: ${est:-?} established, ${ev:-?} evicted, ${drops:-?} dropped" \
            "$T/m-churnf.txt"
    fi
    # the README's bound for these limits: the ring (64 MB), (1000 + 64 + 256) sessions of
    # 80 KB, their templates, open slots of a few hundred groups: under 250 MB
    if [ -n "${DS_SANITIZED:-}" ]; then
        ok "# skip churn memory: $((rss1 / 1024)) MB, AddressSanitizer's"
    elif [ "$rss1" -lt 256000 ]; then
        ok "churn memory: $((rss1 / 1024)) MB resident, within the bound of the limits"
    else
        not_ok "churn memory: $((rss1 / 1024)) MB resident, above 250 MB"
    fi
fi
