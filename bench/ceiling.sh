#!/bin/sh
# make bench (issue 10's targets): how far darkstab's rate is from nfdump's
# and nfcapd's because of the work the issue asks darkstab to do.
#
#   sh bench/ceiling.sh BUILD_DIR [ROUNDS]
#
# Builds two variants of darkstab for timing only (EXTRA_CFLAGS=-DDS_CEILING=N
# into BUILD_DIR/ceiling1 and BUILD_DIR/ceiling2); their output is wrong by
# design:
#   ceiling1  a group's details cost nothing: no exact distinct counts, packet
#             types, lists or minutes (count_group() in src/agg/agg.c)
#   ceiling2  neither those nor the drill-down's reading back of the unstable
#             slots (reread_unstable() in src/pipeline/pipeline.c)
# Then, on the bench file of bench/run.sh: analyze of bench/bench.yaml with
# darkstab, ceiling1 and ceiling2 in turn, ROUNDS times (default 5), the best
# of each, beside nfdump -s dstport/packets over nfcapd's copy (the best of
# ROUNDS); and bench/collect.sh at "max" with darkstab, ceiling1 and nfcapd,
# three rounds.  Run bench/run.sh first: it writes the file and nfcapd's copy.
set -u
BUILD=${1:-build}
ROUNDS=${2:-5}
D="$BUILD/bench-data"
IN="$D/bench.ipfix"
NF="$D/nfcapd"

if [ ! -s "$IN" ]; then
    echo "ceiling.sh: $IN is missing: run sh bench/run.sh $BUILD first" >&2
    exit 1
fi
for n in 1 2; do
    make -s BUILD="$BUILD/ceiling$n" EXTRA_CFLAGS="-DDS_CEILING=$n" "$BUILD/ceiling$n/darkstab" ||
        exit 1
done
floor_out=$(for i in 1 2 3; do "$BUILD/bench/fixbuf_floor" "$IN"; done)
records=$(echo "$floor_out" | head -n 1 | awk '{print $2}')
floor=$(echo "$floor_out" | awk '{print $(NF-2)}' | sort -rn | head -n 1)

# seconds_of BIN: the wall time of one analyze of bench.yaml with BIN
seconds_of() {
    rm -f "$D"/ceiling.db*
    /usr/bin/time -f "%e" -o "$D/time" "$1" analyze -q -c bench/bench.yaml \
        --store "$D/ceiling.db" -f json -o /dev/null "$IN" || exit 1
    rm -f "$D"/ceiling.db*
    cat "$D/time"
}

times=""
i=0
while [ "$i" -lt "$ROUNDS" ]; do
    for v in darkstab ceiling1 ceiling2; do
        case $v in
        darkstab) bin="$BUILD/darkstab" ;;
        *) bin="$BUILD/$v/darkstab" ;;
        esac
        times="$times$v $(seconds_of "$bin")
"
    done
    i=$((i + 1))
done

nf=""
if command -v nfdump > /dev/null && [ -n "$(ls "$NF" 2> /dev/null)" ]; then
    i=0
    nf=$(while [ "$i" -lt "$ROUNDS" ]; do
             nfdump -R "$NF" -s dstport/packets -n 10 2>&1 | grep 'flows/second'
             i=$((i + 1))
         done | sed 's/.*flows\/second: \([0-9.]*\).*/\1/' | sort -rn | head -n 1)
fi

echo
echo "input: $records records (bench/run.sh's file); best of $ROUNDS, in turn"
printf '%-52s %8s %10s %10s\n' "" seconds records/s "of nfdump"
for v in darkstab ceiling1 ceiling2; do
    case $v in
    darkstab) what="darkstab analyze, bench.yaml" ;;
    ceiling1) what="  ceiling1: the details free" ;;
    ceiling2) what="  ceiling2: the details and reading back free" ;;
    esac
    printf '%s' "$times" | awk -v v="$v" -v what="$what" -v r="$records" -v nf="${nf:-0}" '
        $1 == v && (best == "" || $2 < best) {best = $2}
        END {
            rate = r / best
            printf "%-52s %8.2f %8.2f M", what, best, rate / 1e6
            if (nf > 0) printf " %10.2f", rate / nf
            printf "\n"
        }'
done
[ -n "$nf" ] && awk -v r="$records" -v nf="$nf" \
    'BEGIN {printf "%-52s %8.2f %8.2f M %10.2f\n", "nfdump -s dstport/packets", r / nf, nf / 1e6, 1}'
awk -v r="$records" -v f="$floor" -v nf="${nf:-0}" 'BEGIN {
    printf "%-52s %8.2f %8.2f M", "libfixbuf bare loop (bench/fixbuf_floor.c, best of 3)", r / (f * 1e6), f
    if (nf > 0) printf " %10.2f", f * 1e6 / nf
    printf "\n"
}'

echo
echo "collect at max, the sender on the same two cores (bench/collect.sh):"
COLLECTORS="darkstab ceiling nfcapd" CEILING_BIN="$(cd "$BUILD/ceiling1" && pwd)/darkstab" \
    sh "$(dirname "$0")/collect.sh" "$BUILD" "max max max" | sed -n '/^rate /,$p'
