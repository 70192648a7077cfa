# Computes, independently of darkstab, what "darkstab analyze" must report
# for the generator's truth CSV (darkstab-gen --truth), for the analysis
# [proto, dst_port], daily slots in a time zone without daylight saving,
# thresholds 1, 0.75 and 0.5 percent, window W, k = 2, population stddev.
#
#   awk -F, -v W=7 -v TZOFF=32400 -f expected.awk truth.csv
#
# Prints one line per day with data (no-data days are skipped in the window
# and printed with status no-data):
#   day_start packets flows groups topn1 topn075 topn05 status1 status075
#   status05 dir1 dir075 dir05 mean1 mean075 mean05 (means in millionths)
# and, for each day with any unstable threshold, its groups above 0.5%:
#   top day_start proto port packets src_addrs dst_addrs
#
# Darknet: 198.18.0.0/16 and 2001:db8:dead::/48, excluding 198.18.0.0/24.
# Integer arithmetic only where the method is exact: shares are compared as
# p * 10000 > th_hundredths * S, the band as (T*x - s1)^2 >= 4 * (T*s2 - s1^2).

function dark(dst) {
    if (dst ~ /^198\.18\./)
        return dst !~ /^198\.18\.0\./
    return dst ~ /^2001:db8:dead:/
}

{
    start_ms = $1; proto = $4; src = $5; dst = $6; dport = $8; packets = $12
    if (!dark(dst))
        next
    day = int((start_ms / 1000 + TZOFF) / 86400)
    if (proto == 6 || proto == 17)
        key = proto "/" dport
    else
        key = proto "/none"
    if (!(day in S)) {
        ndays++
        days[ndays] = day
    }
    S[day] += packets
    F[day]++
    if (!((day, key) in G)) {
        NG[day]++
        gkeys[day, NG[day]] = key
    }
    G[day, key] += packets
    if (!((day, key, "s", src) in SEEN)) {
        SEEN[day, key, "s", src] = 1
        SRC[day, key]++
    }
    if (!((day, key, "d", dst) in SEEN)) {
        SEEN[day, key, "d", dst] = 1
        DST[day, key]++
    }
}

END {
    th[1] = 100; th[2] = 75; th[3] = 50
    # days in order (the CSV is in time order, but be safe)
    for (i = 1; i <= ndays; i++)
        for (j = i + 1; j <= ndays; j++)
            if (days[j] < days[i]) { t = days[i]; days[i] = days[j]; days[j] = t }
    nwin = 0
    prev = ""
    for (i = 1; i <= ndays; i++) {
        day = days[i]
        # no-data days between days with data
        if (prev != "")
            for (d = prev + 1; d < day; d++)
                printf "%d 0 0 0 0 0 0 no-data no-data no-data - - - - - -\n", d * 86400 - TZOFF
        prev = day
        for (t = 1; t <= 3; t++) {
            n = 0
            for (g = 1; g <= NG[day]; g++)
                if (G[day, gkeys[day, g]] * 10000 > th[t] * S[day])
                    n++
            topn[t] = n
        }
        unstable = 0
        for (t = 1; t <= 3; t++) {
            if (nwin < W) {
                st[t] = "warmup"; dir[t] = "-"; mean[t] = "-"
                continue
            }
            s1 = 0; s2 = 0
            for (w = nwin - W + 1; w <= nwin; w++) {
                s1 += win[t, w]; s2 += win[t, w] * win[t, w]
            }
            D = W * s2 - s1 * s1
            dev = W * topn[t] - s1
            mean[t] = sprintf("%d", s1 / W * 1000000 + 0.5)
            if (D == 0)
                out = (dev != 0)
            else
                out = (dev * dev >= 4 * D)
            if (out) {
                st[t] = "unstable"; dir[t] = dev > 0 ? "increase" : "decrease"; unstable = 1
            } else {
                st[t] = "stable"; dir[t] = "-"
            }
        }
        printf "%d %d %d %d %d %d %d %s %s %s %s %s %s %s %s %s\n", day * 86400 - TZOFF,
            S[day], F[day], NG[day], topn[1], topn[2], topn[3], st[1], st[2], st[3],
            dir[1], dir[2], dir[3], mean[1], mean[2], mean[3]
        if (unstable)
            for (g = 1; g <= NG[day]; g++) {
                key = gkeys[day, g]
                if (G[day, key] * 10000 > 50 * S[day]) {
                    split(key, kp, "/")
                    printf "top %d %s %s %d %d %d\n", day * 86400 - TZOFF, kp[1], kp[2],
                        G[day, key], SRC[day, key], DST[day, key]
                }
            }
        nwin++
        for (t = 1; t <= 3; t++)
            win[t, nwin] = topn[t]
    }
}
