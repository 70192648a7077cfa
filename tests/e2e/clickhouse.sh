#!/bin/sh
# End-to-end tests of store.backend clickhouse (docs/CLICKHOUSE.md) on two
# real ClickHouse servers (Debian's clickhouse-server 18.16) started here on
# 127.0.0.1 as the two shards of one cluster, each with its own config,
# data directory and ports, and stopped by PID at the end (also on failure).
#
#   sh tests/e2e/clickhouse.sh BUILD_DIR
#
#   1. check-config --connect: a server without darkstab's tables (names
#      them and says what to run), a cluster it does not know, a stopped
#      server, a wrong password (never printed), then success;
#   2. clickhouse-schema: what it prints is what --apply runs (the tables
#      of both shards are the same), applying twice is harmless;
#   3. the design's premises on the real servers: a batch inserted twice
#      lands on one shard and counts once with FINAL; two versions of a
#      slot read back as the later; a query with a shard down fails (no
#      judgement on half the cluster);
#   4. analyze inserts the records it counts: the cluster holds each of
#      them once, each day's packets as analyze counted them; the same
#      inputs again after the node's store was lost send nothing twice; two
#      nodes with half of the inputs each give the same records; with a
#      shard down the batches wait in the spool and go once it is back; an
#      INSERT without an answer is recorded as a repeat before it is sent
#      again; a damaged spool file is set aside and named;
#   5. collect inserts the records it counts: the cluster holds each of
#      them once; with the cluster down the batches wait in the spool (the
#      metrics and the log say so) and go once it is back; its watermark
#      (how far its records are in) is in the cluster, and check-config
#      --connect shows it; killed with kill -9 in the middle of a stream
#      and started again, nothing is in the cluster twice;
#   6. results prints the node's own analysis meanwhile;
#   7. two collect nodes, each with part of every day, judged live: no
#      slot before both have passed it, those both have passed once they
#      have, the rest once both are idle; then results on either node equal
#      one machine's; records late for a day judged days ago revise it;
#      the judging node stops: it is missing after idle_close, the other
#      judges in its place and names it in the slots judged without it;
#   8. the nightly mail of two collect nodes: the judging node mails the
#      day once, from the cluster's judgements (a real SMTP server:
#      tests/tools/smtpsink.py), and records it in the cluster; the other
#      node, judging once the first has stopped, does not mail it again.
#
# Prints "ok - ..." or "not ok - ..." per test, then "clickhouse: N passed,
# N failed"; appends "passed failed" to $RESULTS if set.
set -u
BUILD=${1:-build}
DS="$(cd "$(dirname "$BUILD/darkstab")" && pwd)/darkstab"
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
T=$(mktemp -d /tmp/darkstab-ch-XXXXXX)
PIDS=""
cleanup() {
    # everything goes with its directory: no need for ClickHouse's orderly (5-8 s) shutdown
    for p in $PIDS; do kill -9 "$p" 2> /dev/null; done
    for p in $PIDS; do wait "$p" 2> /dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM
export TZ=UTC

. "$HERE/lib.sh"
. "$HERE/chlib.sh"

if [ ! -x "$CH" ]; then
    not_ok "clickhouse-server is not installed (make deps)"
    summary clickhouse
    exit 1
fi

CH_PASSWORD='pw with spaces 7Qx!'
PASSWORD=$CH_PASSWORD
ch_setup
if ! start s1 "$HTTP1" || ! start s2 "$HTTP2"; then
    not_ok "two ClickHouse servers start on 127.0.0.1" "$T/s1/stdout.log"
    summary clickhouse
    exit 1
fi
ok "two ClickHouse servers are up ($(q "$HTTP1" 'SELECT version()'), ports $HTTP1 and $HTTP2)"

# config NAME URL [EXTRA YAML LINES under store.clickhouse]
config() {
    {
        cat << EOF
timezone: UTC
darknet:
  prefixes: [198.18.0.0/16]
store:
  path: $T/node.db
  backend: clickhouse
  clickhouse:
    url: $2
    cluster: ${CLUSTER:-dk}
    node: tokyo-1
    timeout: 5s
EOF
        [ -n "${3:-}" ] && printf '%s\n' "$3"
        cat << EOF
analyses:
  - name: ports
    keys: [proto, dst_port]
EOF
    } > "$T/$1.yaml"
}

# ---- 1. check-config --connect -------------------------------------------------
config c1 "http://127.0.0.1:$HTTP1/"
"$DS" check-config -c "$T/c1.yaml" --connect > "$T/out" 2> "$T/err"
rc=$?
if [ $rc = 1 ] && grep -q 'missing darkstab.records_local' "$T/err" &&
    grep -q 'clickhouse-schema' "$T/err"; then
    ok "check-config --connect before the schema: exit 1, the missing tables and what to run"
else
    not_ok "check-config --connect before the schema (rc $rc)" "$T/err"
fi

# ---- 2. clickhouse-schema ------------------------------------------------------------
"$DS" clickhouse-schema -c "$T/c1.yaml" > "$T/schema.sql" 2> "$T/err"
n=$(grep -c ';$' "$T/schema.sql")
if [ "$n" = 15 ] && grep -q 'ENGINE = Distributed(dk, darkstab, records_local' "$T/schema.sql"; then
    ok "clickhouse-schema prints 15 statements, each ending in ';', Distributed over the cluster"
else
    not_ok "clickhouse-schema prints the statements ($n)" "$T/schema.sql"
fi
# shard 2 gets the printed text, statement by statement (as an administrator would);
# shard 1 gets --apply: both must end up with the same tables
applied=0
awk -v dir="$T" 'BEGIN { RS = ";\n"; n = 0 } NF { f = dir "/stmt." ++n; printf "%s", $0 > f; close(f) }' \
    "$T/schema.sql"
for f in $(ls "$T"/stmt.* | sort -t. -k2 -n); do
    curl -sS --fail-with-body "http://127.0.0.1:$HTTP2/" --data-binary "@$f" > /dev/null &&
        applied=$((applied + 1))
done
if "$DS" clickhouse-schema -c "$T/c1.yaml" --apply "http://127.0.0.1:$HTTP1/" > "$T/out" 2> "$T/err" &&
    grep -q "15 statements applied" "$T/out" && [ $applied = 15 ]; then
    ok "the printed statements run on a shard as they are; --apply runs them on the other"
else
    not_ok "applying the schema (printed: $applied of 15)" "$T/err"
fi
same=1
for t in records_local analyses_local slots_local watermarks_local repeats_local records analyses slots \
    watermarks repeats; do
    a=$(q "$HTTP1" "SHOW CREATE TABLE darkstab.$t" 2>&1)
    b=$(q "$HTTP2" "SHOW CREATE TABLE darkstab.$t" 2>&1)
    [ "$a" = "$b" ] && [ -n "$a" ] || { same=0; echo "    $t differs: $a / $b"; }
done
[ $same = 1 ] && ok "both shards hold the same 10 tables" || not_ok "both shards hold the same tables"
if "$DS" clickhouse-schema -c "$T/c1.yaml" --apply "http://127.0.0.1:$HTTP1/" > /dev/null 2> "$T/err"; then
    ok "applying the schema again is harmless"
else
    not_ok "applying the schema again" "$T/err"
fi

"$DS" check-config -c "$T/c1.yaml" --connect > "$T/out" 2> "$T/err"
rc=$?
if [ $rc = 0 ] && grep -q 'ClickHouse 18\.16.* cluster dk of 2 shards, database darkstab complete' "$T/out"; then
    ok "check-config --connect: $(grep ClickHouse "$T/out")"
else
    not_ok "check-config --connect with the schema (rc $rc)" "$T/err"
fi
CLUSTER=nosuch config c2 "http://127.0.0.1:$HTTP1/"
"$DS" check-config -c "$T/c2.yaml" --connect > /dev/null 2> "$T/err"
rc=$?
if [ $rc = 1 ] && grep -q "no cluster 'nosuch'" "$T/err"; then
    ok "a cluster the server does not know: exit 1, named"
else
    not_ok "a cluster the server does not know (rc $rc)" "$T/err"
fi
printf '%s\n' "$PASSWORD" > "$T/pw"
printf 'not %s\n' "$PASSWORD" > "$T/badpw"
config c3 "http://127.0.0.1:$HTTP1/" "    user: darkstab
    password_file: $T/pw"
config c4 "http://127.0.0.1:$HTTP1/" "    user: darkstab
    password_file: $T/badpw"
"$DS" check-config -c "$T/c3.yaml" --connect > "$T/out" 2> "$T/err"
rc3=$?
"$DS" check-config -c "$T/c4.yaml" --connect > "$T/out4" 2> "$T/err4"
rc4=$?
if [ $rc3 = 0 ] && [ $rc4 = 1 ] && grep -q 'HTTP [0-9]*: Code: 193' "$T/err4" &&
    ! grep -qF "$PASSWORD" "$T/err4" "$T/out4" "$T/err" "$T/out"; then
    ok "user and password_file: the right password connects, a wrong one is refused, never printed"
else
    not_ok "user and password_file (rc $rc3, $rc4)" "$T/err4"
fi
"$DS" check-config -c "$T/c3.yaml" --print > "$T/out" 2>&1
if ! grep -qF "$PASSWORD" "$T/out"; then
    ok "check-config --print does not show the password"
else
    not_ok "check-config --print shows the password"
fi

# ---- 3. the design's premises on the real servers --------------------------------
# one batch (node n1, batch 7) of 1,000 records over two UTC days, sent twice
# (addresses as ::ffff:198.18.0.x: the high 64 bits 0, the low ::ffff:c612:00xx)
awk 'BEGIN { for (i = 0; i < 1000; i++) { s = 1362528000000 + i * 170000;
    printf "%.0f\t%.0f\t0\t%.0f\t0\t%.0f\t%d\t%d\t6\t2\t0\t0\t1\t40\t1\t10.0.0.1/0\tn1\t7\t%d\n",
        s, s + 1000, 281474004811776 + i % 7, 281474004812032, 1000 + i, i % 2 ? 23 : 445, i } }' \
    > "$T/batch.tsv"
for k in 1 2; do
    curl -sS --fail-with-body -X POST -T "$T/batch.tsv" \
        "http://127.0.0.1:$HTTP1/?insert_distributed_sync=1&query=INSERT%20INTO%20darkstab.records%20FORMAT%20TabSeparated" \
        2>> "$T/err"
done
all=$(q "$HTTP2" "SELECT count() FROM darkstab.records" 2>&1)
final=$(q "$HTTP2" "SELECT count(), sum(packets) FROM darkstab.records FINAL" 2>&1)
l1=$(q "$HTTP1" "SELECT count() FROM darkstab.records_local" 2>&1)
l2=$(q "$HTTP2" "SELECT count() FROM darkstab.records_local" 2>&1)
if [ "$all" = 2000 ] && [ "$final" = "$(printf '1000\t1000')" ] &&
    { [ "$l1/$l2" = 2000/0 ] || [ "$l1/$l2" = 0/2000 ]; }; then
    ok "a batch sent twice: both copies on one shard ($l1 + $l2), counted once with FINAL"
else
    not_ok "a batch sent twice (count $all, FINAL $final, shards $l1 + $l2)" "$T/err"
fi
day=$(q "$HTTP1" "SELECT dport, sum(packets) FROM darkstab.records FINAL WHERE start_ms >= 1362528000000 AND start_ms < 1362614400000 GROUP BY dport ORDER BY dport" 2>&1 | tr '\t\n' ' ')
if [ "$day" = "23 254 445 255 " ]; then
    ok "a slot's group counts through the Distributed table: $day"
else
    not_ok "a slot's group counts ($day)"
fi
printf 'ports\t1362528000\t1362614400\t1\tn1\t100\t1\t1\t0\t0\t0\t0\t1\t0\t\t[]\t[3]\t[]\t[]\t[]\t[]\t\t\t\nports\t1362528000\t1362614400\t2\tn1\t150\t1\t1\t0\t0\t0\t0\t1\t0\t\t[]\t[6]\t[]\t[]\t[]\t[]\t\t\t\n' |
    curl -sS --fail-with-body -X POST -T - \
        "http://127.0.0.1:$HTTP2/?insert_distributed_sync=1&query=INSERT%20INTO%20darkstab.slots%20FORMAT%20TabSeparated" \
        > "$T/err" 2>&1
latest=$(q "$HTTP1" "SELECT count(), any(packets), any(topn) FROM darkstab.slots FINAL" 2>&1 | tr '\t' ' ')
if [ "$latest" = "1 150 [6]" ]; then
    ok "a slot judged twice (a revision): readers see the later judgement only"
else
    not_ok "a slot judged twice ($latest)" "$T/err"
fi
# ---- 4. analyze inserts its records ---------------------------------------------
# node NAME DATABASE [URL]: a node's config (its own SQLite and spool)
node() {
    cat > "$T/$1.yaml" << EOF
timezone: UTC
darknet:
  prefixes: [198.18.0.0/16]
store:
  path: $T/$1.db
  backend: clickhouse
  clickhouse:
    url: ${3:-http://127.0.0.1:$HTTP1/}
    database: $2
    cluster: dk
    node: $1
    timeout: 5s
    batch_rows: 5000
    spool: $T/$1.spool
analyses:
  - name: ports
    keys: [proto, dst_port]
EOF
}
# per_slot PORT DB: the packets of each UTC day in the cluster, as "2013-03-06T00:00:00 N"
per_slot() {
    q "$1" "SELECT toString(toDateTime(intDiv(start_ms, 86400000) * 86400)), sum(packets)
            FROM $2.records FINAL GROUP BY intDiv(start_ms, 86400000)
            ORDER BY intDiv(start_ms, 86400000)" 2>&1 |
        tr '\t' ' ' | sed 's/ 00:00:00/T00:00:00/'
}
for db in dsa dsb dsc dsd; do
    for p in "$HTTP1" "$HTTP2"; do
        sed "s/    cluster: dk/    cluster: dk\n    database: $db/" "$T/c1.yaml" > "$T/db.yaml"
        "$DS" clickhouse-schema -c "$T/db.yaml" --apply "http://127.0.0.1:$p/" > /dev/null ||
            not_ok "schema of $db on $p"
    done
done
SAMPLES=$(ls "$ROOT"/samples/data/*.ipfix)
node a1 dsa
# shellcheck disable=SC2086
"$DS" analyze -c "$T/a1.yaml" -f json -o "$T/a1.json" $SAMPLES 2> "$T/err"
rc=$?
counted=$(jq '.input.counted' "$T/a1.json" 2> /dev/null)
rows=$(q "$HTTP2" "SELECT count() FROM dsa.records" 2>&1)
jq -r '.analyses[0].slots[] | select(.packets > 0) | "\(.start) \(.packets)"' "$T/a1.json" |
    sed 's/Z / /; s/+00:00 / /' > "$T/want.slots"
per_slot "$HTTP2" dsa > "$T/got.slots"
if [ $rc = 0 ] && [ -n "$counted" ] && [ "$rows" = "$counted" ] && [ -s "$T/want.slots" ] &&
    cmp -s "$T/want.slots" "$T/got.slots" && [ -z "$(ls "$T/a1.spool")" ]; then
    ok "analyze with store.backend clickhouse: the $counted records it counted are in the cluster, each day's packets as analyze counted them"
else
    not_ok "analyze inserts its records (rc $rc, counted $counted, rows $rows)" "$T/err"
    diff "$T/want.slots" "$T/got.slots" | head -5
fi
batches=$(q "$HTTP2" "SELECT uniqExact(batch) FROM dsa.records" 2>&1)
# a run done again after a crash before its commit (the node's SQLite gone): nothing twice
rm -f "$T"/a1.db*
# shellcheck disable=SC2086
"$DS" analyze -c "$T/a1.yaml" -o /dev/null $SAMPLES 2> "$T/err"
rc=$?
rows2=$(q "$HTTP2" "SELECT count() FROM dsa.records" 2>&1)
if [ $rc = 0 ] && [ "$rows2" = "$rows" ] && grep -q "0 batches sent, $batches there already" "$T/err"; then
    ok "the same inputs again (the node's store lost): all $batches batches found in the cluster, none sent twice"
else
    not_ok "the same inputs again (rc $rc, rows $rows2)" "$T/err"
fi
# two nodes, each with half of the inputs: the cluster holds what one node with all of them holds
node b1 dsb
node b2 dsb
# shellcheck disable=SC2046
"$DS" analyze -q -c "$T/b1.yaml" -o /dev/null $(echo "$SAMPLES" | awk 'NR % 2 == 1') 2> "$T/err" &&
    "$DS" analyze -q -c "$T/b2.yaml" -o /dev/null $(echo "$SAMPLES" | awk 'NR % 2 == 0') 2>> "$T/err"
rc=$?
per_slot "$HTTP1" dsb > "$T/got2.slots"
nodes=$(q "$HTTP1" "SELECT uniqExact(node), count() FROM dsb.records" 2>&1 | tr '\t' ' ')
if [ $rc = 0 ] && cmp -s "$T/want.slots" "$T/got2.slots" && [ "$nodes" = "2 $rows" ]; then
    ok "two nodes with half of the inputs each: the cluster holds the same records, per day, from 2 nodes"
else
    not_ok "two nodes with half of the inputs each (rc $rc, $nodes)" "$T/err"
fi
# ---- 4b. the analysis on the cluster: one judgement of every node's records ---------
# Two scenarios, one per node, so that each node has part of every day; the
# reference is one machine with SQLite reading both, day by day.  Lists as
# large as the data, and a lateness that holds each day open until both of
# its files are read, make every member of the JSON exact on both sides
# (Space-Saving lists, and flows late at one machine, depend on the order
# records come in, which differs).
GEN="$(cd "$(dirname "$BUILD/darkstab-gen")" && pwd)/darkstab-gen"
mkdir -p "$T/j1" "$T/j2"
"$GEN" --days 14 --flows-per-day 1500 --seed 11 --split "$T/j1" 2> /dev/null
"$GEN" --days 14 --flows-per-day 800 --seed 12 --no-events --split "$T/j2" 2> /dev/null
# judge_node NAME BACKEND [DETAILS [NODE]]: a node of database dsj with two analyses,
# start and spread; store.clickhouse.details DETAILS (records), node name NODE (NAME)
judge_node() {
    cat > "$T/$1.yaml" << EOF
timezone: Asia/Tokyo
darknet:
  prefixes: [198.18.0.0/16, "2001:db8:dead::/48"]
  exclude: [198.18.0.0/24]
input:
  lateness: 2d
store:
  path: $T/$1.db
  backend: $2
  clickhouse:
    url: http://127.0.0.1:$HTTP2/
    database: dsj
    cluster: dk
    node: ${4:-$1}
    timeout: 20s
    spool: $T/$1.spool
    details: ${3:-records}
drilldown:
  lists: memory
  sources: 4096
  ports: 4096
  destinations: 4096
analyses:
  - name: ports
    keys: [proto, dst_port]
    slot: 1d
    window: 7
    thresholds: [1.0, 0.75, 0.5]
  - name: hosts
    keys: [src_net/16, type]
    slot: 6h
    window: 7
    thresholds: [1.0, 0.5]
    attribution: spread
  # a key of several tuples of raw fields: TCP's and UDP's port 23 are one group
  - name: bare
    keys: [dst_port]
    slot: 1d
    window: 7
    thresholds: [1.0]
EOF
}
for p in "$HTTP1" "$HTTP2"; do
    sed "s/    cluster: dk/    cluster: dk\n    database: dsj/" "$T/c1.yaml" > "$T/db.yaml"
    "$DS" clickhouse-schema -c "$T/db.yaml" --apply "http://127.0.0.1:$p/" > /dev/null ||
        not_ok "schema of dsj on $p"
done
judge_node one sqlite
judge_node j1 clickhouse
judge_node j2 clickhouse
# shellcheck disable=SC2046
"$DS" analyze -q -c "$T/one.yaml" -o /dev/null \
    $(for f in "$T"/j1/*; do echo "$f" "$T/j2/$(basename "$f")"; done) 2> "$T/err"
"$DS" analyze -q -c "$T/j1.yaml" -o /dev/null "$T"/j1/* 2>> "$T/err"
"$DS" analyze -c "$T/j2.yaml" -o /dev/null "$T"/j2/* 2> "$T/j2.err"
rc=$?
"$DS" results -q -c "$T/one.yaml" -f json -o "$T/one.json"
"$DS" results -q -c "$T/j2.yaml" -f json -o "$T/j2.json"
jq -S '[.analyses[] | {name, slots}]' "$T/one.json" > "$T/one.slots"
jq -S '[.analyses[] | {name, slots}]' "$T/j2.json" > "$T/j2.slots"
unstable=$(jq '[.[].slots[] | select(.cause)] | length' "$T/one.slots")
judged=$(sed -n 's/.*judged on the cluster: \([0-9]*\) slots.*/\1/p' "$T/j2.err")
if [ $rc = 0 ] && [ -s "$T/one.slots" ] && cmp -s "$T/one.slots" "$T/j2.slots" &&
    [ "$unstable" -gt 0 ] && [ "${judged:-0}" -gt 0 ]; then
    ok "the analysis on the cluster: two nodes with part of every day, the second's results are one machine's with all ($judged slots judged from the cluster's records, $unstable with a drill-down; attribution start and spread)"
else
    not_ok "the analysis on the cluster against one machine (rc $rc, ${judged:-no} slots judged)" "$T/j2.err"
    diff "$T/one.slots" "$T/j2.slots" | head -20
fi

# the first node judged before the second's records came: it reads the cluster's judgements
"$DS" results -c "$T/j1.yaml" -f json -o "$T/j1.json" 2> "$T/j1r.err"
rc=$?
jq -S '[.analyses[] | {name, slots}]' "$T/j1.json" > "$T/j1.slots"
slot=$(jq -r '[.[].slots[] | select(.cause)][0].start' "$T/one.slots")
"$DS" show -c "$T/one.yaml" --slot "$slot" --format json > "$T/one.show" 2> /dev/null
"$DS" show -c "$T/j1.yaml" --slot "$slot" --format json > "$T/j1.show" 2> /dev/null
fetched=$(sed -n 's/.*results: \([0-9]*\) slots judged in the cluster since.*/\1/p' "$T/j1r.err")
if [ $rc = 0 ] && cmp -s "$T/one.slots" "$T/j1.slots" && [ -s "$T/one.show" ] &&
    cmp -s "$T/one.show" "$T/j1.show" && [ "${fetched:-0}" -gt 0 ]; then
    ok "results and show on the first node read the cluster's judgements ($fetched slots): one machine's results, and its drill-down of $slot"
else
    not_ok "results and show on the first node (rc $rc, ${fetched:-no} slots read)" "$T/j1r.err"
    diff "$T/one.slots" "$T/j1.slots" | head -20
fi

# details: shards: node j2 again (its store lost, so its batches are found in
# the cluster, not sent twice) judges every day again with the shown groups'
# details counted by GROUP BY on the shards: the same judgements and drill-down
judge_node j3 clickhouse shards j2
"$DS" analyze -c "$T/j3.yaml" -o /dev/null "$T"/j2/* 2> "$T/j3.err"
rc=$?
"$DS" results -q -c "$T/j3.yaml" -f json -o "$T/j3.json"
jq -S '[.analyses[] | {name, slots}]' "$T/j3.json" > "$T/j3.slots"
"$DS" show -c "$T/j3.yaml" --slot "$slot" --format json > "$T/j3.show" 2> /dev/null
on_shards=$(sed -n 's/.*details of \([0-9]*\) shown groups counted on the shards and 0 read back.*/\1/p' \
    "$T/j3.err")
sent=$(sed -n 's/.*records; \([0-9]*\) batches sent.*/\1/p' "$T/j3.err")
if [ $rc = 0 ] && cmp -s "$T/one.slots" "$T/j3.slots" && cmp -s "$T/one.show" "$T/j3.show" &&
    [ "${on_shards:-0}" -gt 0 ] && [ "$sent" = 0 ]; then
    ok "store.clickhouse.details shards: the details of $on_shards shown groups counted on the shards, the judgements and drill-down of one machine"
else
    not_ok "store.clickhouse.details shards (rc $rc, ${on_shards:-no} groups on the shards, ${sent:-?} batches sent)" "$T/j3.err"
    diff "$T/one.slots" "$T/j3.slots" | head -20
    diff "$T/one.show" "$T/j3.show" | head -20
fi

# a shard down during the run: the batches wait in the spool; once it is back, they go, once
# (killed: a shard that dies, and ClickHouse's orderly stop takes 5 to 8 s)
kill_shards s2
node n1 dsc
# shellcheck disable=SC2086
"$DS" analyze -c "$T/n1.yaml" -f json -o "$T/n1.json" $SAMPLES 2> "$T/err"
rc=$?
spooled=$(ls "$T/n1.spool" | grep -c '\.batch$')
judged=$(jq '[.analyses[0].slots[] | select(.packets > 0 and (.incomplete != true or
             .completeness.cluster != "not judged"))] | length' "$T/n1.json")
if [ $rc = 0 ] && [ "$spooled" = "$batches" ] && grep -q "$batches batches of records stay in" "$T/err" &&
    [ "$judged" = 0 ]; then
    ok "a shard down: analyze ends (exit 0), its $batches batches wait in the spool, it says so, and no slot is judged on part of the cluster (all incomplete)"
else
    not_ok "a shard down during analyze (rc $rc, $spooled spooled)" "$T/err"
fi
if ! q "$HTTP1" "SELECT count() FROM darkstab.records FINAL" > "$T/out" 2> "$T/err" &&
    grep -q 'Code: 279' "$T/out" "$T/err"; then
    ok "a shard down: a query over the cluster fails (Code 279), no answer on half the data"
else
    not_ok "a shard down: the query failed" "$T/out"
fi
config c5 "http://127.0.0.1:$HTTP2/"
"$DS" check-config -c "$T/c5.yaml" --connect > /dev/null 2> "$T/err"
rc=$?
if [ $rc = 1 ] && grep -q "ClickHouse at http://127.0.0.1:$HTTP2/: .*[Cc]onnect" "$T/err"; then
    ok "a stopped server: exit 1, the server named"
else
    not_ok "a stopped server (rc $rc)" "$T/err"
fi

if ! start s2 "$HTTP2"; then
    not_ok "shard 2 restarts" "$T/s2/stdout.log"
fi
# shellcheck disable=SC2086
"$DS" analyze -c "$T/n1.yaml" -o /dev/null $SAMPLES 2> "$T/err"
rc=$?
plain=$(q "$HTTP1" "SELECT count() FROM dsc.records" 2>&1)
final=$(q "$HTTP1" "SELECT count() FROM dsc.records FINAL" 2>&1)
# (judgements, not lists: the samples' top lists are longer than the drill-down's,
# approximate, and depend on the order the records come in)
judgements='[.analyses[0].slots[] | {start, packets, flows, groups, thresholds, incomplete}]'
"$DS" results -q -c "$T/n1.yaml" -f json | jq -S "$judgements" > "$T/n1r.json"
"$DS" results -q -c "$T/a1.yaml" -f json | jq -S "$judgements" > "$T/a1r.json"
if [ $rc = 0 ] && [ "$plain" = "$rows" ] && [ "$final" = "$rows" ] &&
    [ -z "$(ls "$T/n1.spool")" ] && [ -s "$T/n1r.json" ] && cmp -s "$T/n1r.json" "$T/a1r.json"; then
    ok "the shard back: the next run sends the spooled batches, the cluster holds each record once ($plain), and the slots are judged (as by a node that never lost a shard)"
else
    not_ok "after the shard came back (rc $rc, $plain rows, $final with FINAL)" "$T/err"
fi
# an INSERT that gets no answer (it may have arrived): recorded as a repeat before it is sent again
cat > "$T/drop.py" << 'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if "query=INSERT" in self.path:
            self.close_connection = True
            self.connection.close()
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"0\n")
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
DROP=$(free_port 5)
python3 "$T/drop.py" "$DROP" &
PIDS="$PIDS $!"
i=0
while ! ss -Hlnt "sport = :$DROP" | grep -q . && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
FIRST=$(echo "$SAMPLES" | head -n 1)
node d1 dsd "http://127.0.0.1:$DROP/"
"$DS" analyze -c "$T/d1.yaml" -o /dev/null "$FIRST" 2> "$T/err"
flagged=$(ls "$T/d1.spool" | grep -c '\.batch$')
rm -f "$T"/d1.db*
node d1 dsd
"$DS" analyze -c "$T/d1.yaml" -o /dev/null "$FIRST" 2>> "$T/err"
rc=$?
repeats=$(q "$HTTP1" "SELECT count() FROM dsd.repeats WHERE node = 'd1'" 2>&1)
n1=$(q "$HTTP1" "SELECT count() FROM dsd.records FINAL" 2>&1)
n0=$(q "$HTTP1" "SELECT count() FROM dsd.records" 2>&1)
if [ $rc = 0 ] && [ "$flagged" -ge 1 ] && [ "$repeats" -ge 1 ] 2> /dev/null &&
    [ "$n1" -gt 0 ] 2> /dev/null && [ "$n0" = "$n1" ] && [ -z "$(ls "$T/d1.spool")" ]; then
    ok "an INSERT without an answer: recorded in repeats ($repeats) before it is sent again; $n1 records, once"
else
    not_ok "an INSERT without an answer (rc $rc, flagged $flagged, repeats $repeats, rows $n0/$n1)" "$T/err"
fi
# a damaged spool file: set aside, named, and the run fails
node e1 dsd
mkdir -p "$T/e1.spool"
printf 'not a batch at all, but named like one' > "$T/e1.spool/00000000000000000001-0000000000000001.batch"
"$DS" analyze -c "$T/e1.yaml" -o /dev/null "$FIRST" 2> "$T/err"
rc=$?
if [ $rc = 1 ] && grep -q 'not a batch' "$T/err" && grep -q 'set aside' "$T/err" &&
    [ -f "$T/e1.spool/00000000000000000001-0000000000000001.batch.damaged" ]; then
    ok "a damaged spool file: set aside as .damaged, named in the error, exit 1"
else
    not_ok "a damaged spool file (rc $rc)" "$T/err"
fi

# ---- 5. collect inserts its records ------------------------------------------------
# started as root, the collector becomes "nobody": it must be able to write here
USER_LINE=""
if [ "$(id -u)" = 0 ]; then USER_LINE="  user: nobody"; fi
chmod 0777 "$T"
LPORT=$(free_port 6)
MPORT=$(free_port 7)
cat > "$T/k1.yaml" << EOF
timezone: UTC
darknet:
  prefixes: [198.18.0.0/16]
store:
  path: $T/k1.db
  backend: clickhouse
  clickhouse:
    url: http://127.0.0.1:$HTTP1/
    database: dse
    cluster: dk
    node: k1
    timeout: 5s
    batch_rows: 2000
    flush_interval: 1s
    spool: $T/k1.spool
collector:
  listen:
    - {protocol: ipfix, address: 127.0.0.1, port: $LPORT}
  lateness: 1m
  idle_close: 10s
  checkpoint: 2s
$USER_LINE
metrics:
  listen: 127.0.0.1:$MPORT
analyses:
  - name: ports
    keys: [proto, dst_port]
EOF
for p in "$HTTP1" "$HTTP2"; do
    "$DS" clickhouse-schema -c "$T/k1.yaml" --apply "http://127.0.0.1:$p/" > /dev/null ||
        not_ok "schema of dse on $p"
done
# kstart: the collector in the background, until it has started (a line more in k1.log
# than before: the log is kept across restarts); a port another process took meanwhile
# (free_port only knows what listened then) is chosen again, as lstart does
kstart() {
    for try in 1 2 3 4; do
        n0=$(grep -c 'collect: darkstab .* started' "$T/k1.log" 2> /dev/null)
        b0=$(grep -c 'cannot bind' "$T/k1.log" 2> /dev/null)
        "$DS" collect -c "$T/k1.yaml" --foreground -v >> "$T/k1.log" 2>&1 &
        KCOL=$!
        i=0
        while [ "$(grep -c 'collect: darkstab .* started' "$T/k1.log")" = "${n0:-0}" ] &&
            kill -0 "$KCOL" 2> /dev/null && [ $i -lt 100 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        if [ "$(grep -c 'collect: darkstab .* started' "$T/k1.log")" != "${n0:-0}" ] &&
            [ "$(grep -c 'cannot bind' "$T/k1.log")" = "${b0:-0}" ]; then
            break
        fi
        kill "$KCOL" 2> /dev/null
        wait "$KCOL" 2> /dev/null
        LPORT=$(free_port $((60 + try)))
        MPORT=$(free_port $((70 + try)))
        sed -i -e "s/^  listen: 127.0.0.1:[0-9]*$/  listen: 127.0.0.1:$MPORT/" \
            -e "s/address: 127.0.0.1, port: [0-9]*}/address: 127.0.0.1, port: $LPORT}/" "$T/k1.yaml"
    done
    PIDS="$PIDS $KCOL"
}
# spool_drained: until the running collector's spool is empty (30 s at most)
spool_drained() {
    i=0
    while [ "$(metric darkstab_clickhouse_spooled_batches)" != 0 ] && [ $i -lt 300 ]; do
        sleep 0.1
        i=$((i + 1))
    done
}
# metric NAME: its value at the collector's endpoint
metric() {
    curl -s "http://127.0.0.1:$MPORT/metrics" | awk -v n="$1" '$1 == n {print $2}'
}
kstart
"$GEN" --days 3 --start 2013-03-04 --flows-per-day 3000 --send "127.0.0.1:$LPORT" --rate 20000 \
    2> /dev/null
i=0
while [ "$(metric darkstab_clickhouse_spooled_batches)" != 0 ] || [ -z "$(metric darkstab_clickhouse_records_total)" ] ||
    [ "$(metric darkstab_clickhouse_records_total)" = 0 ]; do
    [ $i -gt 100 ] && break
    sleep 0.1
    i=$((i + 1))
done
sleep 1.5
kill "$KCOL"
wait "$KCOL"
krc=$?
counted=$(sqlite3 "$T/k1.db" "SELECT (SELECT coalesce(sum(packets), 0) FROM slots) + (SELECT coalesce(sum(packets), 0) FROM open_slots)" 2> /dev/null)
have=$(q "$HTTP2" "SELECT sum(packets) FROM dse.records FINAL" 2>&1)
plain=$(q "$HTTP2" "SELECT count() FROM dse.records" 2>&1)
final=$(q "$HTTP2" "SELECT count() FROM dse.records FINAL" 2>&1)
bytes=$(q "$HTTP2" "SELECT sum(bytes) > 20 * sum(packets) FROM dse.records FINAL" 2>&1)
if [ $krc = 0 ] && [ -n "$counted" ] && [ "$have" = "$counted" ] && [ "$plain" = "$final" ] &&
    [ -z "$(ls "$T/k1.spool")" ] && grep -q 'darknet records go to ClickHouse' "$T/k1.log" &&
    [ "$bytes" = 1 ]; then
    ok "collect with store.backend clickhouse: the $final records it counted ($have packets, and their bytes) are in the cluster, once"
else
    not_ok "collect inserts its records (rc $krc, counted $counted, cluster $have, rows $plain/$final)" "$T/k1.log"
fi
"$DS" check-config -c "$T/k1.yaml" --connect > "$T/out" 2> "$T/err"
if grep -q '^node k1: records in up to 2013-03-0[67]T' "$T/out"; then
    ok "the collector's watermark in the cluster: $(grep '^node k1' "$T/out")"
else
    not_ok "the collector's watermark in the cluster" "$T/out"
fi
# the cluster unreachable while the collector runs: the batches wait, then go
kill_shards s1 s2
kstart
"$GEN" --days 3 --start 2013-03-07 --flows-per-day 3000 --send "127.0.0.1:$LPORT" --rate 20000 \
    2> /dev/null
sleep 3
waiting=$(metric darkstab_clickhouse_spooled_batches)
fails=$(metric darkstab_clickhouse_send_failures_total)
if [ "${waiting:-0}" -gt 0 ] && [ "${fails:-0}" -gt 0 ] &&
    grep -q 'batches of records wait in the spool' "$T/k1.log"; then
    ok "the cluster down: $waiting batches wait in the spool, the metrics and the log say so"
else
    not_ok "the cluster down (waiting $waiting, failures $fails)" "$T/k1.log"
fi
start s1 "$HTTP1" && start s2 "$HTTP2" || not_ok "the shards restart"
spool_drained
kill "$KCOL"
wait "$KCOL"
krc=$?
counted=$(sqlite3 "$T/k1.db" "SELECT (SELECT coalesce(sum(packets), 0) FROM slots) + (SELECT coalesce(sum(packets), 0) FROM open_slots)" 2> /dev/null)
have=$(q "$HTTP2" "SELECT sum(packets) FROM dse.records FINAL" 2>&1)
plain=$(q "$HTTP2" "SELECT count() FROM dse.records" 2>&1)
final=$(q "$HTTP2" "SELECT count() FROM dse.records FINAL" 2>&1)
if [ $krc = 0 ] && [ "$have" = "$counted" ] && [ "$plain" = "$final" ] && [ -z "$(ls "$T/k1.spool")" ]; then
    ok "the cluster back: the waiting batches went; the cluster holds all $final records counted, once"
else
    not_ok "the cluster back (rc $krc, counted $counted, cluster $have, rows $plain/$final)" "$T/k1.log"
fi
# kill -9 in the middle of a stream, then a restart: nothing in the cluster twice
before=$(q "$HTTP2" "SELECT count() FROM dse.records FINAL" 2>&1)
# (the cluster away meanwhile, so that batches are left in the spool for the restart)
kill_shards s1 s2
kstart
"$GEN" --days 3 --start 2013-03-10 --flows-per-day 3000 --send "127.0.0.1:$LPORT" --rate 4000 \
    2> "$T/gen.err" &
GENPID=$!
sleep 1.5
kill -9 "$KCOL"
wait "$KCOL" 2> /dev/null
wait "$GENPID"
sent=$(sed -n 's/^darkstab-gen: \([0-9][0-9]*\) records.*/\1/p' "$T/gen.err" | tail -n 1)
left=$(ls "$T/k1.spool" | grep -c '\.batch$')
start s1 "$HTTP1" && start s2 "$HTTP2" || not_ok "the shards restart"
kstart
spool_drained
kill "$KCOL"
wait "$KCOL"
krc=$?
plain=$(q "$HTTP2" "SELECT count() FROM dse.records" 2>&1)
final=$(q "$HTTP2" "SELECT count() FROM dse.records FINAL" 2>&1)
new=$((final - before))
if [ $krc = 0 ] && [ "$plain" = "$final" ] && [ "$new" -gt 0 ] && [ -n "$sent" ] &&
    [ "$new" -le "$sent" ] && [ "$left" -gt 0 ] && [ -z "$(ls "$T/k1.spool")" ]; then
    ok "kill -9 while $sent records came, a restart: $new of them in the cluster, none twice ($left batches were left in the spool)"
else
    not_ok "kill -9 and a restart (rc $krc, sent $sent, new $new, rows $plain/$final)" "$T/k1.log"
fi

# ---- 6. results reads the node's own analysis -------------------------------------
"$DS" results -c "$T/a1.yaml" -f json > "$T/res.json" 2> "$T/err"
rc=$?
if [ $rc = 0 ] && [ "$(jq '[.analyses[0].slots[].packets] | add' "$T/res.json")" = \
      "$(jq '[.analyses[0].slots[].packets] | add' "$T/a1.json")" ]; then
    ok "results on store.backend clickhouse prints what analyze judged on the cluster"
else
    not_ok "results on store.backend clickhouse (rc $rc)" "$T/err"
fi

# ---- 7. two collect nodes judged live on the cluster ------------------------------
# Each collector receives one of two scenarios over UDP (so each has part of
# every day); the first in name order judges.  lv-b has no exporter yet
# while lv-a's whole scenario comes: it holds every slot back (its row says
# "nothing yet") until its own records come, and nothing is judged without
# them.  Once both are idle, every slot is judged, and results on either
# node equal one machine with SQLite reading both scenarios' files.
mkdir -p "$T/l1" "$T/l2"
"$GEN" --days 10 --flows-per-day 1500 --seed 21 --split "$T/l1" 2> /dev/null
"$GEN" --days 10 --flows-per-day 800 --seed 22 --no-events --split "$T/l2" 2> /dev/null
# live_node NAME BACKEND LISTEN METRICS: a node of database dsl
live_node() {
    cat > "$T/$1.yaml" << EOF
timezone: Asia/Tokyo
darknet:
  prefixes: [198.18.0.0/16, "2001:db8:dead::/48"]
  exclude: [198.18.0.0/24]
input:
  lateness: 2d
store:
  path: $T/$1.db
  backend: $2
  clickhouse:
    url: http://127.0.0.1:$HTTP1/
    database: dsl
    cluster: dk
    node: $1
    timeout: 20s
    batch_rows: 2000
    flush_interval: 1s
    spool: $T/$1.spool
collector:
  listen:
    - {protocol: ipfix, address: 127.0.0.1, port: $3}
  lateness: 1d
  idle_close: 10s
  checkpoint: 2s
$USER_LINE
metrics:
  listen: 127.0.0.1:$4
drilldown:
  lists: memory
  sources: 4096
  ports: 4096
  destinations: 4096
analyses:
  - name: ports
    keys: [proto, dst_port]
    slot: 1d
    window: 5
    thresholds: [1.0, 0.75, 0.5]
EOF
}
LA=$(free_port 8)
LB=$(free_port 9)
MA=$(free_port 10)
MB=$(free_port 11)
live_node lv-one sqlite "$(free_port 12)" "$(free_port 13)"
live_node lv-a clickhouse "$LA" "$MA"
live_node lv-b clickhouse "$LB" "$MB"
for p in "$HTTP1" "$HTTP2"; do
    "$DS" clickhouse-schema -c "$T/lv-a.yaml" --apply "http://127.0.0.1:$p/" > /dev/null ||
        not_ok "schema of dsl on $p"
done
# lstart NAME: a live node in the background, until it listens and serves its metrics; a
# port another process took meanwhile (free_port only knows what listened then) is chosen
# again.  Its metrics port is then in M_<NAME without dashes>, its PID in PID_<same>.
lstart() {
    v=$(echo "$1" | tr -d -)
    for try in 1 2 3 4; do
        : > "$T/$1.try"
        "$DS" collect -c "$T/$1.yaml" --foreground -v >> "$T/$1.try" 2>&1 &
        pid=$!
        i=0
        while ! grep -q 'collect: darkstab .* started' "$T/$1.try" && kill -0 "$pid" 2> /dev/null &&
            [ $i -lt 100 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        if grep -q 'collect: darkstab .* started' "$T/$1.try" &&
            ! grep -q 'metrics: .*cannot bind' "$T/$1.try"; then
            # the running collector goes on writing to the file, under its new name
            mv "$T/$1.try" "$T/$1.log"
            break
        fi
        cat "$T/$1.try" >> "$T/$1.failed"
        kill "$pid" 2> /dev/null
        wait "$pid" 2> /dev/null
        sed -i -e "s/^  listen: 127.0.0.1:[0-9]*$/  listen: 127.0.0.1:$(free_port $((40 + try)))/" \
            -e "s/address: 127.0.0.1, port: [0-9]*}/address: 127.0.0.1, port: $(free_port $((50 + try)))}/" \
            "$T/$1.yaml"
    done
    PIDS="$PIDS $pid"
    eval "PID_$v=$pid"
    eval "M_$v=$(sed -n 's/^  listen: 127.0.0.1:\([0-9]*\)$/\1/p' "$T/$1.yaml")"
    eval "L_$v=$(sed -n 's/.*address: 127.0.0.1, port: \([0-9]*\)}.*/\1/p' "$T/$1.yaml")"
}
# lmetric PORT NAME: a metric's value
lmetric() {
    curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n {print $2}'
}
# shellcheck disable=SC2046
"$DS" analyze -q -c "$T/lv-one.yaml" -o /dev/null \
    $(for f in "$T"/l1/*; do echo "$f" "$T/l2/$(basename "$f")"; done) 2> "$T/err"
lstart lv-a
lstart lv-b
MA=$M_lva
MB=$M_lvb
LA=$L_lva
LB=$L_lvb
# both rows in the cluster before any record: a node unknown to the others holds nothing back
i=0
while [ "$("$DS" check-config -c "$T/lv-a.yaml" --connect 2> /dev/null | grep -c '^node lv-')" != 2 ] &&
    [ $i -lt 50 ]; do
    sleep 0.2
    i=$((i + 1))
done
"$GEN" --days 10 --flows-per-day 1500 --seed 21 --send "127.0.0.1:$LA" --rate 20000 2> /dev/null
# (lv-b must send before its hold ends, collector.idle_close after its start: a round or two)
sleep 3
held=$(lmetric "$MA" darkstab_cluster_judged_slots_total)
judging=$(lmetric "$MA" darkstab_cluster_judging)
"$DS" check-config -c "$T/lv-a.yaml" --connect > "$T/nodes" 2> /dev/null
if [ "$held" = 0 ] && [ "$judging" = 1 ] && grep -q '^node lv-b: records in up to nothing yet' "$T/nodes"; then
    ok "live: lv-a has all of its records in, lv-b none yet: lv-a judges, and no slot is judged without lv-b"
else
    not_ok "live: the watermark rule holds the slots back (judged $held, judging $judging)" "$T/nodes"
fi
"$GEN" --days 10 --flows-per-day 800 --seed 22 --no-events --send "127.0.0.1:$LB" --rate 20000 \
    2> /dev/null
# both have passed all but their last day (collector.lateness 1d): those are judged, not the rest
# (a round judges what it can in a few seconds, longer on a loaded machine: wait for 7,
# then long enough for a round to judge the held-back days if it wrongly would)
i=0
mid=0
while [ "${mid:-0}" -lt 7 ] && [ $i -lt 300 ]; do
    sleep 0.1
    mid=$(lmetric "$MA" darkstab_cluster_judged_slots_total)
    i=$((i + 1))
done
sleep 3
mid=$(lmetric "$MA" darkstab_cluster_judged_slots_total)
if [ "${mid:-0}" -ge 7 ] && [ "${mid:-0}" -le 9 ]; then
    ok "live: once both have passed them, $mid days are judged; the last waits for both"
else
    not_ok "live: the days both have passed are judged, not the last (${mid:-none} judged)" "$T/lv-a.log"
fi
# both past their last records by collector.lateness only once idle: then every slot goes
i=0
while [ "$(lmetric "$MA" 'darkstab_cluster_nodes{state="idle"}')" != 2 ] && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
sleep 5
judged=$(lmetric "$MA" darkstab_cluster_judged_slots_total)
"$DS" results -q -c "$T/lv-one.yaml" -f json -o "$T/lv-one.json"
"$DS" results -c "$T/lv-b.yaml" -f json -o "$T/lv-b.json" 2> "$T/lvb.err"
rc=$?
jq -S '[.analyses[] | {name, slots}]' "$T/lv-one.json" > "$T/lv-one.slots"
jq -S '[.analyses[] | {name, slots}]' "$T/lv-b.json" > "$T/lv-b.slots"
unstable=$(jq '[.[].slots[] | select(.cause)] | length' "$T/lv-one.slots")
days=$(jq '[.[].slots[]] | length' "$T/lv-one.slots")
if [ $rc = 0 ] && [ "${days:-0}" -ge 10 ] && cmp -s "$T/lv-one.slots" "$T/lv-b.slots" &&
    [ "${judged:-0}" -ge 10 ]; then
    ok "live: two collectors with part of every day, judged by lv-a as their watermarks passed ($judged slots); results on lv-b are one machine's with both scenarios ($days days, $unstable with a drill-down)"
else
    not_ok "live: two collectors against one machine (rc $rc, judged ${judged:-none}, days ${days:-none})" "$T/lv-a.log"
    diff "$T/lv-one.slots" "$T/lv-b.slots" | head -20
fi
# late_day DIR START SEED: one day of records from START sent late to lv-b (and written
# to $T/DIR for the reference, lv-ref-DIR: one machine reading every file so far in one
# run: a late file added to a stored day leaves the drill-down of its groups partial there;
# the cluster counts the day again whole).  Waits for lv-a to judge again, then sets
# before/after (slots judged), rev0/rev1 (lv-b's revisions), and writes the slots of both
# to $T/lv-ref-DIR.slots and $T/lv-b-DIR.slots
LATE_DIRS=""
late_day() {
    mkdir -p "$T/$1"
    "$GEN" --days 1 --start "$2" --flows-per-day 400 --seed "$3" --no-events --split "$T/$1" \
        2> /dev/null
    LATE_DIRS="$LATE_DIRS $1"
    live_node "lv-ref-$1" sqlite "$(free_port 14)" "$(free_port 15)"
    # shellcheck disable=SC2046
    "$DS" analyze -q -c "$T/lv-ref-$1.yaml" -o /dev/null \
        $(for f in "$T"/l1/*; do b=$(basename "$f"); echo "$f" "$T/l2/$b"; for d in $LATE_DIRS; do
            [ -f "$T/$d/$b" ] && echo "$T/$d/$b"; done; done) 2> /dev/null
    before=$(lmetric "$MA" darkstab_cluster_judged_slots_total)
    rev0=$(q "$HTTP2" "SELECT count() FROM dsl.revisions FINAL WHERE node = 'lv-b'" 2>&1)
    "$GEN" --days 1 --start "$2" --flows-per-day 400 --seed "$3" --no-events \
        --send "127.0.0.1:$LB" --rate 20000 2> /dev/null
    i=0
    while [ "$(lmetric "$MA" darkstab_cluster_judged_slots_total)" = "$before" ] && [ $i -lt 200 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    after=$(lmetric "$MA" darkstab_cluster_judged_slots_total)
    sleep 2
    rev1=$(q "$HTTP2" "SELECT count() FROM dsl.revisions FINAL WHERE node = 'lv-b'" 2>&1)
    "$DS" results -q -c "$T/lv-ref-$1.yaml" -f json -o "$T/lv-ref-$1.json"
    "$DS" results -q -c "$T/lv-b.yaml" -f json -o "$T/lv-b-$1.json"
    jq -S '[.analyses[] | {name, slots}]' "$T/lv-ref-$1.json" > "$T/lv-ref-$1.slots"
    jq -S '[.analyses[] | {name, slots}]' "$T/lv-b-$1.json" > "$T/lv-b-$1.slots"
}
# packets SLOTS START: the packets of the first analysis' slot that starts at START
packets() {
    jq ".[0].slots[] | select(.start == \"$2\") | .packets" "$1"
}
# records late for a day judged days ago (within store.clickhouse.revise_for), at lv-b: its
# batch is named in revisions, and lv-a judges that day (and the windows after it) again, as
# one machine does with the late file
late_day l3 2013-02-21 24
day=$(packets "$T/lv-b-l3.slots" 2013-02-21T00:00:00+09:00)
was=$(packets "$T/lv-one.slots" 2013-02-21T00:00:00+09:00)
if [ "${rev1:-0}" -ge 1 ] && [ "${after:-0}" -gt "${before:-0}" ] && [ "$day" -gt "$was" ] &&
    cmp -s "$T/lv-ref-l3.slots" "$T/lv-b-l3.slots"; then
    ok "live: late records for a day judged days ago are named in revisions; it is judged again ($((after - before)) slots, $was -> $day packets that day), as one machine judges every file at once"
else
    not_ok "live: a late batch revises its day (revisions $rev1, judged $before -> $after)" "$T/lv-a.log"
    diff "$T/lv-ref-l3.slots" "$T/lv-b-l3.slots" | head -20
fi
# records late for the last day, which lv-a judged only because both nodes were idle: they
# start after every watermark lv-b ever wrote (its records' clock less collector.lateness),
# so that watermark promised nothing about them; lv-b's idle row let the day be judged, and
# a batch that comes after such a row is named in revisions too
i=0
while [ "$(lmetric "$MA" 'darkstab_cluster_nodes{state="idle"}')" != 2 ] && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
sleep 3
late_day l4 2013-02-24 25
was=$(packets "$T/lv-b-l3.slots" 2013-02-24T00:00:00+09:00)
day=$(packets "$T/lv-b-l4.slots" 2013-02-24T00:00:00+09:00)
if [ "${rev1:-0}" -gt "${rev0:-0}" ] 2> /dev/null && [ "${after:-0}" -gt "${before:-0}" ] &&
    [ "${day:-0}" -gt "${was:-0}" ] && cmp -s "$T/lv-ref-l4.slots" "$T/lv-b-l4.slots"; then
    ok "live: records for a day judged while their node was idle, after all it had promised, are named in revisions too; the day is judged again ($was -> $day packets), as one machine judges every file"
else
    not_ok "live: records after an idle node's last watermark (revisions $rev0 -> $rev1, judged $before -> $after, packets $was -> $day)" "$T/lv-b.log"
    diff "$T/lv-ref-l4.slots" "$T/lv-b-l4.slots" | head -20
fi
# lv-a, the judging node, stops: once its row is older than idle_close it is missing, holds
# nothing back, and lv-b, the next alive node by name, judges in its place
kill "$PID_lva"
wait "$PID_lva" 2> /dev/null
i=0
while [ "$(lmetric "$MB" 'darkstab_cluster_nodes{state="missing"}')" != 1 ] && [ $i -lt 400 ]; do
    sleep 0.1
    i=$((i + 1))
done
missing=$(lmetric "$MB" 'darkstab_cluster_nodes{state="missing"}')
judging=$(lmetric "$MB" darkstab_cluster_judging)
# three days: lv-b's watermark passes the first at once (no wait for idle)
"$GEN" --days 3 --start 2013-03-05 --flows-per-day 500 --seed 23 --no-events \
    --send "127.0.0.1:$LB" --rate 20000 2> /dev/null
i=0
while [ "$(lmetric "$MB" darkstab_cluster_judged_slots_total)" = 0 ] && [ $i -lt 400 ]; do
    sleep 0.1
    i=$((i + 1))
done
kill "$PID_lvb"
wait "$PID_lvb" 2> /dev/null
"$DS" results -c "$T/lv-b.yaml" -f json -o "$T/lv-b.json" 2> /dev/null
named=$(jq -r '[.analyses[0].slots[] | select(.completeness.missing_nodes)] | .[0].completeness.missing_nodes[0]' "$T/lv-b.json")
# (a day judged again now that ends before lv-a's last watermark has all of lv-a's records)
older=$(jq '[.analyses[0].slots[] | select(.start < "2013-02-23" and .completeness.missing_nodes)] | length' "$T/lv-b.json")
if [ "$missing" = 1 ] && [ "$judging" = 1 ] && [ "$named" = lv-a ] && [ "$older" = 0 ]; then
    ok "live: the judging node stops; after collector.idle_close it is missing and the other judges in its place; the slots judged after its last watermark name it, those before do not"
else
    not_ok "live: the judging node stops (missing $missing, judging $judging, named $named, older $older)" "$T/lv-b.log"
fi

# ---- 8. the nightly mail of a cluster ------------------------------------------------
# Two collectors, each with part of yesterday's traffic, report.schedule two
# minutes ago (in a zone where it is about noon, as tests/e2e/mail.sh does):
# yesterday is due at once, and with collector.lateness 1d the mail waits
# for the day's judgement.  The judging node mails it once every node's
# records are judged, rendered from the cluster's judgements; the other
# mails nothing, and once it judges in the first one's place it does not
# mail the day again.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
UTC_HOUR=$(date -u +%-H)
OFFSET=$((12 - UTC_HOUR))
if [ $OFFSET -ge 0 ]; then ZONE="Etc/GMT-$OFFSET"; else ZONE="Etc/GMT+$((-OFFSET))"; fi
SCHED=$(TZ=$ZONE date -d '-2 min' +%H:%M)
MDAY=$(TZ=$ZONE date -d "$(TZ=$ZONE date -d '-2 min' +%F) -1 day" +%F)
SMTP=$(free_port 60)
mkdir -p "$T/inbox"
"$PY" "$ROOT/tests/tools/smtpsink.py" "$SMTP" "$T/inbox" > "$T/inbox.out" 2>&1 &
PIDS="$PIDS $!"
i=0
while ! grep -q ready "$T/inbox.out" 2> /dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
# mail_node NAME LISTEN METRICS: a collector of database dsm that mails yesterday's report
mail_node() {
    cat > "$T/$1.yaml" << EOF
timezone: $ZONE
darknet:
  prefixes: [198.18.0.0/16]
store:
  path: $T/$1.db
  backend: clickhouse
  clickhouse:
    url: http://127.0.0.1:$HTTP1/
    database: dsm
    cluster: dk
    node: $1
    timeout: 20s
    batch_rows: 2000
    flush_interval: 1s
    spool: $T/$1.spool
collector:
  listen:
    - {protocol: ipfix, address: 127.0.0.1, port: $2}
  lateness: 1d
  idle_close: 10s
  checkpoint: 2s
$USER_LINE
metrics:
  listen: 127.0.0.1:$3
report:
  schedule: "$SCHED"
  spool: $T/$1.mailspool
  mail:
    to: [ops@example.org]
    from: darkstab@example.org
smtp:
  url: smtp://127.0.0.1:$SMTP
  starttls: never
  timeout: 10s
analyses:
  - name: ports
    keys: [proto, dst_port]
    slot: 1d
EOF
}
mail_node mc-a "$(free_port 61)" "$(free_port 62)"
mail_node mc-b "$(free_port 63)" "$(free_port 64)"
for p in "$HTTP1" "$HTTP2"; do
    "$DS" clickhouse-schema -c "$T/mc-a.yaml" --apply "http://127.0.0.1:$p/" > /dev/null ||
        not_ok "schema of dsm on $p"
done
lstart mc-a
lstart mc-b
"$GEN" --days 1 --start "$MDAY" --tz "$ZONE" --flows-per-day 1200 --seed 41 --send "127.0.0.1:$L_mca" \
    --rate 20000 2> /dev/null
"$GEN" --days 1 --start "$MDAY" --tz "$ZONE" --flows-per-day 700 --seed 42 --no-events \
    --send "127.0.0.1:$L_mcb" --rate 20000 2> /dev/null
# both idle (collector.idle_close) and every slot judged: the day goes
i=0
while [ "$(find "$T/inbox" -name '*.eml' | wc -l)" = 0 ] && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
sleep 3
mails=$(find "$T/inbox" -name '*.eml' | wc -l)
rows=$(q "$HTTP2" "SELECT node FROM dsm.mails WHERE day = '$MDAY'" 2>&1)
# the mail's text is the day's report as the other node reads it from the cluster
"$DS" report -q -c "$T/mc-b.yaml" --date "$MDAY" -f text -o "$T/mc-day.txt" 2> "$T/mc-report.err"
"$PY" -c 'import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
sys.stdout.write(m.get_body(preferencelist=("plain",)).get_content())' "$T/inbox/1.eml" \
    > "$T/mc-mail.txt" 2> "$T/mc-mail.err"
if [ "$mails" = 1 ] && grep -q "^Subject: darkstab $MDAY" "$T/inbox/1.eml" &&
    grep -q "mail: the report of $MDAY was sent" "$T/mc-a.log" &&
    ! grep -q "mail: the report of $MDAY was sent" "$T/mc-b.log" && [ "$rows" = mc-a ] &&
    [ "$(lmetric "$M_mca" darkstab_mails_sent_total)" = 1 ] &&
    [ "$(lmetric "$M_mcb" darkstab_mails_sent_total)" = 0 ] &&
    "$PY" "$HERE/mailcheck.py" "$T/inbox/1.eml" --day "$MDAY" > "$T/mc-check.out" 2>&1 &&
    [ -s "$T/mc-day.txt" ] && diff "$T/mc-day.txt" "$T/mc-mail.txt" > "$T/mc-diff" 2>&1; then
    ok "mail: the judging node mails $MDAY once, the cluster's judgement of both nodes' records, and records it in the cluster; the other node mails nothing"
else
    not_ok "mail: the cluster's nightly mail (mails $mails, recorded by '$rows')" "$T/mc-a.log"
    head -20 "$T/mc-diff" "$T/mc-check.out" "$T/mc-report.err" "$T/mc-mail.err" 2> /dev/null
fi
# mc-a stops; after idle_close mc-b judges, finds the day mailed, and mails nothing
kill "$PID_mca"
wait "$PID_mca" 2> /dev/null
i=0
while ! grep -q "mail: the report of $MDAY was mailed by node mc-a" "$T/mc-b.log" &&
    [ $i -lt 400 ]; do
    sleep 0.1
    i=$((i + 1))
done
sleep 2
if grep -q "mail: the report of $MDAY was mailed by node mc-a" "$T/mc-b.log" &&
    [ "$(lmetric "$M_mcb" darkstab_cluster_judging)" = 1 ] &&
    [ "$(find "$T/inbox" -name '*.eml' | wc -l)" = 1 ]; then
    ok "mail: the node that judges in its place does not mail $MDAY again"
else
    not_ok "mail: the next judging node and the day mailed ($(find "$T/inbox" -name '*.eml' | wc -l) mails)" "$T/mc-b.log"
fi
kill "$PID_mcb"
wait "$PID_mcb" 2> /dev/null

summary clickhouse
