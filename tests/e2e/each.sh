#!/bin/sh
# each.sh BUILD SCRIPT...: runs every end-to-end script, whatever the ones
# before it did, and appends their "passed failed" lines to $RESULTS.  Each
# script writes to a file of its own first, so that another stage writing
# to $RESULTS at the same time (make check runs the sanitized suite beside
# this one) cannot hide a script that died before its summary: that counts
# as one failure, so that nothing is lost silently.  Prints each script's
# time.
set -u
build=$1
shift
status=0
all=$RESULTS
for script in "$@"; do
    mine=$(mktemp)
    started=$(date +%s)
    RESULTS=$mine sh "$script" "$build" || status=1
    echo "# $script: $(($(date +%s) - started)) s"
    if [ ! -s "$mine" ]; then
        echo "not ok - $script ended without its summary"
        echo "0 1" >> "$mine"
        status=1
    fi
    cat "$mine" >> "$all"
    rm -f "$mine"
done
exit $status
