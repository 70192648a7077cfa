#!/bin/sh
# End-to-end tests of the darkstab command line.
#
#   sh tests/e2e/run.sh BUILD_DIR
#
# The central test generates a scenario with the paper's cases, runs
# "darkstab analyze --format json" on it, and compares every slot (packets,
# flows, groups, TopN at each threshold, status, direction, mean) and the
# top groups of every unstable day (packets, distinct sources and
# destinations) with what tests/e2e/expected.awk computes from the
# generator's truth CSV on its own, without any darkstab code.  The others
# check what a user relies on: running twice counts nothing twice, a later
# run extends the series, input order does not matter, standard input,
# bad input, exit codes, configuration errors.  tests/e2e/senders.sh, run
# from here, checks the test tools (replay, udpsink) and the generator's
# UDP senders over loopback.
#
# Prints "ok - ..." or "not ok - ..." per test, then "e2e: N passed, N
# failed"; appends "passed failed" to $RESULTS if set.
set -u
BUILD=${1:-build}
DS="$BUILD/darkstab"
GEN="$BUILD/darkstab-gen"
HERE=$(dirname "$0")
T=$(mktemp -d /tmp/darkstab-e2e-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
export TZ=UTC

. "$HERE/lib.sh"

# check NAME COMMAND...: the command's exit status decides
check() {
    name=$1
    shift
    if "$@" > "$T/out" 2>&1; then ok "$name"; else not_ok "$name" "$T/out"; fi
}

# expect_exit NAME STATUS COMMAND...: exit status and a message on stderr
expect_exit() {
    name=$1
    want=$2
    shift 2
    "$@" > "$T/out" 2> "$T/err"
    got=$?
    if [ "$got" -eq "$want" ]; then ok "$name"; else
        echo "exit $got, expected $want" >> "$T/err"
        not_ok "$name" "$T/err"
    fi
}

same() {
    cmp -s "$1" "$2" || { diff "$1" "$2" > "$T/diff"; return 1; }
}

cat > "$T/c.yaml" <<'EOF'
timezone: Asia/Tokyo
darknet:
  prefixes: [198.18.0.0/16, "2001:db8:dead::/48"]
  exclude: [198.18.0.0/24]
analyses:
  - name: ports
    keys: [proto, dst_port]
    window: 7
    thresholds: [1.0, 0.75, 0.5]
EOF

# ---- the scenario, as one file, as files per day, and its truth --------
"$GEN" --flows-per-day 600 --truth "$T/truth.csv" "$T/all.ipfix" 2> /dev/null
"$GEN" --flows-per-day 600 --split "$T/days" 2> /dev/null
awk -F, -v W=7 -v TZOFF=32400 -f "$HERE/expected.awk" "$T/truth.csv" | sort > "$T/want.txt"

report() {
    jq -r -f "$HERE/report.jq" "$1" | sort > "$2"
}

# 1. the method, against an independent computation
"$DS" analyze -q -c "$T/c.yaml" --store "$T/one.db" -f json -o "$T/one.json" "$T/all.ipfix"
report "$T/one.json" "$T/got.txt"
if same "$T/want.txt" "$T/got.txt" && [ -s "$T/want.txt" ]; then
    ok "analyze matches the independent computation ($(grep -vc '^top' "$T/want.txt") slots, $(grep -c '^top' "$T/want.txt") top groups)"
else
    not_ok "analyze matches the independent computation" "$T/diff"
fi

# the paper's cases show as unstable, with the expected direction
unstable=$(jq -r '.analyses[0].slots[] | select(.thresholds[0].status == "unstable")
                  | (.start[0:10] + " " + .thresholds[0].direction)' "$T/one.json" | tr '\n' ' ')
case "$unstable" in
*"2013-03-06 decrease"*"2013-03-17 decrease"*"2013-03-24 increase"*"2013-03-31 decrease"*)
    ok "the four cases are among the slots unstable at 1% (all of them: $unstable)" ;;
*) echo "$unstable" > "$T/u"; not_ok "the four cases are unstable at 1%" "$T/u" ;;
esac
top=$(jq -r '.analyses[0].slots[] | select(.start | startswith("2013-03-06")) | .top[0]
             | "\(.key.proto) \(.key.dst_port) \(.src_addrs) \(.type)"' "$T/one.json")
if [ "$top" = "udp 2849 233 UDP" ]; then ok "2013-03-06: udp 2849 from 233 sources leads"; else
    echo "$top" > "$T/u"; not_ok "2013-03-06: udp 2849 from 233 sources leads" "$T/u"; fi

# input accounting adds up
acc=$(jq -r '.input | "\(.records) \(.counted + .outside_darknet + .excluded + .unusable) \(.malformed)"' "$T/one.json")
set -- $acc
if [ "$1" = "$2" ] && [ "$3" = 0 ] && [ "$1" = "$(wc -l < "$T/truth.csv" | tr -d ' ')" ]; then
    ok "records = counted + outside + excluded + unusable = truth ($1)"
else
    echo "$acc" > "$T/u"; not_ok "input accounting" "$T/u"
fi

# 2. running twice on the same inputs counts nothing twice
"$DS" analyze -q -c "$T/c.yaml" --store "$T/one.db" -f json -o "$T/again.json" "$T/all.ipfix"
jq '.analyses' "$T/one.json" > "$T/a1"
jq '.analyses' "$T/again.json" > "$T/a2"
if same "$T/a1" "$T/a2" && [ "$(jq .input.already_counted "$T/again.json")" = 1 ]; then
    ok "a second run over the same file changes nothing and says it was counted"
else
    not_ok "a second run over the same file changes nothing" "$T/diff"
fi
pk=$(sqlite3 "$T/one.db" 'SELECT sum(packets) FROM slots' 2>/dev/null || echo skip)
want_pk=$(awk -F, '($6 ~ /^198\.18\./ && $6 !~ /^198\.18\.0\./) || $6 ~ /^2001:db8:dead:/ { s += $12 } END { print s }' "$T/truth.csv")
if [ "$pk" = skip ] || [ "$pk" = "$want_pk" ]; then ok "stored packets equal the truth after two runs ($want_pk)"; else
    echo "$pk != $want_pk" > "$T/u"; not_ok "stored packets after two runs" "$T/u"; fi

# 3. a later run extends the series: the window reaches back into the store
ls "$T"/days/*.ipfix | head -n 25 > "$T/first"
ls "$T"/days/*.ipfix | tail -n +26 > "$T/second"
"$DS" analyze -q -c "$T/c.yaml" --store "$T/two.db" -f json -o "$T/p1.json" $(cat "$T/first")
"$DS" analyze -q -c "$T/c.yaml" --store "$T/two.db" -f json -o "$T/p2.json" $(cat "$T/second")
jq -c '.analyses[0].slots[]' "$T/p2.json" > "$T/s2"
jq -c '.analyses[0].slots[]' "$T/one.json" | tail -n "$(wc -l < "$T/s2")" > "$T/s1"
if same "$T/s1" "$T/s2" && [ -s "$T/s2" ]; then
    ok "two runs of 25 days each judge the second half as one run does"
else
    not_ok "two runs judge the second half as one run does" "$T/diff"
fi

# 4. the order of the inputs does not matter (late flows reopen their slot)
"$DS" analyze -q -c "$T/c.yaml" --no-store -f json -o "$T/rev.json" $(ls -r "$T"/days/*.ipfix)
report "$T/rev.json" "$T/gotrev.txt"
if same "$T/want.txt" "$T/gotrev.txt"; then
    ok "files given newest first give the same results ($(jq .analyses[0].late_flows "$T/rev.json") late flows)"
else
    not_ok "files given newest first give the same results" "$T/diff"
fi

# 5. standard input
cat "$T"/days/*.ipfix | "$DS" analyze -q -c "$T/c.yaml" --no-store -f json -o "$T/stdin.json" -
report "$T/stdin.json" "$T/gotstdin.txt"
if same "$T/want.txt" "$T/gotstdin.txt"; then ok "standard input (-) reads messages back to back"; else
    not_ok "standard input" "$T/diff"; fi

# 6. CSV and text
"$DS" analyze -q -c "$T/c.yaml" --no-store -f csv -o "$T/out.csv" "$T/all.ipfix"
rows=$(($(wc -l < "$T/out.csv") - 1))
slots=$(jq '.analyses[0].slots | length' "$T/one.json")
if [ "$rows" -eq $((slots * 3)) ] && head -n 1 "$T/out.csv" | grep -q '^analysis,slot_start,slot_end,packets'; then
    ok "CSV: a header and one row per slot and threshold ($rows)"
else
    not_ok "CSV rows" "$T/out.csv"
fi
"$DS" analyze -q -c "$T/c.yaml" --no-store "$T/all.ipfix" > "$T/out.txt"
if [ "$(grep -c '\*\* UNSTABLE' "$T/out.txt")" -eq "$(jq '[.analyses[0].slots[] | select(.unstable)] | length' "$T/one.json")" ] &&
    grep -q '^2013-03-06 Wed.*\*\* UNSTABLE decrease' "$T/out.txt" &&
    grep -Eq '^ +233 +1 +[0-9]+ +[0-9,]+ +[0-9.]+% +udp +2849 +UDP' "$T/out.txt"; then
    ok "text: unstable slots marked, Table I layout for 2013-03-06"
else
    not_ok "text report" "$T/out.txt"
fi

# 7. daylight saving: a daily slot of 25 hours in Europe/Berlin
"$GEN" --tz Europe/Berlin --start 2015-10-20 --days 10 --flows-per-day 200 --no-events "$T/dst.ipfix" 2> /dev/null
sed 's|Asia/Tokyo|Europe/Berlin|' "$T/c.yaml" > "$T/berlin.yaml"
"$DS" analyze -q -c "$T/berlin.yaml" --no-store -f json -o "$T/dst.json" "$T/dst.ipfix"
slot=$(jq -r '.analyses[0].slots[] | select(.start | startswith("2015-10-25")) | "\(.start) \(.end)"' "$T/dst.json")
if [ "$slot" = "2015-10-25T00:00:00+02:00 2015-10-26T00:00:00+01:00" ]; then
    ok "Europe/Berlin 2015-10-25 is one slot of 25 hours"
else
    echo "$slot" > "$T/u"; not_ok "Europe/Berlin 2015-10-25 slot" "$T/u"
fi

# 8. bad input: survived, counted, named
for f in "$HERE"/../data/crashers/*.ipfix; do
    if timeout 60 "$DS" analyze -q -c "$T/c.yaml" --no-store -f json -o "$T/crash.json" "$f" 2> "$T/err" &&
        [ "$(jq .input.malformed "$T/crash.json")" -gt 0 ] && grep -q "$(basename "$f")" "$T/err"; then
        ok "libfixbuf crasher $(basename "$f"): no hang, no crash, malformed counted and named"
    else
        not_ok "libfixbuf crasher $(basename "$f")" "$T/err"
    fi
done
head -c 123456 "$T/all.ipfix" > "$T/cut.ipfix"
printf 'garbage in front' > "$T/junk.ipfix"
cat "$T/all.ipfix" >> "$T/junk.ipfix"
"$DS" analyze -q -c "$T/c.yaml" --no-store -f json -o "$T/junk.json" "$T/cut.ipfix" "$T/junk.ipfix" 2> "$T/err"
st=$?
if [ $st -eq 0 ] && grep -q 'cut.ipfix offset .*cut short' "$T/err" &&
    grep -q 'junk.ipfix offset 0: not an IPFIX message; skipped 16 bytes' "$T/err" &&
    [ "$(jq .input.malformed "$T/junk.json")" -ge 2 ]; then
    ok "a truncated file and leading garbage: warnings with file and offset, run goes on"
else
    not_ok "truncated file and garbage" "$T/err"
fi
expect_exit "a missing input: exit 1, named" 1 "$DS" analyze -q -c "$T/c.yaml" --no-store "$T/nope.ipfix" "$T/all.ipfix"
grep -q 'nope.ipfix: cannot open' "$T/err" || not_ok "missing input named" "$T/err"
printf 'not ipfix at all, just text\n' > "$T/text.ipfix"
expect_exit "a file with no IPFIX message: exit 1" 1 "$DS" analyze -q -c "$T/c.yaml" --no-store "$T/text.ipfix"
grep -q 'no IPFIX message found' "$T/err" || not_ok "text file named" "$T/err"

# 9. command line and configuration
check "--help exits 0" "$DS" --help
check "analyze --help exits 0" "$DS" analyze --help
if [ "$("$DS" --version)" = "darkstab $(cat "$HERE/../../VERSION")" ]; then ok "--version"; else not_ok "--version"; fi
expect_exit "unknown command: exit 2" 2 "$DS" frobnicate
expect_exit "analyze without -c: exit 2" 2 "$DS" analyze "$T/all.ipfix"
expect_exit "analyze with a bad --format: exit 2" 2 "$DS" analyze -c "$T/c.yaml" -f xml "$T/all.ipfix"
printf 'analyses:\n  - name: x\n    thresholds: [1.0, 150]\n' > "$T/bad.yaml"
expect_exit "a threshold outside (0, 100): exit 2" 2 "$DS" analyze -c "$T/bad.yaml" "$T/all.ipfix"
if grep -q "bad.yaml:3:23: analyses\[0\].thresholds\[1\]: 150 is outside (0, 100)" "$T/err"; then
    ok "the error names file, line, column and key"
else
    not_ok "config error message" "$T/err"
fi
printf 'darknet: [unclosed\n' > "$T/notyaml.yaml"
expect_exit "a config that is not YAML: exit 2" 2 "$DS" check-config -c "$T/notyaml.yaml"
"$DS" check-config -c "$T/c.yaml" --print > "$T/eff1.yaml"
"$DS" check-config -c "$T/eff1.yaml" --print > "$T/eff2.yaml"
if [ "$(tail -n +2 "$T/eff1.yaml")" = "$(tail -n +2 "$T/eff2.yaml")" ]; then
    ok "check-config prints a configuration that reads back the same"
else
    not_ok "check-config round trip"
fi
if "$DS" check-config -c "$T/c.yaml" | grep -q "c.yaml: valid (1 analysis)"; then
    ok "check-config without --print says the file is valid"
else
    not_ok "check-config summary line"
fi
# The README's configuration table is check-config --doc, word for word.
"$DS" check-config --doc > "$T/doc.md"
sed -n '/<!-- cfg-table begin -->/,/<!-- cfg-table end -->/p' "$HERE/../../README.md" | \
    sed '1d;$d' > "$T/readme-table.md"
if [ -s "$T/doc.md" ] && cmp -s "$T/doc.md" "$T/readme-table.md"; then
    ok "README's configuration table is the table of keys"
else
    diff "$T/readme-table.md" "$T/doc.md" > "$T/doc.diff"
    not_ok "README configuration table differs from check-config --doc (make readme-table)" \
        "$T/doc.diff"
fi
printf 'smtp:\n  url: "smtp://mailer:hunter2@127.0.0.1:25"\n' > "$T/secret.yaml"
"$DS" check-config -c "$T/secret.yaml" --print > "$T/secret.out" 2>&1
if grep -q hunter2 "$T/secret.out"; then
    not_ok "check-config --print shows a password in a URL"
elif grep -q 'mailer:\*\*\*\*\*\*\*\*@127.0.0.1' "$T/secret.out"; then
    ok "check-config --print masks the password of a URL"
else
    not_ok "check-config --print of smtp.url" "$T/secret.out"
fi
sed 's/proto, dst_port/dst_port/' "$T/c.yaml" > "$T/changed.yaml"
expect_exit "the same analysis name with other keys in a store: exit 2" 2 "$DS" analyze -c "$T/changed.yaml" --store "$T/one.db" "$T/all.ipfix"
grep -q "analysis 'ports' was stored with keys \[proto,dst_port\]" "$T/err" || not_ok "conflict message" "$T/err"

# 10, 11. the test tools and the UDP senders
. "$HERE/senders.sh"

summary e2e
