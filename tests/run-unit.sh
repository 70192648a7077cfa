#!/bin/sh
# Runs the Check unit test binaries given as arguments; each forks per test
# (CK_FORK) so a crash fails only its own test.  Appends "passed failed" to
# $RESULTS (if set) and prints "unit: N passed, N failed".  Of a binary with
# a failure it also prints what a sanitizer (30 lines at most) and errors
# such as fatalx()'s (10) wrote: Check's own line says no more than "Early
# exit".
set -u
passed=0
failed=0
status=0
for bin in "$@"; do
    out=$("$bin" 2>&1)
    rc=$?
    printf '%s\n' "$out" | grep -v '^Running suite' | grep -E '%|Failure|Error|:[A-Z]:' || true
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: [0-9]+' | tail -n 1)
    if [ -z "$line" ]; then
        echo "$bin: no Check summary (crashed?), exit $rc"
        failed=$((failed + 1))
        status=1
        continue
    fi
    checks=$(printf '%s\n' "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
    fails=$(printf '%s\n' "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
    errs=$(printf '%s\n' "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
    bad=$((fails + errs))
    passed=$((passed + checks - bad))
    failed=$((failed + bad))
    if [ "$bad" -ne 0 ] || [ "$rc" -ne 0 ]; then
        status=1
        # a test that exited early: what a sanitizer or fatalx() said of it
        printf '%s\n' "$out" | grep -E 'Sanitizer|runtime error|^ +#[0-9]+ ' | head -n 30
        printf '%s\n' "$out" | grep -E '^darkstab: error: ' | head -n 10
    fi
done
[ -n "${RESULTS:-}" ] && echo "$passed $failed" >> "$RESULTS"
echo "unit: $passed passed, $failed failed"
exit $status
