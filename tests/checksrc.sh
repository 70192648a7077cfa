#!/bin/sh
# make checksrc: the house rules a compiler does not check (STYLE.md C.6, H, I).
#   1. banned functions: sprintf, vsprintf, strcpy, strcat, strtok, atoi, atol;
#   2. layout: no tabs, at most 100 columns, no trailing blanks;
#   3. every key of the config tables (src/core/cfg.c) is documented in the
#      reference config/darkstab.yaml;
#   4. dependencies point downstream (tests/check-deps.sh);
#   5. the systemd unit stays sandboxed: systemd-analyze security rates its
#      exposure at most 2.0 (where systemd-analyze can say, 252 or later).
# Prints each offence as FILE:LINE: what; exits 1 if there is any.
cd "$(dirname "$0")/.." || exit 2
SRC="src/*/*.c src/*/*.h include/ds/*.h samples/gen/*.c samples/gen/*.h bench/*.c tests/unit/*.c tests/unit/*.h
     tests/tools/*.c"
bad=0

# 1. Calls only: a name followed by "(", not preceded by a letter, digit or _ (so
#    snprintf and strtok_r pass), outside comments and strings as far as grep can tell.
# shellcheck disable=SC2086
out=$(grep -nE '(^|[^A-Za-z0-9_])(v?sprintf|strcpy|strcat|strtok|atoi|atol)[[:space:]]*\(' $SRC |
      grep -vE '^[^:]+:[0-9]+:[[:space:]]*(\*|/\*|//)')
if [ -n "$out" ]; then
    echo "$out" | sed 's/$/   <- banned function (STYLE.md C.6)/'
    bad=1
fi

# 2. Layout.
# shellcheck disable=SC2086
out=$(grep -nP '\t' $SRC)
[ -n "$out" ] && { echo "$out" | sed 's/:\([0-9]*\):.*/:\1: tab (indent with 4 spaces)/'; bad=1; }
# shellcheck disable=SC2086
out=$(awk 'length($0) > 100 { printf "%s:%d: %d columns (at most 100)\n", FILENAME, FNR, length($0) }' $SRC)
[ -n "$out" ] && { echo "$out"; bad=1; }
# shellcheck disable=SC2086
out=$(grep -nE '[[:space:]]+$' $SRC)
[ -n "$out" ] && { echo "$out" | sed 's/:\([0-9]*\):.*/:\1: trailing blanks/'; bad=1; }

# 3. The reference config documents every key of the tables.
keys=$(sed -n 's/^[[:space:]]*{\(NULL\|"[a-z_.]*"\), "\([a-z_]*\)", T_.*/\2/p' src/core/cfg.c)
[ -z "$keys" ] && { echo "src/core/cfg.c: no config table entries found (pattern out of date?)"; bad=1; }
for k in $keys; do
    if ! grep -qE "(^|[^a-z_])$k:" config/darkstab.yaml; then
        echo "config/darkstab.yaml: key '$k' of src/core/cfg.c is not documented"
        bad=1
    fi
done

# 4.
sh tests/check-deps.sh > /dev/null || { sh tests/check-deps.sh; bad=1; }

# 5.
if systemd-analyze security --help 2> /dev/null | grep -q -- '--offline'; then
    score=$(cd /tmp && systemd-analyze security --offline=true \
            "$OLDPWD/config/darkstab.service" 2> /dev/null |
            sed -n 's/.*Overall exposure level for darkstab.service: \([0-9.]*\).*/\1/p')
    if [ -z "$score" ] || awk -v s="$score" 'BEGIN { exit !(s > 2.0) }'; then
        echo "config/darkstab.service: systemd-analyze security rates it ${score:-(no score)}, above 2.0"
        bad=1
    fi
fi

[ $bad -eq 0 ] && echo "checksrc: banned functions, layout, reference config, dependencies and unit all clean"
exit $bad
