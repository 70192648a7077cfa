#!/bin/sh
# Sums the "passed failed" lines that the test stages wrote to $1.
set -u
[ -f "$1" ] || { echo "no test results in $1"; exit 1; }
awk '{ p += $1; f += $2 } END { printf "check: %d passed, %d failed\n", p, f; exit f > 0 }' "$1"
