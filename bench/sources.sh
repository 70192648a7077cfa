#!/bin/sh
# make bench, issue 10: a key of high cardinality.  One day of about 10
# million records whose IPv4 sources are all random (darkstab-gen --spoofed
# 100: a spoofed flood, about as many distinct sources as records), analysed
# by [src_addr] daily with limits.groups at its default and raised: the
# peak memory follows limits.groups, not the sources, and what is past it
# is folded and said (the share folded, and topn_max, the most TopN could
# be).
#
#   sh bench/sources.sh BUILD_DIR [GROUPS...]
#
# The file (500 MB) is kept in BUILD_DIR/bench-data.
set -u
BUILD=${1:-build}
shift
LIMITS=${*:-262144 1048576 4194304}
D="$BUILD/bench-data"
IN="$D/spoofed.ipfix"
mkdir -p "$D"
if [ ! -s "$IN" ]; then
    "$BUILD/darkstab-gen" --scenario bench --days 1 --records 12000000 --spoofed 100 "$IN" \
        2> /dev/null || exit 1
fi
printf '%14s %8s %8s %10s %9s %s\n' limits.groups seconds peak_MB groups folded "TopN (most it could be)"
for g in $LIMITS; do
    cat > "$D/sources.yaml" << EOF
timezone: Asia/Tokyo
darknet:
  prefixes: [198.18.0.0/16, "2001:db8:dead::/48"]
  exclude: [198.18.0.0/24]
limits:
  groups: $g
analyses:
  - name: sources
    keys: [src_addr]
    thresholds: [1.0, 0.75, 0.5]
EOF
    rm -f "$D"/sources.db*
    /usr/bin/time -f "%e %M" -o "$D/time" "$BUILD/darkstab" analyze -q -c "$D/sources.yaml" \
        --store "$D/sources.db" -f json -o "$D/sources.json" "$IN" 2> "$D/sources.err" || {
        cat "$D/sources.err"; exit 1; }
    rm -f "$D"/sources.db*
    jq -r '.analyses[0].slots | max_by(.flows) |
        "\(.groups) \(.folded.share // 0) \([.thresholds[] | "\(.topn) (\(.topn_max // .topn))"] | join(" "))"' \
        "$D/sources.json" > "$D/sources.txt"
    awk -v g="$g" -v t="$(cat "$D/time")" '{
        split(t, a, " "); topn = ""; for (i = 3; i <= NF; i++) topn = topn " " $i
        printf "%14d %8.2f %8d %10d %8.1f%%%s\n", g, a[1], a[2] / 1024, $1, $2, topn }' "$D/sources.txt"
done
echo "records: $(jq '.input.counted' "$D/sources.json") counted in the darknet, one day"
