#!/bin/sh
# End-to-end tests of "darkstab collect" and "darkstab results", with real
# UDP traffic on 127.0.0.1.
#
#   sh tests/e2e/collect.sh BUILD_DIR
#
# The central test sends a generated scenario to the collector over UDP and
# requires the same results as "darkstab analyze" on the same records read
# from files.  The others check what an operator relies on: restarts (an
# orderly stop, and kill -9) that lose and double nothing, late records
# that revise a slot, SIGHUP, the metrics, the archive, completeness,
# running as root, and errors at start.
#
# Prints "ok - ..." or "not ok - ..." per test, then "collect: N passed, N
# failed"; appends "passed failed" to $RESULTS if set.
set -u
BUILD=${1:-build}
DS="$(cd "$(dirname "$BUILD/darkstab")" && pwd)/darkstab"
GEN="$(cd "$(dirname "$BUILD/darkstab-gen")" && pwd)/darkstab-gen"
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/darkstab-collect-XXXXXX)
# started as root, the collector becomes "nobody": it must be able to write here
chmod 0777 "$T"
PIDS=""
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2> /dev/null; done
    for p in $PIDS; do wait "$p" 2> /dev/null; done
    umount "$T/full" 2> /dev/null
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
export TZ=UTC

. "$HERE/lib.sh"

# A UDP and TCP port nobody listens on, from a pseudo-random start.
free_port() {
    p=$((20000 + ($$ * 7 + ${1:-0} * 131) % 30000))
    while ss -Hlnu "sport = :$p" | grep -q . || ss -Hlnt "sport = :$p" | grep -q .; do
        p=$((p + 1))
    done
    echo "$p"
}

USER_LINE=""
if [ "$(id -u)" = 0 ]; then USER_LINE="  user: nobody"; fi

PORT=$(free_port 1)
PORT9=$(free_port 2)
MPORT=$(free_port 3)

# config NAME: a configuration with its own store.  drilldown.lists memory:
# analyze would otherwise read its unstable slots back and list them
# exactly, and the collector reads them back only from an archive (6b),
# keeping Space-Saving lists in memory otherwise; with the lists in memory
# on both sides, the same records give the same lists, and the comparisons
# below hold for every member of the JSON.
config() {
    name=$1
    cat > "$T/$name.yaml" <<EOF
timezone: Asia/Tokyo
darknet:
  prefixes: [198.18.0.0/16, "2001:db8:dead::/48"]
  exclude: [198.18.0.0/24]
store:
  path: $T/$name.db
collector:
  listen:
    - {protocol: ipfix, address: 127.0.0.1, port: $PORT}
    - {protocol: netflow9, address: 127.0.0.1, port: $PORT9}
  lateness: 1m
  idle_close: 10s
  checkpoint: 2s
$USER_LINE
metrics:
  listen: 127.0.0.1:$MPORT
drilldown:
  lists: memory
analyses:
  - name: ports
    keys: [proto, dst_port]
    window: 7
    thresholds: [1.0, 0.75, 0.5]
EOF
}

# start NAME: runs the collector of NAME.yaml in the background, logging to a
# file of its own (LOG), and waits for it to listen
RUNS=0
start() {
    RUNS=$((RUNS + 1))
    LOG="$T/$1.$RUNS.log"
    "$DS" collect -c "$T/$1.yaml" --foreground -v > "$LOG" 2>&1 &
    COL=$!
    PIDS="$PIDS $COL"
    for _ in $(seq 1 50); do
        grep -q "collect: listening on" "$LOG" 2> /dev/null && return 0
        kill -0 "$COL" 2> /dev/null || return 1
        sleep 0.1
    done
    return 1
}

# stop [SIGNAL]: stops the collector, waits for it; its exit status in STOPPED
stop() {
    kill "-${1:-TERM}" "$COL" 2> /dev/null
    wait "$COL" 2> /dev/null
    STOPPED=$?
}

# wait_log PATTERN [SECONDS]: until the running collector's log shows PATTERN
wait_log() {
    for _ in $(seq 1 $((${2:-20} * 10))); do
        grep -q "$1" "$LOG" && return 0
        sleep 0.1
    done
    return 1
}

# send_to PORT ARGS...: darkstab-gen ARGS, sent to 127.0.0.1:PORT at 50,000 records a second
send_to() {
    to=$1
    shift
    "$GEN" "$@" --send "127.0.0.1:$to" --rate 50000 2> /dev/null
}

# metric NAME [FILE]: the sum over the lines that start with NAME, of the running
# collector's metrics or of FILE, a copy of them
metric() {
    if [ -n "${2:-}" ]; then cat "$2"; else curl -s "http://127.0.0.1:$MPORT/metrics"; fi |
        grep "^$1" | awk '{s += $NF} END {print s + 0}'
}

# results_json NAME: the stored results of NAME.yaml as JSON, into NAME.json
results_json() {
    "$DS" results -q -c "$T/$1.yaml" -f json -o "$T/$1.json"
}

# The analyses of a report, without what only one side can know: live slots
# carry their completeness, analyze's report its input.
analyses_of() {
    jq -S '[.analyses[] | del(.late_flows) | .slots |= map(del(.completeness, .incomplete))]' \
        "$1" > "$2"
}

# ---- the scenario: 20 days with the paper's four cases in them -----------
"$GEN" --days 20 --start 2013-02-25 --flows-per-day 400 "$T/all.ipfix" 2> /dev/null
config files
"$DS" analyze -q -c "$T/files.yaml" -f json -o "$T/files.json" "$T/all.ipfix"

# 1. the same records over UDP (IPFIX) give the same results
config live
if start live; then
    send_to "$PORT" --days 20 --start 2013-02-25 --flows-per-day 400
    if wait_log "every exporter is idle" 30 && wait_log "ports 2013-03-16" 10; then
        ok "collect: slots close on the records' times, and all once the exporter is idle"
    else
        not_ok "collect: slots close on the records' times, and all once the exporter is idle" \
            "$LOG"
    fi
    records=$(metric 'darkstab_exporter_records_total')
    stop TERM
    results_json live
    analyses_of "$T/files.json" "$T/a.json"
    analyses_of "$T/live.json" "$T/b.json"
    if cmp -s "$T/a.json" "$T/b.json" && [ "$(jq '.[0].slots | length' "$T/a.json")" -ge 20 ]; then
        ok "collect over UDP gives the JSON of analyze on the files ($records records)"
    else
        diff "$T/a.json" "$T/b.json" > "$T/diff"
        not_ok "collect over UDP gives the JSON of analyze on the files" "$T/diff"
    fi
    [ "$STOPPED" = 0 ] && ok "SIGTERM: exit status 0 after saving" ||
        not_ok "SIGTERM: exit status $STOPPED" "$LOG"
    if jq -e '[.analyses[0].slots[] | select(.completeness != null)] | length >= 20' \
        "$T/live.json" > /dev/null &&
        jq -e '[.analyses[0].slots[] | .completeness.loss_percent] | max == 0' \
            "$T/live.json" > /dev/null; then
        ok "every live slot has its completeness, nothing lost on loopback"
    else
        not_ok "every live slot has its completeness" "$T/live.json"
    fi
    # (at 400 flows a day the generator's 03-06 event is scaled down to 23
    # sources: the line names a cause and its evidence, whichever it is)
    if grep -q "ports 2013-03-06T00:00:00+09:00: .*UNSTABLE, probable cause [a-z]*: .*sources" \
        "$LOG"; then
        ok "one log line per closed slot, with its status and probable cause"
    else
        not_ok "one log line per closed slot, with its status" "$LOG"
    fi
else
    not_ok "collect starts" "$LOG"
fi

# 1b. and the same records as NetFlow v9 (times as uptimes against the header's)
config live9
if start live9; then
    send_to "$PORT9" --days 20 --start 2013-02-25 --flows-per-day 400 --send-format netflow9
    wait_log "every exporter is idle" 30
    stop TERM
    results_json live9
    analyses_of "$T/live9.json" "$T/b.json"
    if cmp -s "$T/a.json" "$T/b.json"; then
        ok "collect over NetFlow v9 gives the JSON of analyze on the files"
    else
        diff "$T/a.json" "$T/b.json" > "$T/diff"
        not_ok "collect over NetFlow v9 gives the JSON of analyze on the files" "$T/diff"
    fi
else
    not_ok "collect starts (v9)" "$LOG"
fi

# 2. a restart in the middle: an orderly stop counts nothing twice and loses nothing
"$GEN" --days 10 --start 2013-02-25 --flows-per-day 400 --seed 11 "$T/h1.ipfix" 2> /dev/null
"$GEN" --days 10 --start 2013-03-07 --flows-per-day 400 --seed 12 "$T/h2.ipfix" 2> /dev/null
config halves
"$DS" analyze -q -c "$T/halves.yaml" --store "$T/h.db" -f json -o "$T/h.json" \
    "$T/h1.ipfix" "$T/h2.ipfix"
config restart
start restart
send_to "$PORT" --days 10 --start 2013-02-25 --flows-per-day 400 --seed 11
sleep 1
stop TERM
start restart
if grep -q "1 open slots restored" "$LOG"; then
    ok "a restart restores the open slot of the last checkpoint"
else
    not_ok "a restart restores the open slot of the last checkpoint" "$LOG"
fi
send_to "$PORT" --days 10 --start 2013-03-07 --flows-per-day 400 --seed 12
wait_log "every exporter is idle" 30
stop TERM
results_json restart
analyses_of "$T/h.json" "$T/a.json"
analyses_of "$T/restart.json" "$T/b.json"
if cmp -s "$T/a.json" "$T/b.json"; then
    ok "stopped and restarted mid-slot: the results of analyze, nothing lost or counted twice"
else
    diff "$T/a.json" "$T/b.json" > "$T/diff"
    not_ok "stopped and restarted mid-slot: the results of analyze" "$T/diff"
fi

# 3. kill -9 under load: at most a checkpoint interval lost, the slots it touches say
# so, and every other slot is what analyze counts in the same records, none twice
config crash
start crash
"$GEN" --days 3 --start 2013-02-25 --flows-per-day 20000 --seed 5 \
    --send "127.0.0.1:$PORT" --rate 15000 2> /dev/null &
SENDER=$!
PIDS="$PIDS $SENDER"
# after the first checkpoint (collector.checkpoint 2s), a second before the sender ends
sleep 2.8
stop KILL
wait "$SENDER"
start crash
if grep -q "stopped without saving" "$LOG"; then
    ok "after kill -9 the restart says the last run did not save"
else
    not_ok "after kill -9 the restart says the last run did not save" "$LOG"
fi
send_to "$PORT" --days 3 --start 2013-02-28 --flows-per-day 2000 --seed 6
wait_log "every exporter is idle" 30
stop TERM
results_json crash
if jq -e '[.analyses[0].slots[] | select(.incomplete == true and (.completeness.reasons |
          map(test("stopped without saving")) | any))] | length >= 1' "$T/crash.json" \
    > /dev/null && jq -e '[.analyses[0].slots[] | select(.incomplete == true) |
          .thresholds[].status] | all(. == "incomplete")' "$T/crash.json" > /dev/null; then
    ok "the slot open at kill -9 is incomplete, not judged, and says why"
else
    jq '.analyses[0].slots[] | {start, incomplete, completeness}' "$T/crash.json" > "$T/out"
    not_ok "the slot open at kill -9 is incomplete, not judged, and says why" "$T/out"
fi
if [ "$(jq '[.analyses[0].slots[] | select(.packets > 0)] | length' "$T/crash.json")" -ge 5 ]; then
    ok "after kill -9 the collector goes on from its checkpoint"
else
    not_ok "after kill -9 the collector goes on from its checkpoint" "$T/crash.json"
fi
"$GEN" --days 3 --start 2013-02-25 --flows-per-day 20000 --seed 5 "$T/crash1.ipfix" 2> /dev/null
"$GEN" --days 3 --start 2013-02-28 --flows-per-day 2000 --seed 6 "$T/crash2.ipfix" 2> /dev/null
config crashfiles
"$DS" analyze -q -c "$T/crashfiles.yaml" -f json -o "$T/crashfiles.json" "$T/crash1.ipfix" \
    "$T/crash2.ipfix"
# counts and TopN of every slot; statuses differ, an incomplete slot leaving the window
if jq -e -n --slurpfile a "$T/crashfiles.json" --slurpfile b "$T/crash.json" '
    def counts: [.packets, .flows, .groups, [.thresholds[].topn]];
    ($a[0].analyses[0].slots | map({key: .start, value: .}) | from_entries) as $want |
    [$b[0].analyses[0].slots[] | select(.packets > 0)] as $got |
    ([$got[] | select(.incomplete != true)] | length >= 3 and
        all(counts == ($want[.start] | counts))) and
    ($got | all(.packets <= $want[.start].packets))' > /dev/null; then
    ok "after kill -9 under load: every complete slot is analyze's, none counted twice"
else
    jq -c '.analyses[0].slots[] | {start, packets, flows, incomplete}' "$T/crash.json" \
        > "$T/out"
    jq -c '.analyses[0].slots[] | {start, packets, flows}' "$T/crashfiles.json" >> "$T/out"
    not_ok "after kill -9 under load: every complete slot is analyze's" "$T/out"
fi

# 3b. killed before its first periodic checkpoint: the next start still knows
config crash0
start crash0
send_to "$PORT" --days 1 --start 2013-02-25 --flows-per-day 200 --seed 7
stop KILL
start crash0
if grep -q "stopped without saving" "$LOG"; then
    ok "kill -9 before the first periodic checkpoint: the restart says the run did not save"
else
    not_ok "kill -9 before the first periodic checkpoint: the restart says the run did not save" \
        "$LOG"
fi
stop TERM

# 4. late records: added to their closed slot, which is judged again and marked revised
config late
start late
send_to "$PORT" --days 9 --start 2013-02-25 --flows-per-day 400 --seed 21
wait_log "ports 2013-03-04T" 20
send_to "$PORT" --days 1 --start 2013-02-27 --flows-per-day 100 --seed 22 --no-events
if wait_log "ports 2013-02-27T00:00:00+09:00 (revised)" 20; then
    ok "late records revise their closed slot (log)"
else
    not_ok "late records revise their closed slot (log)" "$LOG"
fi
revised=$(metric 'darkstab_slots_revised_total')
late=$(metric 'darkstab_late_flows_total')
stop TERM
results_json late
if jq -e '.analyses[0].slots[] | select(.start == "2013-02-27T00:00:00+09:00") |
          .revised == true and .late_flows >= 90' "$T/late.json" > /dev/null &&
    [ "${revised:-0}" -ge 1 ] && [ "${late:-0}" -ge 90 ]; then
    ok "the revised slot: late_flows and revised in JSON, in the metrics ($late late flows)"
else
    not_ok "the revised slot: late_flows and revised in JSON ($revised revised, $late late)" \
        "$LOG"
fi

# 5. metrics, SIGHUP
config ops
start ops
send_to "$PORT" --days 2 --start 2013-02-25 --flows-per-day 300 --seed 31
sleep 2
curl -s "http://127.0.0.1:$MPORT/metrics" > "$T/m1.txt"
if grep -q '^darkstab_exporter_records_total{exporter="127.0.0.1",protocol="ipfix"} [1-9]' \
    "$T/m1.txt" && grep -q '^darkstab_socket_kernel_drops_total' "$T/m1.txt" &&
    grep -q '^darkstab_topn{analysis="ports",threshold="1"}' "$T/m1.txt" &&
    grep -q '^darkstab_open_slots{analysis="ports"}' "$T/m1.txt"; then
    ok "metrics: records per exporter, kernel drops, TopN, open slots"
else
    not_ok "metrics: records per exporter, kernel drops, TopN, open slots" "$T/m1.txt"
fi
cp "$T/ops.yaml" "$T/ops.good"
printf 'collector:\n  lateness: [oops\n' > "$T/ops.yaml"
kill -HUP "$COL"
wait_log "not reloading" 5 && ok "SIGHUP with a broken file: the old configuration stays" ||
    not_ok "SIGHUP with a broken file: the old configuration stays" "$LOG"
sed 's/^  checkpoint: 2s/  checkpoint: 2s\n  allow: [192.0.2.0\/24]/' "$T/ops.good" > "$T/ops.yaml"
kill -HUP "$COL"
wait_log "configuration reloaded" 5
send_to "$PORT" --days 1 --start 2013-02-27 --flows-per-day 100 --seed 32
sleep 2
if [ "$(metric 'darkstab_dropped_total{reason="not_allowed"}')" -gt 0 ]; then
    ok "SIGHUP applies collector.allow: 127.0.0.1 is then dropped and counted"
else
    not_ok "SIGHUP applies collector.allow" "$LOG"
fi
stop TERM

# 6. the archive: analyze on it gives what the collector gave
config arch
cat >> "$T/arch.yaml" <<EOF
archive:
  dir: $T/archive
  rotate: 1m
EOF
start arch
send_to "$PORT" --days 12 --start 2013-02-25 --flows-per-day 400 --seed 41
wait_log "every exporter is idle" 30
stop TERM
results_json arch
config archread
"$DS" analyze -q -c "$T/archread.yaml" -f json -o "$T/arch-files.json" "$T"/archive/*.ipfix
analyses_of "$T/arch.json" "$T/a.json"
analyses_of "$T/arch-files.json" "$T/b.json"
if ls "$T"/archive/*.ipfix > /dev/null 2>&1 && ! ls "$T"/archive/*.part > /dev/null 2>&1 &&
    cmp -s "$T/a.json" "$T/b.json"; then
    ok "archive: complete IPFIX files that analyze reads to the collector's results"
else
    diff "$T/a.json" "$T/b.json" > "$T/diff" 2>&1
    ls -l "$T/archive" >> "$T/diff" 2>&1
    not_ok "archive: complete IPFIX files that analyze reads to the collector's results" \
        "$T/diff"
fi

# 6b. the archive read back: with drilldown.lists auto the collector reads each
# unstable slot back from its archive once a checkpoint has flushed it, and
# its lists are analyze's: exact where memory's are not (UDP 2849 on 03-06
# has 233 sources, more than the 64 kept in memory)
config archx
sed -i '/^drilldown:/d; /^  lists: memory/d' "$T/archx.yaml"
cat >> "$T/archx.yaml" <<EOF
archive:
  dir: $T/archivex
  rotate: 1m
EOF
start archx
send_to "$PORT" --days 20 --seed 41
wait_log "every exporter is idle" 30
wait_log "lists read back exactly from" 30
# a slot may still be read back while the metrics are scraped (slow under the
# sanitizers): scraped until the metric and the log agree, for 20 s at most
for _ in $(seq 20); do
    sleep 1
    read_scraped=$(grep -c "lists read back exactly from" "$LOG")
    curl -s "http://127.0.0.1:$MPORT/metrics" > "$T/mx.txt"
    [ "$(metric 'darkstab_archive_reread_slots_total{result="applied"}' "$T/mx.txt")" = \
        "$read_scraped" ] && break
done
stop TERM
results_json archx
config archxread
sed -i '/^drilldown:/d; /^  lists: memory/d' "$T/archxread.yaml"
"$DS" analyze -q -c "$T/archxread.yaml" -f json -o "$T/archx-files.json" "$T"/archivex/*.ipfix
analyses_of "$T/archx.json" "$T/a.json"
analyses_of "$T/archx-files.json" "$T/b.json"
read_back=$(grep -c "lists read back exactly from" "$LOG")
unstable=$(jq '[.[0].slots[] | select(.detail != null)] | length' "$T/a.json")
ddos=$(jq '[.[0].slots[] | select(.start | startswith("2013-03-06")) | .detail[]? |
           select(.key.dst_port == 2849) | .sources | select(.exact == true and .distinct == 233)] |
           length' "$T/a.json")
applied=$(metric 'darkstab_archive_reread_slots_total{result="applied"}' "$T/mx.txt")
if [ "$unstable" -gt 0 ] && [ "$read_back" -ge "$unstable" ] && [ "$ddos" = 1 ] &&
    [ "$applied" = "$read_scraped" ] && cmp -s "$T/a.json" "$T/b.json"; then
    ok "archive read back: the collector's lists of its $unstable unstable slots are analyze's, exact"
else
    { echo "unstable $unstable, read back $read_back (metric: $applied, log then $read_scraped), exact 2849 list $ddos"
      diff "$T/a.json" "$T/b.json"; } > "$T/diff" 2>&1
    not_ok "archive read back: the collector's lists are analyze's, exact" "$T/diff"
fi

# 7. errors at start
config bad
sed -i 's/^  lateness: 1m/  lateness: soon/' "$T/bad.yaml"
"$DS" collect -c "$T/bad.yaml" --foreground > "$T/out" 2>&1
[ $? = 2 ] && grep -q "collector.lateness" "$T/out" && ok "a bad configuration: exit 2, named" ||
    not_ok "a bad configuration: exit 2, named" "$T/out"
config busy
start busy
config busy2
"$DS" collect -c "$T/busy2.yaml" --foreground > "$T/out" 2>&1
[ $? = 1 ] && grep -q "cannot bind.*in use" "$T/out" &&
    ok "a port in use: exit 1, the listener named" ||
    not_ok "a port in use: exit 1, the listener named" "$T/out"
stop TERM
if [ "$(id -u)" = 0 ]; then
    config root
    sed -i '/^  user: nobody/d' "$T/root.yaml"
    "$DS" collect -c "$T/root.yaml" --foreground > "$T/out" 2>&1
    [ $? = 1 ] && grep -q "refusing to run as root" "$T/out" &&
        ok "as root without collector.user: refused" ||
        not_ok "as root without collector.user: refused" "$T/out"
    config drop
    start drop
    sleep 0.3
    if [ "$(ps -o user= -p "$COL" | tr -d ' ')" = nobody ]; then
        ok "as root with collector.user: binds, then runs as that user"
    else
        ps -o user=,pid=,args= -p "$COL" > "$T/out"
        not_ok "as root with collector.user: binds, then runs as that user" "$T/out"
    fi
    stop TERM
fi
# a damaged store stops the collector at start, untouched: never a silent reset.  The
# pages damaged are the last ones, slots' blobs, that nothing reads at start but the check.
for how in truncated damaged; do
    config "$how"
    cp "$T/live.db" "$T/$how.db"
    pages=$(($(stat -c %s "$T/$how.db") / 4096))
    if [ $how = truncated ]; then
        truncate -s $((pages / 2 * 4096)) "$T/$how.db"
    else
        dd if=/dev/urandom of="$T/$how.db" bs=4096 seek=$((pages - 3)) count=3 conv=notrunc \
            2> /dev/null
    fi
    chmod 0666 "$T/$how.db"
    sum0=$(md5sum < "$T/$how.db")
    "$DS" collect -c "$T/$how.yaml" --foreground > "$T/out" 2>&1
    st=$?
    if [ $st = 1 ] && grep -q "error: store $T/$how.db" "$T/out" &&
        ! grep -q "listening on" "$T/out" && [ "$(md5sum < "$T/$how.db")" = "$sum0" ]; then
        ok "a $how store ($pages pages): exit 1 at start, named, the file untouched"
    else
        not_ok "a $how store: exit $st" "$T/out"
    fi
done

# 7a. the disk fills up while the collector writes (a 32 MB tmpfs, filled for
# 6 s in the middle of a 16 s stream): errors in the log and the metrics,
# counting goes on in memory, and once there is room again everything is
# written: the results are analyze's, nothing lost.  The store alone takes
# about 5 MB here (0.5 MB of database, the WAL grown to 4.6 MB: SQLite
# checkpoints it at 4 MB and never shrinks it), more while a transaction
# done again after the errors is written: a 6 MB tmpfs filled again by
# itself once the filler was gone, and the test saw a second error
if [ "$(id -u)" = 0 ] && mkdir "$T/full" && mount -t tmpfs -o size=32m,mode=0777 tmpfs "$T/full"; then
    config full
    sed -i "s#^  path: .*#  path: $T/full/full.db#" "$T/full.yaml"
    start full
    "$GEN" --days 20 --start 2013-02-25 --flows-per-day 400 --send "127.0.0.1:$PORT" --rate 500 \
        2> /dev/null &
    gen=$!
    sleep 4
    dd if=/dev/zero of="$T/full/filler" bs=4k 2> /dev/null
    sleep 6
    failing=$(metric darkstab_store_failing)
    errors=$(metric darkstab_store_errors_total)
    rm -f "$T/full/filler"
    wait $gen
    wait_log "every exporter is idle" 30
    wait_log "store: written again" 30
    failing_after=$(metric darkstab_store_failing)
    stop TERM
    results_json full
    analyses_of "$T/files.json" "$T/a.json"
    analyses_of "$T/full.json" "$T/b.json"
    if [ "$failing" = 1 ] && [ "$errors" -ge 1 ] && [ "$failing_after" = 0 ] &&
        [ "$STOPPED" = 0 ] && grep -q "store $T/full/full.db: database or disk is full" "$LOG" &&
        grep -q "written again after [0-9]* errors; nothing was lost" "$LOG" &&
        cmp -s "$T/a.json" "$T/b.json"; then
        ok "disk full for 6 s: logged, in the metrics ($errors errors), then everything written: analyze's results"
    else
        { echo "failing $failing, $errors errors, then failing $failing_after, exit $STOPPED"
          grep -E "store|full" "$LOG"; diff "$T/a.json" "$T/b.json"; } > "$T/out" 2>&1
        not_ok "disk full: logged, in the metrics, then everything written" "$T/out"
    fi
    umount "$T/full"
else
    echo "ok - # SKIP disk full: mounting a tmpfs takes root"
fi
"$DS" results -c "$T/nosuch.yaml" > "$T/out" 2>&1
[ $? = 1 ] && ok "results of a missing configuration: exit 1" ||
    not_ok "results of a missing configuration: exit 1" "$T/out"

# 7b. loss on the way: sequence gaps make the slots incomplete, with the reason
config lossy
start lossy
send_to "$PORT" --days 9 --start 2013-02-25 --flows-per-day 800 --seed 51 --drop-every 10
send_to "$PORT9" --days 9 --start 2013-03-06 --flows-per-day 800 --seed 52 \
    --send-format netflow9 --drop-every 10
wait_log "every exporter is idle" 30
missed=$(metric 'darkstab_exporter_missed_records_total')
stop TERM
results_json lossy
if [ "${missed:-0}" -gt 0 ] &&
    jq -e '[.analyses[0].slots[] | select(.packets > 0)] | length > 10 and
           all(.incomplete == true and .completeness.loss_percent > 5 and
               .completeness.loss_percent < 15 and
               (.completeness.reasons | map(test("records lost \\(sequence numbers\\)")) | any)
               and (.thresholds | all(.status == "incomplete")))' "$T/lossy.json" > /dev/null; then
    ok "10% of datagrams lost (IPFIX and NetFlow v9): slots incomplete, about 10% loss, the reason given"
else
    jq '.analyses[0].slots[] | {start, incomplete, completeness}' "$T/lossy.json" > "$T/out"
    not_ok "10% of datagrams lost: slots incomplete, with the reason ($missed missed)" "$T/out"
fi

# 7c. results: a range, an analysis, CSV
"$DS" results -q -c "$T/live.yaml" --from 2013-03-01 --to 2013-03-05 -f csv > "$T/r.csv"
if [ "$(head -1 "$T/r.csv" | cut -d, -f1-3)" = "analysis,slot_start,slot_end" ] &&
    [ "$(tail -n +2 "$T/r.csv" | cut -d, -f2 | sort -u | wc -l)" = 4 ]; then
    ok "results --from --to: the slots of the range (CSV)"
else
    not_ok "results --from --to: the slots of the range (CSV)" "$T/r.csv"
fi
"$DS" results -c "$T/live.yaml" --analysis nosuch > "$T/out" 2>&1
[ $? = 2 ] && grep -q "no analysis 'nosuch'" "$T/out" && ok "results --analysis unknown: exit 2, named" ||
    not_ok "results --analysis unknown: exit 2, named" "$T/out"

# 8. the systemd unit is one systemd takes (its binary pointed at this build)
if command -v systemd-analyze > /dev/null; then
    sed "s|/usr/local/bin/darkstab|$DS|" "$HERE/../../config/darkstab.service" \
        > "$T/darkstab.service"
    if systemd-analyze verify "$T/darkstab.service" > "$T/out" 2>&1 && [ ! -s "$T/out" ]; then
        ok "config/darkstab.service passes systemd-analyze verify"
    else
        not_ok "config/darkstab.service passes systemd-analyze verify" "$T/out"
    fi
else
    echo "# systemd-analyze is not installed here: the unit file was not verified"
fi

. "$HERE/exporters.sh"

# 9. broken and hostile senders, and the limits that keep them in check
. "$HERE/hostile.sh"

summary collect
