#!/bin/sh
# Runs fuzz targets (make fuzz, make check-fuzz):
#
#   sh tests/fuzz/run.sh FUZZ_BUILD SECONDS TARGET...
#
# For each TARGET: the inputs of tests/data/fuzz/TARGET (crashes found
# before) once, as a regression, then SECONDS of fuzzing on the corpus
# FUZZ_BUILD/corpus/TARGET, seeded from the project's own data, with the
# dictionary tests/fuzz/TARGET.dict.  Two targets run at a time (two
# cores).  A crash, leak or hang leaves its input in FUZZ_BUILD/artifacts
# and fails the target.  Prints one line per target with the executions
# and coverage reached; appends "passed failed" to $RESULTS if set.
set -u
B=$1
S=$2
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
mkdir -p "$B/artifacts" "$B/logs"

seed() {
    c="$B/corpus/$1"
    [ -d "$c" ] && return
    mkdir -p "$c"
    case "$1" in
    datagram)
        find "$ROOT/tests/data/captures" -name '*.pcap' | sort |
            xargs "$B/seeds" "$c" > /dev/null ;;
    ipfix_file)
        cp "$ROOT"/tests/data/crashers/*.ipfix "$c/"
        # small files: a libFuzzer input is at most -max_len bytes
        for f in "$ROOT"/samples/data/*.ipfix; do
            head -c 60000 "$f" > "$c/$(basename "$f")"
        done ;;
    config)
        cp "$ROOT"/config/*.yaml "$ROOT"/samples/*.yaml "$c/" ;;
    parse)
        for s in '0198.18.0.0/16' '02001:db8::/32' '1192.0.2.1' '1::ffff:1.2.3.4' \
            '2127.0.0.1:9995' '2[::1]:4739' '31h30m' '390s' '41M' '4512K' '5-42' \
            '69.25' '72015-12-21T00:00:00+09:00' '72013-03-06 12:30' '72013-03-06'; do
            printf '%s' "$s" > "$c/$(printf '%s' "$s" | cksum | cut -d' ' -f1)"
        done ;;
    checkpoint)
        printf '\001\000' > "$c/empty" ;;
    spool)
        # a whole batch of no rows (56-byte header, body length 0), and a header cut short
        printf 'DSCHB001\001\000\000\000\000\000\000\000' > "$c/short"
        { printf 'DSCHB001'; head -c 48 /dev/zero; } > "$c/empty-batch" ;;
    esac
}

max_len() {
    case "$1" in
    datagram | ipfix_file | checkpoint | spool) echo 65536 ;;
    *) echo 4096 ;;
    esac
}

# one TARGET: regression inputs, then fuzzing; the verdict in logs/TARGET.verdict
run_one() {
    t=$1
    log="$B/logs/$t.log"
    verdict="$B/logs/$t.verdict"
    seed "$t"
    dict=""
    [ -f "$HERE/$t.dict" ] && dict="-dict=$HERE/$t.dict"
    reg=""
    if [ -d "$ROOT/tests/data/fuzz/$t" ]; then
        reg=$(find "$ROOT/tests/data/fuzz/$t" -type f | sort)
    fi
    if [ -n "$reg" ] && ! "$B/fuzz_$t" $reg > "$B/logs/$t.regress.log" 2>&1; then
        echo "not ok - fuzz $t: a regression input of tests/data/fuzz/$t fails" \
            "(see $B/logs/$t.regress.log)" > "$verdict"
        return
    fi
    "$B/fuzz_$t" -max_total_time="$S" -max_len="$(max_len "$t")" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$B/artifacts/$t-" \
        $dict "$B/corpus/$t" > "$log" 2>&1
    rc=$?
    execs=$(grep '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    corp=$(find "$B/corpus/$t" -type f | wc -l)
    if [ "$rc" = 0 ]; then
        echo "ok - fuzz $t: ${S}s, ${execs:-0} executions, coverage ${cov:-0} edges" \
            "(${ft:-0} features), corpus $corp" > "$verdict"
    else
        echo "not ok - fuzz $t: exit $rc after ${execs:-?} executions; the input is in" \
            "$B/artifacts (see $log)" > "$verdict"
    fi
}

pids=""
n=0
for t in "$@"; do
    run_one "$t" &
    pids="$pids $!"
    n=$((n + 1))
    if [ $((n % 2)) = 0 ]; then
        wait $pids
        pids=""
    fi
done
wait $pids
passed=0
failed=0
for t in "$@"; do
    cat "$B/logs/$t.verdict"
    if grep -q '^ok' "$B/logs/$t.verdict"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "fuzz: $passed passed, $failed failed"
[ -z "${RESULTS:-}" ] || echo "$passed $failed" >> "$RESULTS"
[ "$failed" = 0 ]
