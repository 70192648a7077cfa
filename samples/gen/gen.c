/*
 * darkstab-gen: writes synthetic darknet flow records as IPFIX files (with
 * libfixbuf, as YAF and collectors write them) or sends them over UDP as
 * IPFIX or NetFlow v9 (send.c) and, optionally, writes the same records as
 * CSV for tests that compute the expected results on their own.
 */
#include <errno.h>
#include <fixbuf/public.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ds/addr.h"
#include "ds/parse.h"
#include "ds/proto.h"
#include "ds/tz.h"
#include "scenario.h"
#include "send.h"

#define TID_V4 256
#define TID_V6 257

/* Record layouts: internal and external templates are the same. */
struct rec4 {
    uint64_t start_ms;
    uint64_t end_ms;
    uint64_t packets;
    uint64_t octets;
    uint32_t src;
    uint32_t dst;
    uint16_t sport;
    uint16_t dport;
    uint16_t icmp;
    uint8_t proto;
    uint8_t flags;
};

struct rec6 {
    uint8_t src[16];
    uint8_t dst[16];
    uint64_t start_ms;
    uint64_t end_ms;
    uint64_t packets;
    uint64_t octets;
    uint16_t sport;
    uint16_t dport;
    uint16_t icmp;
    uint8_t proto;
    uint8_t flags;
};

static fbInfoElementSpec_t spec4[] = {
    {"flowStartMilliseconds", 8, 0},    {"flowEndMilliseconds", 8, 0},
    {"packetDeltaCount", 8, 0},         {"octetDeltaCount", 8, 0},
    {"sourceIPv4Address", 4, 0},        {"destinationIPv4Address", 4, 0},
    {"sourceTransportPort", 2, 0},      {"destinationTransportPort", 2, 0},
    {"icmpTypeCodeIPv4", 2, 0},         {"protocolIdentifier", 1, 0},
    {"tcpControlBits", 1, 0},           FB_IESPEC_NULL,
};

static fbInfoElementSpec_t spec6[] = {
    {"sourceIPv6Address", 16, 0},       {"destinationIPv6Address", 16, 0},
    {"flowStartMilliseconds", 8, 0},    {"flowEndMilliseconds", 8, 0},
    {"packetDeltaCount", 8, 0},         {"octetDeltaCount", 8, 0},
    {"sourceTransportPort", 2, 0},      {"destinationTransportPort", 2, 0},
    {"icmpTypeCodeIPv6", 2, 0},         {"protocolIdentifier", 1, 0},
    {"tcpControlBits", 1, 0},           FB_IESPEC_NULL,
};

struct writer {
    fbInfoModel_t *model;
    fBuf_t *fbuf;
    const char *out;        /* a file, or a directory with --split */
    int split;
    FILE *truth;
    uint64_t records;
    uint64_t files;
    int cur_tid;
    /* --send: IPFIX or NetFlow v9 over UDP at --rate records a second */
    char *host, *port;
    uint64_t rate;
    enum send_format format;
    struct sender *snd;
};

/* The first message (the templates) bears export_time, not the clock's, so
 * that the same options write the same bytes. */
static int
open_file(struct writer *w, const char *path, uint32_t export_time)
{
    GError *err = NULL;
    fbSession_t *s = fbSessionAlloc(w->model);
    fbTemplate_t *t4 = fbTemplateAlloc(w->model), *t6 = fbTemplateAlloc(w->model);
    fbTemplate_t *i4 = fbTemplateAlloc(w->model), *i6 = fbTemplateAlloc(w->model);
    fbExporter_t *e;

    if (!fbTemplateAppendSpecArray(t4, spec4, 0, &err) ||
        !fbTemplateAppendSpecArray(t6, spec6, 0, &err) ||
        !fbTemplateAppendSpecArray(i4, spec4, 0, &err) ||
        !fbTemplateAppendSpecArray(i6, spec6, 0, &err) ||
        !fbSessionAddTemplate(s, FALSE, TID_V4, t4, &err) ||
        !fbSessionAddTemplate(s, FALSE, TID_V6, t6, &err) ||
        !fbSessionAddTemplate(s, TRUE, TID_V4, i4, &err) ||
        !fbSessionAddTemplate(s, TRUE, TID_V6, i6, &err)) {
        fprintf(stderr, "darkstab-gen: templates: %s\n", err->message);
        return -1;
    }
    e = fbExporterAllocFile(path);
    w->fbuf = fBufAllocForExport(s, e);
    fBufSetExportTime(w->fbuf, export_time);
    if (!fbSessionExportTemplates(s, &err)) {
        fprintf(stderr, "darkstab-gen: %s: %s\n", path, err->message);
        return -1;
    }
    w->cur_tid = 0;
    w->files++;
    return 0;
}

static int
close_file(struct writer *w)
{
    GError *err = NULL;
    int rc = 0;

    if (w->fbuf == NULL)
        return 0;
    if (!fBufEmit(w->fbuf, &err)) {
        fprintf(stderr, "darkstab-gen: writing: %s\n", err->message);
        rc = -1;
    }
    fBufFree(w->fbuf);
    w->fbuf = NULL;
    return rc;
}

static int
set_tid(struct writer *w, int tid)
{
    GError *err = NULL;

    if (w->cur_tid == tid)
        return 0;
    if (!fBufSetInternalTemplate(w->fbuf, (uint16_t)tid, &err) ||
        !fBufSetExportTemplate(w->fbuf, (uint16_t)tid, &err)) {
        fprintf(stderr, "darkstab-gen: %s\n", err->message);
        return -1;
    }
    w->cur_tid = tid;
    return 0;
}

/* One record into the current IPFIX file (opened per day with --split). */
static int
write_flow(struct writer *w, const struct gen_flow *f)
{
    GError *err = NULL;
    uint16_t icmp = proto_is_icmp(f->proto) ? (uint16_t)(f->icmp_type << 8 | f->icmp_code) : 0;
    int ok;

    if (w->fbuf == NULL) {
        char path[4096];
        time_t t = (time_t)(f->start_ms / 1000);
        struct tm tm;

        localtime_r(&t, &tm);
        snprintf(path, sizeof(path), "%s/darknet-%04d%02d%02d.ipfix", w->out, tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday);
        if (open_file(w, path, (uint32_t)(f->end_ms / 1000)) != 0)
            return -1;
    }
    fBufSetExportTime(w->fbuf, (uint32_t)(f->end_ms / 1000));
    if (f->v6) {
        struct rec6 r;

        memset(&r, 0, sizeof(r));
        memcpy(r.src, f->src.b, 16);
        memcpy(r.dst, f->dst.b, 16);
        r.start_ms = (uint64_t)f->start_ms;
        r.end_ms = (uint64_t)f->end_ms;
        r.packets = f->packets;
        r.octets = f->packets * 60;
        r.sport = f->sport;
        r.dport = f->dport;
        r.icmp = icmp;
        r.proto = f->proto;
        r.flags = f->flags;
        if (set_tid(w, TID_V6) != 0)
            return -1;
        ok = fBufAppend(w->fbuf, (uint8_t *)&r, sizeof(r), &err);
    } else {
        struct rec4 r;

        memset(&r, 0, sizeof(r));
        r.start_ms = (uint64_t)f->start_ms;
        r.end_ms = (uint64_t)f->end_ms;
        r.packets = f->packets;
        r.octets = f->packets * 60;
        r.src = addr_v4(&f->src);
        r.dst = addr_v4(&f->dst);
        r.sport = f->sport;
        r.dport = f->dport;
        r.icmp = icmp;
        r.proto = f->proto;
        r.flags = f->flags;
        if (set_tid(w, TID_V4) != 0)
            return -1;
        ok = fBufAppend(w->fbuf, (uint8_t *)&r, sizeof(r), &err);
    }
    if (!ok) {
        fprintf(stderr, "darkstab-gen: writing: %s\n", err->message);
        return -1;
    }
    return 0;
}

static int
on_flow(void *ctx, const struct gen_flow *f)
{
    struct writer *w = ctx;
    char s[ADDR_STRLEN], d[ADDR_STRLEN];

    if (w->snd != NULL) {
        if (send_flow(w->snd, f) != 0) {
            fprintf(stderr, "darkstab-gen: %s:%s: %s\n", w->host, w->port, send_error(w->snd));
            return -1;
        }
    } else if (write_flow(w, f) != 0) {
        return -1;
    }
    w->records++;
    if (w->truth != NULL)
        fprintf(w->truth, "%lld,%lld,%d,%u,%s,%s,%u,%u,%u,%u,%u,%llu\n", (long long)f->start_ms,
                (long long)f->end_ms, f->v6 ? 6 : 4, f->proto, addr_format(&f->src, s),
                addr_format(&f->dst, d), proto_has_ports(f->proto) ? f->sport : 0,
                proto_has_ports(f->proto) ? f->dport : 0, f->proto == PROTO_TCP ? f->flags : 0,
                proto_is_icmp(f->proto) ? f->icmp_type : 0,
                proto_is_icmp(f->proto) ? f->icmp_code : 0, (unsigned long long)f->packets);
    return 0;
}

static int
on_day(void *ctx, int day, int64_t day_start)
{
    struct writer *w = ctx;

    (void)day;
    (void)day_start;
    if (w->split)
        return close_file(w);
    return 0;
}

static void
usage(FILE *fp)
{
    fprintf(fp,
            "usage: darkstab-gen [options] OUTPUT\n"
            "       darkstab-gen [options] --send HOST:PORT [--send-format F] [--rate N]\n\n"
            "Writes synthetic darknet flow records as IPFIX.  OUTPUT is a file, or with\n"
            "--split a directory that receives one file per local day.  With --send, the\n"
            "same records in the same order go over UDP instead.\n\n"
            "  --scenario NAME      paper (default): 50 days from 2013-02-15 with the paper's\n"
            "                       cases on 2013-03-06 (DDoS, UDP 2849), 03-17 (DNS\n"
            "                       backscatter), 03-24 (TopN increase), 03-31 (UDP 52290)\n"
            "                       bench: 30 quiet days, 10 million records\n"
            "  --days N             number of days\n"
            "  --flows-per-day N    background flows per day\n"
            "  --records N          background flows in all (sets --flows-per-day)\n"
            "  --start YYYY-MM-DD   first day (local time)\n"
            "  --tz ZONE            time zone of the days (default Asia/Tokyo)\n"
            "  --seed N             random seed\n"
            "  --no-events          background only\n"
            "  --spoofed PERCENT    that share of the background's IPv4 flows comes from\n"
            "                       random source addresses (a spoofed flood: as many\n"
            "                       distinct sources as flows, for src_addr analyses)\n"
            "  --per-source N       flows a day of each scanner of a popular port (default\n"
            "                       2.5 on average; a real telescope's scanners send more)\n"
            "  --split              one file per day into directory OUTPUT\n"
            "  --send HOST:PORT     send over UDP instead of writing OUTPUT (IPv6: [::1]:PORT)\n"
            "  --send-format F      with --send: ipfix (default; messages of 1420 bytes,\n"
            "                       templates every 20000 records) or netflow9 (RFC 3954:\n"
            "                       datagrams of 1400 bytes, templates every 20 datagrams)\n"
            "  --rate N             with --send: N records a second (default 100000;\n"
            "                       0: as fast as possible)\n"
            "  --from ADDR          with --send: from this source address (one of many\n"
            "                       exporters on one machine, e.g. 127.2.0.1)\n"
            "  --exporters N        with --send and --from: N exporters, from ADDR and the\n"
            "                       N - 1 addresses after it, taking datagrams in turn\n"
            "                       (IPFIX; each with its own sequence and templates)\n"
            "  --drop-every N       with --send: leave out every Nth datagram, as a lossy\n"
            "                       path would (for tests of a collector's accounting)\n"
            "  --truth FILE         also write every record as CSV:\n"
            "                       start_ms,end_ms,ip_version,proto,src,dst,sport,dport,\n"
            "                       tcp_flags,icmp_type,icmp_code,packets\n"
            "darknet: " GEN_DARKNET4 " and " GEN_DARKNET6 "; 2%% of records go outside it.\n");
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"scenario", required_argument, NULL, 'S'},
        {"days", required_argument, NULL, 'd'},
        {"flows-per-day", required_argument, NULL, 'f'},
        {"records", required_argument, NULL, 'r'},
        {"start", required_argument, NULL, 's'},
        {"tz", required_argument, NULL, 'z'},
        {"seed", required_argument, NULL, 'e'},
        {"no-events", no_argument, NULL, 'n'},
        {"spoofed", required_argument, NULL, 'P'},
        {"per-source", required_argument, NULL, 'C'},
        {"split", no_argument, NULL, 'p'},
        {"truth", required_argument, NULL, 't'},
        {"send", required_argument, NULL, 'u'},
        {"send-format", required_argument, NULL, 'F'},
        {"drop-every", required_argument, NULL, 'X'},
        {"from", required_argument, NULL, 'A'},
        {"exporters", required_argument, NULL, 'N'},
        {"rate", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct gen_params p;
    struct writer w;
    const char *start = "2013-02-15", *tz = "Asia/Tokyo", *truth = NULL;
    int64_t v, records = -1;
    char why[256];
    int ch, rc, no_events = 0, rate_set = 0, format_set = 0;
    uint64_t drop_every = 0;
    const char *from = NULL;
    int exporters = 1;

    gen_params_paper(&p);
    memset(&w, 0, sizeof(w));
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'S':
            if (strcmp(optarg, "bench") == 0) {
                p.days = 30;
                records = 10500000;
                no_events = 1;
            } else if (strcmp(optarg, "paper") != 0) {
                fprintf(stderr, "darkstab-gen: unknown scenario '%s'\n", optarg);
                return 2;
            }
            break;
        case 'd':
            if (parse_int64(optarg, 1, 3650, &v, why, sizeof(why)) != 0)
                goto bad;
            p.days = (int)v;
            break;
        case 'f':
            if (parse_int64(optarg, 1, 1000000000, &v, why, sizeof(why)) != 0)
                goto bad;
            p.flows_per_day = (uint64_t)v;
            break;
        case 'r':
            if (parse_int64(optarg, 1, 10000000000LL, &records, why, sizeof(why)) != 0)
                goto bad;
            break;
        case 's':
            start = optarg;
            break;
        case 'z':
            tz = optarg;
            break;
        case 'e':
            if (parse_int64(optarg, 0, INT64_MAX, &v, why, sizeof(why)) != 0)
                goto bad;
            p.seed = (uint64_t)v;
            break;
        case 'P':
            if (parse_int64(optarg, 0, 100, &v, why, sizeof(why)) != 0)
                goto bad;
            p.spoofed_share = (double)v / 100.0;
            break;
        case 'C':
            if (parse_int64(optarg, 1, 1000000, &v, why, sizeof(why)) != 0)
                goto bad;
            p.flows_per_source = (double)v;
            break;
        case 'n':
            no_events = 1;
            break;
        case 'p':
            w.split = 1;
            break;
        case 't':
            truth = optarg;
            break;
        case 'u': {
            char *colon = strrchr(optarg, ':');

            if (colon == NULL || colon == optarg || colon[1] == '\0') {
                fprintf(stderr, "darkstab-gen: --send wants HOST:PORT, not '%s'\n", optarg);
                return 2;
            }
            /* cut in place (argv is ours); [::1]:4739: brackets only mark the address's end */
            *colon = '\0';
            w.port = colon + 1;
            w.host = optarg;
            if (optarg[0] == '[' && colon[-1] == ']') {
                colon[-1] = '\0';
                w.host = optarg + 1;
            }
            break;
        }
        case 'F':
            if (strcmp(optarg, "ipfix") == 0) {
                w.format = SEND_IPFIX;
            } else if (strcmp(optarg, "netflow9") == 0) {
                w.format = SEND_NETFLOW9;
            } else {
                fprintf(stderr, "darkstab-gen: --send-format is ipfix or netflow9, not '%s'\n",
                        optarg);
                return 2;
            }
            format_set = 1;
            break;
        case 'R':
            if (parse_int64(optarg, 0, 100000000, &v, why, sizeof(why)) != 0)
                goto bad;
            w.rate = (uint64_t)v;
            rate_set = 1;
            break;
        case 'X':
            if (parse_int64(optarg, 2, 1000000, &v, why, sizeof(why)) != 0)
                goto bad;
            drop_every = (uint64_t)v;
            break;
        case 'A':
            from = optarg;
            break;
        case 'N':
            if (parse_int64(optarg, 1, 1000, &v, why, sizeof(why)) != 0)
                goto bad;
            exporters = (int)v;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + (w.host ? 0 : 1) != argc || (w.host && w.split) ||
        (w.host == NULL && (format_set || rate_set || from != NULL))) {
        usage(stderr);
        return 2;
    }
    if (w.host != NULL && !rate_set)
        w.rate = 100000;
    if (tz_check(tz, why, sizeof(why)) != 0)
        goto bad;
    tz_apply(tz);
    if (tz_parse_time(start, &p.start_day) != 0) {
        fprintf(stderr, "darkstab-gen: --start '%s' is not YYYY-MM-DD\n", start);
        return 2;
    }
    if (records > 0)
        p.flows_per_day = (uint64_t)records / (uint64_t)p.days;
    if (no_events)
        p.n_events = 0;
    w.out = w.host ? "(udp)" : argv[optind];
    w.model = fbInfoModelAlloc();
    if (w.host != NULL) {
        w.snd = send_open(w.host, w.port, from, w.format, w.rate, why, sizeof(why));
        if (w.snd == NULL) {
            fprintf(stderr, "darkstab-gen: %s\n", why);
            return 1;
        }
        send_drop_every(w.snd, drop_every);
        if (exporters > 1 && send_exporters(w.snd, w.host, w.port, from, exporters) != 0) {
            fprintf(stderr, "darkstab-gen: %s\n", send_error(w.snd));
            send_close(w.snd, NULL);
            return 2;
        }
    } else if (w.split) {
        if (mkdir(w.out, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "darkstab-gen: %s: %s\n", w.out, strerror(errno));
            return 1;
        }
    } else if (open_file(&w, w.out, (uint32_t)p.start_day) != 0) {
        return 1;
    }
    if (truth != NULL) {
        w.truth = fopen(truth, "w");
        if (w.truth == NULL) {
            fprintf(stderr, "darkstab-gen: %s: %s\n", truth, strerror(errno));
            return 1;
        }
    }
    if (gen_run(&p, on_flow, on_day, &w) != 0 || close_file(&w) != 0)
        return 1;
    if (w.snd != NULL) {
        struct send_stats st;

        rc = send_close(w.snd, &st);
        w.snd = NULL;
        if (rc != 0)
            return 1;
        fprintf(stderr, "darkstab-gen: %llu records in %llu datagrams (%s) to %s port %s "
                "in %.3f s: %.0f records/s",
                (unsigned long long)st.records, (unsigned long long)st.datagrams,
                w.format == SEND_IPFIX ? "IPFIX" : "NetFlow v9", w.host, w.port, st.seconds,
                st.seconds > 0 ? (double)st.records / st.seconds : 0);
        if (st.restarts)
            fprintf(stderr, "; %llu exporter restart%s (uptimes past 32 bits)",
                    (unsigned long long)st.restarts, st.restarts == 1 ? "" : "s");
        if (st.refused)
            fprintf(stderr, "; %llu datagram%s refused", (unsigned long long)st.refused,
                    st.refused == 1 ? "" : "s");
        if (st.dropped)
            fprintf(stderr, "; %llu left out (--drop-every)", (unsigned long long)st.dropped);
        fprintf(stderr, "\n");
    }
    if (w.truth != NULL && fclose(w.truth) != 0) {
        fprintf(stderr, "darkstab-gen: %s: %s\n", truth, strerror(errno));
        return 1;
    }
    fbInfoModelFree(w.model);
    if (w.host == NULL)
        fprintf(stderr, "darkstab-gen: %llu records in %llu file%s\n",
                (unsigned long long)w.records, (unsigned long long)w.files,
                w.files == 1 ? "" : "s");
    return 0;
bad:
    fprintf(stderr, "darkstab-gen: %s\n", why);
    return 2;
}
