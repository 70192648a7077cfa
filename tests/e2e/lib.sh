# Sourced by tests/e2e/run.sh and tests/e2e/collect.sh: a line per test and
# the counts at the end.

passed=0
failed=0

ok() {
    passed=$((passed + 1))
    echo "ok - $1"
}

# not_ok NAME [FILE]: a failure, with the start of FILE (the evidence) if it exists
not_ok() {
    failed=$((failed + 1))
    echo "not ok - $1"
    [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/    /' "$2" | head -30
    return 0
}

# summary NAME: prints "NAME: N passed, N failed", appends "passed failed" to
# $RESULTS if set; fails if any test failed
summary() {
    echo "$1: $passed passed, $failed failed"
    [ -n "${RESULTS:-}" ] && echo "$passed $failed" >> "$RESULTS"
    [ "$failed" -eq 0 ]
}
