#!/bin/sh
# each.sh BUILD SCRIPT...: runs every end-to-end script, whatever the ones
# before it did; a script that dies before it wrote its summary to
# $RESULTS counts as one failure, so that nothing is lost silently.
set -u
build=$1
shift
status=0
for script in "$@"; do
    before=$(wc -l < "$RESULTS" 2>/dev/null || echo 0)
    sh "$script" "$build" || status=1
    after=$(wc -l < "$RESULTS" 2>/dev/null || echo 0)
    if [ "$after" -le "$before" ]; then
        echo "not ok - $script ended without its summary"
        echo "0 1" >> "$RESULTS"
    fi
done
exit $status
