#!/bin/sh
# The results of today's analysis, kept as a reference: any change to the
# aggregation, the method, the drill-down or the JSON writer that alters a
# single byte of analyze's output on a generated scenario fails here.  Speed
# work (issue 10) must leave this output as it is.
#
#   sh tests/e2e/reference.sh BUILD_DIR            check
#   sh tests/e2e/reference.sh BUILD_DIR --update   write a new reference
#
# The scenario is the paper's (50 days, its four events, 3,000 background
# flows a day), analysed with tests/data/reference/analyze.yaml (a copy of
# bench/bench4.yaml): four analyses (daily and hourly slots; ports, /24
# networks, TCP flags, /16 source networks) of three thresholds each, with
# distinct counts, drill-downs and causes.  The
# reference (tests/data/reference/analyze.sha256) holds the digest of the
# generator's file and of the JSON without its "generator" line (which names
# the version), so that a failure says which of the two changed.  Update it
# only for a change of output that is meant, and say why in the commit.
set -u
BUILD=${1:-build}
UPDATE=${2:-}
HERE=$(dirname "$0")
TOP="$HERE/../.."
REF="$TOP/tests/data/reference/analyze.sha256"
T=$(mktemp -d /tmp/darkstab-ref-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
export TZ=UTC

. "$HERE/lib.sh"

"$BUILD/darkstab-gen" --flows-per-day 3000 "$T/in.ipfix" 2> "$T/gen.err"
"$BUILD/darkstab" analyze -q -c "$TOP/tests/data/reference/analyze.yaml" --store "$T/s.db" -f json \
    -o "$T/out.json" "$T/in.ipfix" 2> "$T/analyze.err"
rc=$?
in_sum=$(sha256sum < "$T/in.ipfix" | cut -d' ' -f1)
out_sum=$(grep -v '^  "generator": ' "$T/out.json" | sha256sum | cut -d' ' -f1)
slots=$(jq '[.analyses[].slots | length] | add' "$T/out.json" 2> /dev/null)
unstable=$(jq '[.analyses[].slots[] | select(.unstable)] | length' "$T/out.json" 2> /dev/null)

if [ "$UPDATE" = "--update" ]; then
    [ "$rc" = 0 ] || { cat "$T/analyze.err"; exit 1; }
    {
        echo "# sh tests/e2e/reference.sh build --update; $slots slots, $unstable unstable"
        echo "input $in_sum"
        echo "output $out_sum"
    } > "$REF"
    cat "$REF"
    exit 0
fi

want_in=$(awk '$1 == "input" { print $2 }' "$REF")
want_out=$(awk '$1 == "output" { print $2 }' "$REF")
if [ "$in_sum" != "$want_in" ]; then
    echo "generator's file: $in_sum, reference $want_in" > "$T/why"
    not_ok "the generated scenario is the reference's (darkstab-gen changed its output)" "$T/why"
elif [ "$rc" != 0 ]; then
    not_ok "analyze on the reference scenario exits 0 (it exited $rc)" "$T/analyze.err"
elif [ "$out_sum" != "$want_out" ]; then
    echo "JSON: $out_sum, reference $want_out ($slots slots, $unstable unstable)" > "$T/why"
    not_ok "analyze's JSON on the reference scenario is byte for byte the reference's" "$T/why"
else
    ok "analyze's JSON on the reference scenario (4 analyses, $slots slots, $unstable unstable) is byte for byte the reference's"
fi

summary reference
