#!/bin/sh
# make bench (issue 10's targets): what a group's details and the
# drill-down's reading back cost, as implemented, against nfdump's and
# nfcapd's rates.
#
#   sh bench/ceiling.sh BUILD_DIR [ROUNDS]
#
# Builds two variants of darkstab for timing only (EXTRA_CFLAGS plus
# -DDS_CEILING=N, into BUILD_DIR/ceiling1 and BUILD_DIR/ceiling2); their
# output is wrong by design:
#   ceiling1  a group's details cost nothing: no exact distinct counts, packet
#             types, lists or minutes (count_group() in src/agg/agg.c)
#   ceiling2  neither those nor the drill-down's reading back of the unstable
#             slots (reread_unstable() in src/pipeline/pipeline.c)
# Then, on the bench file of bench/run.sh: analyze of bench/bench.yaml with
# darkstab, ceiling1 and ceiling2 and nfdump -s dstport/packets over
# nfcapd's copy, in turn, ROUNDS times (default 5), each process timed
# whole, the best of each; and bench/collect.sh at "max" with darkstab,
# ceiling1 and nfcapd, three rounds.  Run bench/run.sh first: it writes the
# file and nfcapd's copy.
set -u
BUILD=${1:-build}
case $BUILD in
/*) ;;
*) BUILD="$(pwd)/$BUILD" ;;
esac
cd "$(dirname "$0")/.." || exit 1
ROUNDS=${2:-5}
D="$BUILD/bench-data"
IN="$D/bench.ipfix"
NF="$D/nfcapd"

if [ ! -s "$IN" ] || [ ! -x "$BUILD/bench/fixbuf_floor" ]; then
    echo "ceiling.sh: $IN or $BUILD/bench/fixbuf_floor is missing: run make bench" \
        "(or sh bench/run.sh $BUILD after building the bench programs) first" >&2
    exit 1
fi
# the flags of the build compared with, and the switch
for n in 1 2; do
    make -s BUILD="$BUILD/ceiling$n" EXTRA_CFLAGS="${EXTRA_CFLAGS:-} -DDS_CEILING=$n" \
        "$BUILD/ceiling$n/darkstab" || exit 1
done
floor_out=$(for i in 1 2 3; do "$BUILD/bench/fixbuf_floor" "$IN"; done)
records=$(echo "$floor_out" | head -n 1 | awk '{print $2}')
floor=$(echo "$floor_out" | awk '{print $(NF-2)}' | sort -rn | head -n 1)

have_nfdump=0
command -v nfdump > /dev/null && [ -n "$(ls "$NF" 2> /dev/null)" ] && have_nfdump=1

# seconds_of NAME: the wall time of one run of NAME (darkstab, ceiling1 and
# ceiling2: analyze of bench.yaml; nfdump: -s dstport/packets), the whole
# process timed alike for each; exits on a failed run
seconds_of() {
    rm -f "$D"/ceiling.db*
    case $1 in
    darkstab|ceiling*)
        bin="$BUILD/darkstab"
        [ "$1" = darkstab ] || bin="$BUILD/$1/darkstab"
        /usr/bin/time -f "%e" -o "$D/time" "$bin" analyze -q -c bench/bench.yaml \
            --store "$D/ceiling.db" -f json -o /dev/null "$IN" || exit 1
        ;;
    nfdump)
        /usr/bin/time -f "%e" -o "$D/time" nfdump -R "$NF" -s dstport/packets -n 10 \
            > /dev/null 2>&1 || exit 1
        ;;
    esac
    rm -f "$D"/ceiling.db*
    cat "$D/time"
}

runs="darkstab ceiling1 ceiling2"
[ "$have_nfdump" = 1 ] && runs="$runs nfdump"
times=""
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    for v in $runs; do
        t=$(seconds_of "$v") || { echo "ceiling.sh: $v failed" >&2; exit 1; }
        times="$times$v $t
"
    done
    i=$((i + 1))
done
nf_s=$(printf '%s' "$times" | awk '$1 == "nfdump" {print $2}' | sort -n | head -n 1)

echo
echo "input: $records records (bench/run.sh's file); best of $ROUNDS runs in turn, each process timed whole"
printf '%-52s %8s %10s %10s\n' "" seconds records/s "of nfdump"
for v in darkstab ceiling1 ceiling2 nfdump; do
    case $v in
    darkstab) what="darkstab analyze, bench.yaml" ;;
    ceiling1) what="  ceiling1: the details free" ;;
    ceiling2) what="  ceiling2: the details and reading back free" ;;
    nfdump) what="nfdump -s dstport/packets" ;;
    esac
    printf '%s' "$times" | awk -v v="$v" -v what="$what" -v r="$records" -v nf="${nf_s:-0}" '
        $1 == v && (best == "" || $2 < best) {best = $2}
        END {
            if (best == "") exit
            printf "%-52s %8.2f %8.2f M", what, best, r / best / 1e6
            if (nf > 0) printf " %10.2f", nf / best
            printf "\n"
        }'
done
awk -v r="$records" -v f="$floor" -v nf="${nf_s:-0}" 'BEGIN {
    printf "%-52s %8.2f %8.2f M", "libfixbuf bare loop (bench/fixbuf_floor.c, best of 3)", r / (f * 1e6), f
    if (nf > 0) printf " %10.2f", nf / (r / (f * 1e6))
    printf "\n"
}'

echo
echo "collect at max, the sender on the same two cores (bench/collect.sh):"
COLLECTORS="darkstab ceiling nfcapd" CEILING_BIN="$(cd "$BUILD/ceiling1" && pwd)/darkstab" \
    sh bench/collect.sh "$BUILD" "max max max" | sed -n '/^rate /,$p'
