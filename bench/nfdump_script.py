#!/usr/bin/env python3
"""make bench: the answer of `darkstab analyze -c bench/bench.yaml`, got
with nfdump and a script instead (issue 10: "not a slower way than a
generic tool plus a script").

    python3 bench/nfdump_script.py NFCAPD_FILE WORK_DIR [DARKSTAB_TEXT]

NFCAPD_FILE holds the bench's flows as nfcapd wrote them (bench/run.sh).
Untimed, once: the file is split into one file a day (Asia/Tokyo), as a
collector rotating its files would have them.  Timed: for each analysis of
bench.yaml, nfdump aggregates each slot ([proto, dst_port] a day,
[proto, dst_net/24] an hour, IPv4 and IPv6 apart: nfdump -A, darknet filter), the script counts
TopN at 1, 0.75 and 0.5% and judges each slot against the 7 before it
(METHOD.md: population sigma, k = 2); then for each unstable slot nfdump
dumps its flows and the script counts, for the groups of its set at 0.5%,
what darkstab's drill-down shows: distinct sources, destination ports and
destinations, top 10 sources, top 5 source ports, top 5 destinations and
packets per minute.  With DARKSTAB_TEXT (analyze's text output) it says how
many slots got the same TopN at every threshold.

Prints one line per phase and a total, in seconds.
"""
import collections
import datetime
import ipaddress
import os
import re
import subprocess
import sys
import time

DARKNET4 = "dst net 198.18.0.0/16 and not dst net 198.18.0.0/24"
DARKNET6 = "dst net 2001:db8:dead::/48"
DARKNET = "(%s) or %s" % (DARKNET4, DARKNET6)
THRESHOLDS = (1.0, 0.75, 0.5)
WINDOW = 7
K = 2.0
ENV = dict(os.environ, TZ="Asia/Tokyo")


def nfdump(args):
    out = subprocess.run(["nfdump", "-q"] + args, env=ENV, check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return out.stdout.decode().splitlines()


def window_arg(start, end):
    """nfdump -t for [start, end): its window is inclusive, to the second."""
    last = end - datetime.timedelta(seconds=1)
    return start.strftime("%Y/%m/%d.%H:%M:%S") + "-" + last.strftime("%Y/%m/%d.%H:%M:%S")


def days_of(path):
    first = nfdump(["-r", path, "-c", "1", "-o", "fmt:%ts"])[0].strip()
    day = datetime.datetime.strptime(first[:10], "%Y-%m-%d")
    return day


def split(path, work):
    """One nfdump file a local day, until a day holds no flow."""
    day = days_of(path)
    days = []
    while True:
        out = os.path.join(work, day.strftime("%Y-%m-%d"))
        nxt = day + datetime.timedelta(days=1)
        if not os.path.exists(out):
            subprocess.run(["nfdump", "-r", path, "-t", window_arg(day, nxt), "-w", out],
                           env=ENV, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        # a day without flows: nfdump writes no file, or an empty one
        if not os.path.exists(out) or not nfdump(["-r", out, "-c", "1", "-o", "fmt:%ts"]):
            if os.path.exists(out):
                os.unlink(out)
            return days
        days.append((day, out))
        day = nxt


def topn(counts):
    total = sum(counts.values())
    # share > th percent, in integers: packets * 100 > th * total
    return total, [sum(1 for p in counts.values() if p * 10000 > int(th * 100) * total)
                   for th in THRESHOLDS]


def judge(series):
    """status of each (start, total, topn) against the WINDOW earlier slots."""
    out = []
    for i, (start, total, tn, counts, f) in enumerate(series):
        if i < WINDOW:
            out.append("warmup")
            continue
        status = "stable"
        for t in range(len(THRESHOLDS)):
            prev = [s[2][t] for s in series[i - WINDOW:i]]
            mu = sum(prev) / WINDOW
            sigma = (sum((x - mu) ** 2 for x in prev) / WINDOW) ** 0.5
            x = tn[t]
            if sigma == 0:
                if x != mu:
                    status = "unstable"
            elif not (mu - K * sigma < x < mu + K * sigma):
                status = "unstable"
        out.append(status)
    return out


def slot_counts(path, start, end, aggs, fmt_key, whole_file):
    """packets by group; aggs: (nfdump -A, filter) of each invocation."""
    counts = {}
    for agg, filt in aggs:
        args = ["-r", path, "-A", agg, "-o", "fmt:" + fmt_key + "|%pkt", filt]
        if not whole_file:
            args[2:2] = ["-t", window_arg(start, end)]
        for line in nfdump(args):
            if "|" not in line:
                continue
            k, p = line.rsplit("|", 1)
            counts[k.replace(" ", "")] = int(p)
    return counts


def drill(path, start, end, set_keys, key_of):
    """darkstab's drill-down of the groups of set_keys, from the slot's flows."""
    lines = nfdump(["-6", "-r", path, "-t", window_arg(start, end), "-o",
                    "fmt:%ts|%pr|%sa|%sp|%da|%dp|%pkt", DARKNET])
    src = collections.defaultdict(collections.Counter)
    sport = collections.defaultdict(collections.Counter)
    dst = collections.defaultdict(collections.Counter)
    dport = collections.defaultdict(set)
    minute = collections.defaultdict(collections.Counter)
    for line in lines:
        if line.count("|") != 6:
            continue
        ts, pr, sa, sp, da, dp, pk = (x.strip() for x in line.split("|"))
        k = key_of(pr, da, dp)
        if k not in set_keys:
            continue
        p = int(pk)
        src[k][sa] += p
        sport[k][sp] += p
        dst[k][da] += p
        dport[k].add(dp)
        minute[k][ts[11:16]] += p
    return {k: (len(src[k]), len(dport[k]), len(dst[k]), src[k].most_common(10),
                sport[k].most_common(5), dst[k].most_common(5), sorted(minute[k].items()))
            for k in set_keys if k in src}


def net24(da):
    """dst_net/24 as nfdump prints it aggregated: /24 for IPv4, /64 for IPv6"""
    if ":" in da:
        return str(ipaddress.ip_network(da + "/64", strict=False).network_address)
    return ".".join(da.split(".")[:3]) + ".0"


def darkstab_topn(path):
    """{analysis: {slot label: (topn...)}} from analyze's text output."""
    got, an = {}, None
    for line in open(path):
        if line.startswith("analysis "):
            an = line.split()[1].rstrip(":")
            got[an] = {}
        elif (an and line[:4].isdigit() and len(line.split()) >= 8 and
              re.fullmatch(r"[0-9,]+", line.split()[2])):
            f = line.split()
            hour = ":" in f[1]
            label = f[0] + (" " + f[1] if hour else "")
            try:
                # slot, day or hour, packets, flows, groups, TopN x 3; "15v": the
                # text marks the threshold that left the band
                got[an][label] = tuple(int(re.sub(r"[^0-9]", "", x)) for x in f[5:8])
            except ValueError:
                pass
    return got


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: nfdump_script.py NFCAPD_FILE WORK_DIR [DARKSTAB_TEXT]")
    path, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    days = split(path, work)
    records = 0
    t0 = time.monotonic()
    ports, sensors = [], []
    for day, f in days:
        c = slot_counts(f, day, day + datetime.timedelta(days=1),
                        (("proto,dstport", DARKNET),), "%pr|%dp", True)
        ports.append((day.strftime("%Y-%m-%d"), *topn(c), c, (f, day, 1)))
        for h in range(24):
            s = day + datetime.timedelta(hours=h)
            # nfdump 1.7.1 masks no address given dstip4/24,dstip6/64 at once
            c = slot_counts(f, s, s + datetime.timedelta(hours=1),
                            (("proto,dstip4/24", DARKNET4), ("proto,dstip6/64", DARKNET6)),
                            "%pr|%da", False)
            if c:
                sensors.append((s.strftime("%Y-%m-%d %H:%M"), *topn(c), c, (f, s, 0)))
    t1 = time.monotonic()
    unstable = 0
    for series, key_of in ((ports, lambda pr, da, dp: pr + "|" + dp),
                           (sensors, lambda pr, da, dp: pr + "|" + net24(da))):
        for (label, total, tn, counts, (f, s, daily)), st in zip(series, judge(series)):
            if st != "unstable":
                continue
            unstable += 1
            th = int(THRESHOLDS[-1] * 100)
            keys = {k for k, p in counts.items() if p * 10000 > th * total}
            end = s + (datetime.timedelta(days=1) if daily else datetime.timedelta(hours=1))
            drill(f, s, end, keys, key_of)
    t2 = time.monotonic()
    for day, f in days:
        records += sum(int(x) for x in nfdump(["-r", f, "-A", "proto", "-o", "fmt:%fl"])
                       if x.strip().isdigit())
    print("slots counted and judged (nfdump -A per slot, the script's TopN): %.2f s, "
          "%d daily and %d hourly slots" % (t1 - t0, len(ports), len(sensors)))
    print("drill-down of %d unstable slots (nfdump's flows of each, the script's counts): "
          "%.2f s" % (unstable, t2 - t1))
    print("in all: %.2f s for %d records, %.2f M records/s" %
          (t2 - t0, records, records / (t2 - t0) / 1e6))
    if len(sys.argv) > 3:
        ds = darkstab_topn(sys.argv[3])
        for name, series in (("ports", ports), ("sensors", sensors)):
            same = sum(1 for s in series if ds.get(name, {}).get(s[0]) == tuple(s[2]))
            print("%s: %d of %d slots with darkstab's TopN at every threshold" %
                  (name, same, len(series)))


if __name__ == "__main__":
    main()
