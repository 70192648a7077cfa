#!/bin/sh
# End-to-end tests of the drill-down (issue 7, section 1): "changes",
# "detail" and "cause" of every unstable slot in the JSON of analyze,
# results and --no-store alike; "darkstab show" on unstable and stable
# slots, as text and JSON; a damaged drill-down in the store.
#
#   sh tests/e2e/explain.sh BUILD_DIR
#
# Runs on the bundled samples (samples/darkstab-sample.yaml, 7 unstable
# days, four of them the paper's cases; see samples/gen/scenario.c).
# Prints "ok - ..." or "not ok - ..." per test, then "explain: N passed,
# N failed"; appends "passed failed" to $RESULTS if set.
set -u
BUILD=${1:-build}
DS="$BUILD/darkstab"
HERE=$(dirname "$0")
T=$(mktemp -d /tmp/darkstab-explain-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
export TZ=UTC

. "$HERE/lib.sh"

CFG=samples/darkstab-sample.yaml
DB="$T/s.db"
# the slots of the sample, by date (the sample's zone is Asia/Tokyo)
slot() { jq ".analyses[0].slots[] | select(.start | startswith(\"$2\"))" "$1"; }

# jqcheck NAME FILE FILTER: FILTER (a boolean) must be true on FILE
jqcheck() {
    if [ "$(jq -e "$3" "$2" 2> "$T/jqerr")" = true ]; then ok "$1"; else
        { echo "jq: $3"; cat "$T/jqerr"; } > "$T/why"
        not_ok "$1" "$T/why"
    fi
}

# 1. analyze: every unstable slot, and only those, carry the drill-down
"$DS" analyze -q -c "$CFG" --store "$DB" -f json samples/data/*.ipfix > "$T/a.json" 2> "$T/err"
if [ $? -eq 0 ] && [ -s "$T/a.json" ]; then ok "analyze on the samples"; else
    not_ok "analyze on the samples" "$T/err"
fi
jqcheck "7 unstable slots" "$T/a.json" '[.analyses[0].slots[] | select(.unstable)] | length == 7'
jqcheck "every unstable slot has changes, detail and cause" "$T/a.json" \
    '[.analyses[0].slots[] | select(.unstable)] | all(
        (.changes | type == "object") and (.changes.entered | type == "array") and
        (.changes.left | type == "array") and (.changes.moved | type == "array") and
        (.changes.window_slots == 7) and
        (.detail | type == "array" and length > 0 and length <= 20) and
        (.cause.kind | IN("ddos", "misconfiguration", "scan", "backscatter", "unknown")) and
        (.cause.groups | type == "array") and (.cause.evidence | type == "string" and
                                                length > 0))'
jqcheck "no drill-down on slots that are not unstable" "$T/a.json" \
    '[.analyses[0].slots[] | select(.unstable | not)] |
     all(has("changes") or has("detail") or has("cause") | not)'

# analyze's text names the cause under each unstable slot, and how to drill down
"$DS" analyze -q -c "$CFG" --no-store samples/data/*.ipfix > "$T/a.txt" 2> "$T/err"
if grep -A1 '^2013-03-06 Wed  packets' "$T/a.txt" | grep -q 'probable cause: ddos, in udp 2849' &&
   grep -q "darkstab show --slot '2013-03-06' --analysis ports" "$T/a.txt" &&
   [ "$(grep -c '^  probable cause: ' "$T/a.txt")" -eq 7 ]; then
    ok "analyze's text: the probable cause under each of the 7 unstable slots"
else
    not_ok "analyze's text: the probable cause under each unstable slot" "$T/a.txt"
fi

# 2. 2013-03-06, the DDoS of the paper's Table I: UDP 2849 from 233 sources
slot "$T/a.json" 2013-03-06 > "$T/d0306.json"
jqcheck "03-06: UDP 2849 entered the TopN set" "$T/d0306.json" \
    'any(.changes.entered[]; .key == {"proto": "udp", "dst_port": 2849})'
jqcheck "03-06: UDP 2849 shown with 233 distinct sources" "$T/d0306.json" \
    '[.detail[] | select(.key == {"proto": "udp", "dst_port": 2849})] | length == 1 and
     .[0].sources.distinct == 233 and (.[0].sources.items | length == 10)'
jqcheck "03-06: UDP 2849 source list exact, most packets first" "$T/d0306.json" \
    '.detail[] | select(.key.dst_port == 2849) | .sources as $s |
     $s.exact and $s.error == 0 and
     ([$s.items[].packets] | . == (sort | reverse))'
# analyze reads the unstable slots back (drilldown.lists auto): every list of
# every shown group is exact on all seven days, and so is every series
jqcheck "every shown group's three lists exact, error 0, on the 7 days" "$T/a.json" \
    '[.analyses[0].slots[] | select(.unstable) | .detail[] | .sources, .src_ports, .dst_addrs] |
     length > 0 and all(.exact == true and .error == 0)'
jqcheck "every series exact and summing to at most its group" "$T/a.json" \
    '[.analyses[0].slots[] | select(.unstable) | .detail[] | select(.minutes)] |
     length >= 7 and all(.minutes.exact and (.minutes.packets | add) == .packets)'
# Counted independently: the aggregator's own lists kept in memory with room
# for every value (topk.c: exact while within capacity) must give the same
# items, counts and series as reading back (reread.c).
{ cat "$CFG"; printf 'drilldown:\n  lists: memory\n  sources: 4096\n  ports: 4096\n'
  printf '  destinations: 4096\n'; } > "$T/mem.yaml"
"$DS" analyze -q -c "$T/mem.yaml" --no-store -f json samples/data/*.ipfix > "$T/m.json" \
    2> "$T/err"
# (the groups the aggregator kept no detail for, such as those that left the
# set, have lists only when read back: compared where both have them)
lists() {
    jq -S '[.analyses[0].slots[] | select(.unstable) | .start as $t | .detail[] |
            select(.sources != null) |
            {$t, key, s: .sources.items, p: .src_ports.items, d: .dst_addrs.items,
             m: .minutes.packets, e: [.sources.exact, .src_ports.exact, .dst_addrs.exact]}]' "$1"
}
if lists "$T/m.json" > "$T/lm" && lists "$T/a.json" |
    jq -S --slurpfile m "$T/lm" '[.[] | select([.t, .key] | IN($m[0][] | [.t, .key]))]' \
        > "$T/la" && [ "$(jq length "$T/la")" -gt 50 ] && cmp -s "$T/lm" "$T/la"; then
    ok "lists read back equal the in-memory lists counted whole"
else
    diff "$T/lm" "$T/la" | head -n 40 > "$T/diff"
    not_ok "lists read back equal the in-memory lists counted whole" "$T/diff"
fi
jqcheck "03-06: the in-memory run agrees on 233 sources" "$T/m.json" \
    '.analyses[0].slots[] | select(.start | startswith("2013-03-06")) | .detail[] |
     select(.key.dst_port == 2849) | .sources.distinct == 233 and .sources.exact'
jqcheck "03-06: per-minute packets of UDP 2849 sum to its packets" "$T/d0306.json" \
    '.detail[] | select(.key.dst_port == 2849) |
     .minutes.exact and (.minutes.packets | length == 1440) and
     ((.minutes.packets | add) == .packets)'
jqcheck "03-06: the group agrees with its top entry" "$T/d0306.json" \
    '(.top[] | select(.key.dst_port == 2849)) as $t |
     (.detail[] | select(.key.dst_port == 2849)) as $d |
     $t.packets == $d.packets and $t.src_addrs == $d.sources.distinct'

# 3. the causes: the paper's four cases, and the noise days unknown
for c in 2013-02-22:unknown 2013-02-26:unknown 2013-03-04:unknown 2013-03-06:ddos \
    2013-03-17:backscatter 2013-03-24:scan 2013-03-31:misconfiguration; do
    day=${c%%:*}
    kind=${c#*:}
    slot "$T/a.json" "$day" > "$T/day.json"
    jqcheck "$day: cause $kind" "$T/day.json" ".unstable and .cause.kind == \"$kind\""
done
slot "$T/a.json" 2013-03-24 > "$T/d0324.json"
jqcheck "03-24: the scan is about a dozen UDP ports, from one source" "$T/d0324.json" \
    '(.cause.groups | length >= 10) and all(.cause.groups[]; .proto == "udp") and
     (.cause.evidence | test("^1 source"))'
slot "$T/a.json" 2013-03-31 > "$T/d0331.json"
jqcheck "03-31: the misconfiguration is about UDP 52290" "$T/d0331.json" \
    '.cause.groups == [{"proto": "udp", "dst_port": 52290}]'

# 4. results prints the same document; --no-store gives the same slots
"$DS" results -q -c "$CFG" --store "$DB" -f json > "$T/r.json" 2> "$T/err"
jq 'del(.input) | del(.analyses[].late_flows)' "$T/a.json" > "$T/a-stored.json"
if jq . "$T/r.json" | cmp -s - "$T/a-stored.json"; then ok "results prints what analyze printed"
else
    jq . "$T/r.json" | diff "$T/a-stored.json" - > "$T/diff"
    not_ok "results prints what analyze printed" "$T/diff"
fi
"$DS" analyze -q -c "$CFG" --no-store -f json samples/data/*.ipfix > "$T/n.json" 2> "$T/err"
if cmp -s "$T/n.json" "$T/a.json"; then ok "--no-store prints the same drill-downs"; else
    diff "$T/a.json" "$T/n.json" > "$T/diff"
    not_ok "--no-store prints the same drill-downs" "$T/diff"
fi

# 5. show, an unstable slot: what was stored, the same members as analyze
"$DS" show -c "$CFG" --store "$DB" --slot 2013-03-06 -f json > "$T/s.json" 2> "$T/err"
if [ $? -eq 0 ]; then ok "show --slot 2013-03-06 -f json"; else not_ok "show json" "$T/err"; fi
jq '.slot | del(.drilldown, .unavailable)' "$T/s.json" > "$T/s-slot.json"
jq . "$T/d0306.json" > "$T/d0306-pretty.json"
if cmp -s "$T/s-slot.json" "$T/d0306-pretty.json"; then ok "show gives the slot object of analyze"
else
    diff "$T/d0306-pretty.json" "$T/s-slot.json" > "$T/diff"
    not_ok "show gives the slot object of analyze" "$T/diff"
fi
jqcheck "show: the drill-down was stored" "$T/s.json" \
    '.slot.drilldown == "stored" and .analysis.name == "ports"'
"$DS" show -c "$CFG" --store "$DB" --slot "2013-03-06 15:00" > "$T/s.txt" 2> "$T/err"
if [ $? -eq 0 ] && grep -q "probable cause: ddos, in udp 2849" "$T/s.txt" &&
    grep -q "233 distinct" "$T/s.txt" && grep -q "UNSTABLE" "$T/s.txt"; then
    ok "show text: the slot, its cause and the 233 sources"
else
    not_ok "show text: the slot, its cause and the 233 sources" "$T/s.txt"
fi
if awk 'length > 80 { bad = 1; print NR ": " $0 } END { exit bad }' "$T/s.txt" > "$T/wide"
then ok "show text fits 80 columns"; else not_ok "show text fits 80 columns" "$T/wide"; fi

# 6. show, a stable slot: computed now, and what the store lacks is said
"$DS" show -c "$CFG" --store "$DB" --slot 2013-03-10 -f json > "$T/st.json" 2> "$T/err"
if [ $? -eq 0 ]; then ok "show a stable slot"; else not_ok "show a stable slot" "$T/err"; fi
jqcheck "stable slot: computed, with changes, detail and cause" "$T/st.json" \
    '.slot.unstable == false and .slot.drilldown == "computed" and
     (.slot.changes.window_slots == 7) and (.slot.detail | length > 0) and
     (.slot.cause.kind | type == "string")'
jqcheck "stable slot: every group without lists is named unavailable" "$T/st.json" \
    '[.slot.detail[] | select(.sources == null) | .key] as $gone |
     ($gone | length > 0) and
     ([.slot.unavailable[] | select(has("lists")) | .key] == $gone) and
     all(.slot.unavailable[]; .reason | test("not kept for this slot"))'
"$DS" show -c "$CFG" --store "$DB" --slot 2013-03-10 > "$T/st.txt" 2> "$T/err"
if grep -q "not kept for this slot" "$T/st.txt" && grep -q "computed now" "$T/st.txt"; then
    ok "stable slot text says what is not kept"
else
    not_ok "stable slot text says what is not kept" "$T/st.txt"
fi

# 7. show: errors
"$DS" show -c "$CFG" --store "$DB" --slot "2013-13-45" > "$T/out" 2> "$T/err"
st=$?
if [ $st -eq 2 ] && grep -q "is not a time" "$T/err"; then ok "show: a bad --slot is exit 2"
else echo "exit $st" >> "$T/err"; not_ok "show: a bad --slot is exit 2" "$T/err"; fi
"$DS" show -c "$CFG" --store "$DB" > "$T/out" 2> "$T/err"
if [ $? -eq 2 ] && grep -q -- "--slot TIME is required" "$T/err"; then
    ok "show: --slot is required"
else not_ok "show: --slot is required" "$T/err"; fi
"$DS" show -c "$CFG" --store "$DB" --slot 2013-03-06 -a nosuch > "$T/out" 2> "$T/err"
if [ $? -eq 2 ] && grep -q "no analysis 'nosuch'" "$T/err"; then
    ok "show: an unknown analysis is exit 2"
else not_ok "show: an unknown analysis is exit 2" "$T/err"; fi
"$DS" show -c "$CFG" --store "$DB" --slot 2012-01-01 > "$T/out" 2> "$T/err"
if [ $? -eq 1 ] && grep -q "nothing stored for the slot" "$T/err"; then
    ok "show: a slot the store does not have is exit 1"
else not_ok "show: a slot the store does not have is exit 1" "$T/err"; fi
if "$DS" show --help | grep -q "usage: darkstab show" && "$DS" --help | grep -q "^  show "; then
    ok "show --help, and listed by darkstab --help"
else not_ok "show --help, and listed by darkstab --help"; fi

# 8. judged again with other parameters: drill-downs follow the judgement
cp "$DB" "$T/k3.db"
sed -e 's/k_sigma: 2/k_sigma: 3/' -e "s|path: darkstab-sample.db|path: $T/k3.db|" "$CFG" \
    > "$T/k3.yaml"
"$DS" analyze -q -c "$T/k3.yaml" -f json samples/data/*.ipfix > "$T/k3.json" 2> "$T/err"
jqcheck "k 3: fewer unstable slots, each with its drill-down, no other" "$T/k3.json" \
    '[.analyses[0].slots[] | select(.unstable)] as $u | ($u | length) < 7 and
     ($u | length) > 0 and
     all(.analyses[0].slots[]; has("cause") == .unstable)'

# 9. a damaged drill-down: results goes on without it, and says so once
cp "$DB" "$T/d.db"
if sqlite3 "$T/d.db" "UPDATE explains SET blob = x'0102030405'" 2> "$T/err"; then
    "$DS" results -c "$CFG" --store "$T/d.db" -f json > "$T/dr.json" 2> "$T/err"
    st=$?
    if [ $st -eq 0 ] && [ "$(grep -c "drill-down of slot .* is damaged" "$T/err")" -eq 1 ]; then
        ok "damaged drill-downs: results exits 0 with one warning"
    else
        echo "exit $st" >> "$T/err"
        not_ok "damaged drill-downs: results exits 0 with one warning" "$T/err"
    fi
    jqcheck "damaged drill-downs: the slots are reported without them" "$T/dr.json" \
        '[.analyses[0].slots[] | select(.unstable)] | length == 7 and
         all(has("cause") | not)'
    "$DS" show -c "$CFG" --store "$T/d.db" --slot 2013-03-06 -f json > "$T/ds.json" 2> "$T/err"
    jqcheck "damaged drill-down: show computes it again" "$T/ds.json" \
        '.slot.drilldown == "computed" and .slot.cause.kind == "ddos"'
else
    not_ok "sqlite3 could not damage the store" "$T/err"
fi

summary explain
