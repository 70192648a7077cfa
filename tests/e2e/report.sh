#!/bin/sh
# End-to-end tests of "darkstab report".
#
#   sh tests/e2e/report.sh BUILD_DIR
#
# The samples are analysed into a store; then the report of a day with an
# event (2013-03-06), of a quiet day and of a month is checked as a reader
# would: the text fits 80 columns and has the summary and a section per
# unstable slot, the JSON agrees with the stored results, and the HTML is
# self-contained and renders in headless Chromium with every chart decoded
# (tests/e2e/shotcheck.py finds each chart's pixels in the screenshot).  The
# screenshot check is run once on a page with a damaged image, where it must
# fail: a check that cannot fail proves nothing.
#
# Prints "ok - ..." or "not ok - ..." per test, then "report: N passed, N
# failed"; appends "passed failed" to $RESULTS if set.
set -u
BUILD=${1:-build}
DS="$BUILD/darkstab"
HERE=$(dirname "$0")
T=$(mktemp -d /tmp/darkstab-report-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
export TZ=UTC

. "$HERE/lib.sh"

CFG=samples/darkstab-sample.yaml
DB="$T/r.db"

# report ARGS...: darkstab report of the sample store, output in $T/out, stderr in $T/err
report() {
    "$DS" report -q -c "$CFG" --store "$DB" "$@" > "$T/out" 2> "$T/err"
}

# expect_exit NAME STATUS ARGS...: the exit status of "darkstab report ARGS"
expect_exit() {
    name=$1
    want=$2
    shift 2
    "$DS" report -c "$CFG" "$@" > "$T/out" 2> "$T/err"
    got=$?
    if [ "$got" -eq "$want" ]; then ok "$name"; else
        echo "exit status $got, expected $want" >> "$T/err"
        not_ok "$name" "$T/err"
    fi
}

# screenshot HTML PNG: headless Chromium draws the page at 800 px wide
screenshot() {
    rm -f "$2"
    timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$T/chromium" --window-size=800,"${3:-4000}" \
        --screenshot="$2" "file://$1" > "$T/chromium.log" 2>&1
    [ -s "$2" ]
}

if ! "$DS" analyze -q -c "$CFG" --store "$DB" samples/data/*.ipfix > "$T/analyze" 2>&1; then
    not_ok "analyze the samples into a store" "$T/analyze"
    summary report
    exit 1
fi

# --- the text of a day with an event ---------------------------------------
if report --date 2013-03-06; then ok "report --date exits 0"; else not_ok "report --date exits 0" "$T/err"; fi
cp "$T/out" "$T/day.txt"
long=$(awk 'length($0) > 80 { n++ } END { print n + 0 }' "$T/day.txt")
if [ "$long" -eq 0 ]; then ok "text: no line over 80 columns"; else
    awk 'length($0) > 80' "$T/day.txt" > "$T/long"
    not_ok "text: no line over 80 columns ($long over)" "$T/long"
fi
if head -1 "$T/day.txt" | grep -q '^darkstab 2013-03-06: 1 unstable slot ('; then
    ok "text: the subject line first"
else not_ok "text: the subject line first" "$T/day.txt"; fi
if grep -q '^SUMMARY' "$T/day.txt" && grep -q '^  unstable     1 slot' "$T/day.txt" &&
    grep -q '^  packets      21,254, ' "$T/day.txt" &&
    [ "$(grep -n '^SUMMARY' "$T/day.txt" | cut -d: -f1)" -lt \
      "$(grep -n '^EVENTS' "$T/day.txt" | cut -d: -f1)" ]; then
    ok "text: the summary before the events, with the day's counts"
else not_ok "text: the summary before the events, with the day's counts" "$T/day.txt"; fi
if [ "$(grep -c '^\[[0-9]*\] ports ' "$T/day.txt")" -eq 1 ] &&
    grep -q '^\[1\] ports 2013-03-06 Wed: ' "$T/day.txt" && grep -q '^udp 2849: 18,964 packets' "$T/day.txt"; then
    ok "text: one section for the event, with its groups"
else not_ok "text: one section for the event, with its groups" "$T/day.txt"; fi

# --- a quiet day, a range, the default day ---------------------------------
report --date 2013-03-10
if head -1 "$T/out" | grep -q '^darkstab 2013-03-10: no unstable slot$' &&
    grep -q '^No unstable slot in the range' "$T/out"; then
    ok "text: a quiet day says so"
else not_ok "text: a quiet day says so" "$T/out"; fi
report --from 2013-03-01 --to 2013-04-01
cp "$T/out" "$T/month.txt"
sections=$(grep -c '^\[[0-9]*\] ports ' "$T/month.txt")
if [ "$sections" -eq 5 ] && head -1 "$T/month.txt" | grep -q ': 5 unstable slots (' &&
    [ "$(awk 'length($0) > 80' "$T/month.txt" | wc -l)" -eq 0 ]; then
    ok "text: a month has its 5 unstable slots, in 80 columns"
else not_ok "text: a month has its 5 unstable slots, in 80 columns ($sections)" "$T/month.txt"; fi
if report; then ok "report without --date: yesterday, exit 0"; else
    not_ok "report without --date: yesterday, exit 0" "$T/err"; fi

# Today (in the sample's zone) has no data yet and its slot is still open: the
# summary says which slot, the JSON lists it.
today=$(TZ=Asia/Tokyo date +%F)
report --date "$today"
if grep -q "^  incomplete   1 slot not judged or still open: $today" "$T/out"; then
    ok "text: the slot still open is named in the summary"
else not_ok "text: the slot still open is named in the summary" "$T/out"; fi
report --date "$today" --format json
if jq -e --arg d "$today" '.incomplete == 1 and .analyses[0].incomplete == 1 and
          (.analyses[0].incomplete_slots[0] | startswith($d))' "$T/out" > /dev/null 2>&1; then
    ok "json: the slot still open in incomplete_slots"
else not_ok "json: the slot still open in incomplete_slots" "$T/out"; fi

# --- JSON --------------------------------------------------------------------
report --date 2013-03-06 --format json
if jq -e '.unstable == 1 and (.events | length) == 1 and .events[0].analysis == "ports" and
          .events[0].start == "2013-03-06T00:00:00+09:00" and .analyses[0].slots == 1 and
          .analyses[0].packets == 21254 and .analyses[0].previous.periods_with_data == 7 and
          ([.events[0].thresholds[].status] | all(. == "unstable")) and
          (.subject | startswith("darkstab 2013-03-06: 1 unstable slot")) and
          (.images | length) == ([.analyses[].chart, .events[].chart] | map(select(. != null)) | length)' \
        "$T/out" > /dev/null 2>&1; then
    ok "json: the day's summary and event"
else not_ok "json: the day's summary and event" "$T/out"; fi
report --from 2013-03-01 --to 2013-04-01 --format json
# the month's events are the unstable slots "results" gives for the same range
"$DS" results -q -c "$CFG" --store "$DB" --from 2013-03-01 --to 2013-04-01 --format json \
    > "$T/results.json" 2>&1
if [ "$(jq -c '[.events[].start]' "$T/out" 2>/dev/null)" = \
     "$(jq -c '[.analyses[0].slots[] | select(.thresholds | any(.status == "unstable")) | .start]' \
         "$T/results.json" 2>/dev/null)" ] && [ "$(jq '.events | length' "$T/out")" -eq 5 ]; then
    ok "json: the month's events are the stored unstable slots"
else not_ok "json: the month's events are the stored unstable slots" "$T/out"; fi

report --from 2013-02-01 --to 2013-04-01 --format json
if [ "$(jq -c '[.events[] | .start[0:10] + " " + .cause.kind]' "$T/out" 2>/dev/null)" = \
     '["2013-02-22 unknown","2013-02-26 unknown","2013-03-04 unknown","2013-03-06 ddos","2013-03-17 backscatter","2013-03-24 scan","2013-03-31 misconfiguration"]' ] &&
    jq -e '.subject == "darkstab 2013-02-01 to 2013-04-01: 7 unstable slots (ddos, misconfiguration, scan, backscatter, unknown)"' \
        "$T/out" > /dev/null; then
    ok "json: the samples' seven events with their causes, and the subject"
else not_ok "json: the samples' seven events with their causes, and the subject" "$T/out"; fi
report --date 2013-03-06 --format json
charts=$(jq '.images | length' "$T/out")

# --- HTML --------------------------------------------------------------------
report --date 2013-03-06 --format html -o "$T/day.html"
if [ $? -eq 0 ] && [ ! -s "$T/out" ] && grep -q '<img src="data:image/png;base64,' "$T/day.html" &&
    ! grep -Eqi '<script|<link|@import|url\(|src="(https?:|//|cid:)' "$T/day.html" &&
    ! grep -q "$(printf '\001')" "$T/day.html"; then
    ok "html: self-contained (data: images, no script, nothing fetched)"
else not_ok "html: self-contained (data: images, no script, nothing fetched)" "$T/day.html"; fi
if ! command -v chromium > /dev/null 2>&1 || ! command -v convert > /dev/null 2>&1; then
    not_ok "chromium and ImageMagick are installed (make deps)"
elif screenshot "$T/day.html" "$T/day.png"; then
    if python3 "$HERE/shotcheck.py" "$T/day.png" "$T/day.html" > "$T/shot" 2>&1 &&
        [ "$charts" -eq 2 ] && [ "$(grep -c 'drawn at' "$T/shot")" -eq "$charts" ]; then
        ok "html: chromium draws the page and every chart ($charts)"
    else not_ok "html: chromium draws the page and every chart" "$T/shot"; fi
    # the same check on a damaged image must fail, or it proves nothing
    python3 - "$T/day.html" "$T/bad.html" <<'EOF'
import sys
s = open(sys.argv[1]).read()
i = s.index("base64,") + 7 + 2000
open(sys.argv[2], "w").write(s[:i] + "A" * 300 + s[i + 300:])
EOF
    if screenshot "$T/bad.html" "$T/bad.png" &&
        ! python3 "$HERE/shotcheck.py" "$T/bad.png" "$T/day.html" > "$T/shot" 2>&1 &&
        grep -q 'chart 0 .*not found' "$T/shot"; then
        ok "html: the screenshot check fails on a damaged image"
    else not_ok "html: the screenshot check fails on a damaged image" "$T/shot"; fi
    # and on a blank page
    printf '<!DOCTYPE html><html><body></body></html>\n' > "$T/blank.html"
    if screenshot "$T/blank.html" "$T/blank.png" &&
        ! python3 "$HERE/shotcheck.py" "$T/blank.png" "$T/day.html" > "$T/shot" 2>&1 &&
        grep -q '^blank' "$T/shot"; then
        ok "html: the screenshot check fails on a blank page"
    else not_ok "html: the screenshot check fails on a blank page" "$T/shot"; fi
    report --from 2013-03-01 --to 2013-04-01 --format html -o "$T/month.html"
    if screenshot "$T/month.html" "$T/month.png" 12000 &&
        python3 "$HERE/shotcheck.py" "$T/month.png" "$T/month.html" > "$T/shot" 2>&1; then
        ok "html: the month renders with every chart"
    else not_ok "html: the month renders with every chart" "$T/shot"; fi
else
    not_ok "html: chromium takes a screenshot" "$T/chromium.log"
fi

# --- usage and failures ------------------------------------------------------
expect_exit "a bad --date is a usage error (2)" 2 --store "$DB" --date 2013-13-45
expect_exit "--date with --from is a usage error (2)" 2 --store "$DB" --date 2013-03-06 \
    --from 2013-03-01 --to 2013-03-02
expect_exit "--from without --to is a usage error (2)" 2 --store "$DB" --from 2013-03-01
expect_exit "--format csv is not a report format (2)" 2 --store "$DB" --format csv
expect_exit "--send of a range is a usage error (2)" 2 --store "$DB" --send \
    --from 2013-03-01 --to 2013-03-02
expect_exit "a missing store fails the run (1)" 1 --store "$T/none.db" --date 2013-03-06
expect_exit "--help exits 0" 0 --help

summary report
