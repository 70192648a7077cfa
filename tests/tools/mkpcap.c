/*
 * mkpcap: writes a pcap of darknet-like packets for the exporters under
 * test (softflowd, pmacctd) to turn into flow records, and prints what it
 * wrote, counted on its own: packets per protocol and destination port.
 *
 *   mkpcap [--packets N] [--seed S] [--start UNIX] [--seconds D] FILE.pcap
 *
 * Packets: Ethernet, IPv4, then TCP SYN (scans of usual ports), UDP (to a
 * few ports, and a burst to one), or ICMP echo requests; from a few hundred
 * sources to destinations in 198.18.0.0/16, spread over D seconds from
 * START.  The counts go to standard output, one "proto port packets" line
 * each (port 0 for ICMP), sorted.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAP 128

static uint64_t rng = 88172645463325252ULL;

static uint32_t
next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static void
le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void
be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void
be32(uint8_t *p, uint32_t v)
{
    be16(p, (uint16_t)(v >> 16));
    be16(p + 2, (uint16_t)v);
}

static uint16_t
csum(const uint8_t *p, size_t n)
{
    uint32_t s = 0;

    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

struct count {
    uint8_t proto;
    uint16_t port;
    uint64_t packets;
};

static struct count counts[4096];
static size_t n_counts;

static void
tally(uint8_t proto, uint16_t port)
{
    for (size_t i = 0; i < n_counts; i++) {
        if (counts[i].proto == proto && counts[i].port == port) {
            counts[i].packets++;
            return;
        }
    }
    if (n_counts < sizeof(counts) / sizeof(counts[0]))
        counts[n_counts++] = (struct count){proto, port, 1};
}

static int
cmp_count(const void *x, const void *y)
{
    const struct count *a = x, *b = y;

    if (a->proto != b->proto)
        return a->proto < b->proto ? -1 : 1;
    return a->port < b->port ? -1 : a->port > b->port;
}

static int
usage(void)
{
    fprintf(stderr,
            "usage: mkpcap [--packets N] [--seed S] [--start UNIX] [--seconds D] FILE.pcap\n");
    return 2;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"packets", required_argument, NULL, 'n'}, {"seed", required_argument, NULL, 's'},
        {"start", required_argument, NULL, 't'},   {"seconds", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    static const uint16_t scan[] = {445, 23, 22, 1433, 3389, 80, 8080, 5900, 2323, 81};
    long packets = 20000, seconds = 120;
    long long start = 1704067200; /* 2024-01-01T00:00:00Z */
    uint8_t hdr[24] = {0}, pkt[SNAP], rec[16];
    FILE *fp;
    int ch;

    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            packets = strtol(optarg, NULL, 10);
            break;
        case 's':
            rng ^= (uint64_t)strtoull(optarg, NULL, 10) * 0x9E3779B97F4A7C15ULL;
            break;
        case 't':
            start = strtoll(optarg, NULL, 10);
            break;
        case 'd':
            seconds = strtol(optarg, NULL, 10);
            break;
        default:
            return usage();
        }
    }
    if (optind + 1 != argc || packets <= 0 || seconds <= 0)
        return usage();
    fp = fopen(argv[optind], "wb");
    if (fp == NULL) {
        perror(argv[optind]);
        return 1;
    }
    le32(hdr, 0xa1b2c3d4);
    hdr[4] = 2;
    hdr[6] = 4;
    le32(hdr + 16, 65535);
    le32(hdr + 20, 1);
    fwrite(hdr, 1, sizeof(hdr), fp);
    for (long i = 0; i < packets; i++) {
        /* times in order, spread evenly with a little jitter */
        uint64_t us = (uint64_t)seconds * 1000000 * (uint64_t)i / (uint64_t)packets;
        uint32_t src = 0x0a000000u | (next() % 400) << 8 | (next() % 3 + 1);
        uint32_t dst = 0xc6120000u | (next() & 0xffff);
        uint32_t r = next() % 100;
        uint8_t proto;
        uint16_t sport = (uint16_t)(1024 + next() % 60000), dport = 0;
        size_t ip_len, l4;

        memset(pkt, 0, sizeof(pkt));
        memcpy(pkt, "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00", 14);
        if (r < 70) {
            proto = 6;
            dport = scan[next() % (sizeof(scan) / sizeof(scan[0]))];
            l4 = 20;
        } else if (r < 90) {
            proto = 17;
            /* a burst to one port among a few others */
            dport = r < 82 ? 2849 : (uint16_t)(53 + next() % 4 * 100);
            l4 = 8 + 12;
        } else {
            proto = 1;
            l4 = 8;
        }
        ip_len = 20 + l4;
        pkt[14] = 0x45;
        be16(pkt + 16, (uint16_t)ip_len);
        be16(pkt + 18, (uint16_t)i);
        pkt[22] = 64;
        pkt[23] = proto;
        be32(pkt + 26, src);
        be32(pkt + 30, dst);
        be16(pkt + 24, csum(pkt + 14, 20));
        if (proto == 6) {
            be16(pkt + 34, sport);
            be16(pkt + 36, dport);
            be32(pkt + 38, next());
            pkt[46] = 5 << 4;
            pkt[47] = 0x02; /* SYN */
            be16(pkt + 48, 1024);
        } else if (proto == 17) {
            be16(pkt + 34, sport);
            be16(pkt + 36, dport);
            be16(pkt + 38, (uint16_t)l4);
        } else {
            pkt[34] = 8; /* echo request */
            be16(pkt + 38, (uint16_t)(next() & 0xffff));
            be16(pkt + 36, csum(pkt + 34, l4));
        }
        tally(proto, dport);
        le32(rec, (uint32_t)(start + (long long)(us / 1000000)));
        le32(rec + 4, (uint32_t)(us % 1000000));
        le32(rec + 8, (uint32_t)(14 + ip_len));
        le32(rec + 12, (uint32_t)(14 + ip_len));
        fwrite(rec, 1, sizeof(rec), fp);
        fwrite(pkt, 1, 14 + ip_len, fp);
    }
    if (fclose(fp) != 0) {
        perror(argv[optind]);
        return 1;
    }
    qsort(counts, n_counts, sizeof(counts[0]), cmp_count);
    for (size_t i = 0; i < n_counts; i++)
        printf("%u %u %llu\n", counts[i].proto, counts[i].port,
               (unsigned long long)counts[i].packets);
    return 0;
}
