/*
 * udpsink: the receiving end of the senders' end-to-end tests
 * (darkstab-gen --send, replay).
 *
 * It listens on a UDP port, counts datagrams and bytes per source address,
 * and decodes IPFIX (RFC 7011) and NetFlow v9 (RFC 3954) on its own, without
 * darkstab code, by walking sets and flowsets with the templates the stream
 * itself carried: a test then compares what arrived with what was sent.
 * It checks the headers on the way (sequence numbers per source and
 * domain, exporter restarts) and can write
 *   - the data records as CSV in darkstab-gen's --truth format, so that a
 *     stream is compared with the generator's truth record by record, in
 *     order;
 *   - the payloads back to back: an IPFIX stream so kept is an IPFIX file
 *     for "darkstab analyze".
 *
 * It stops after --count datagrams, after --idle milliseconds without one
 * (once one has come), after --timeout seconds, or on SIGINT or SIGTERM,
 * and then prints its counters as "name value" lines.
 *
 * With --no-read it binds and reads nothing, until --timeout or a signal:
 * the socket nobody reads of the sender benchmark (bench/run.sh), where
 * the kernel drops what does not fit its buffer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ds/addr.h"
#include "ds/parse.h"
#include "ds/proto.h"

#define BATCH 64
#define DGRAM_MAX 65536
#define MAX_FIELDS 128
#define MAX_TEMPLATES 4096
#define MAX_STREAMS 4096
#define VARLEN 65535

/* Information elements (IPFIX) and field types (NetFlow v9) of the CSV. */
#define IE_OCTETS 1
#define IE_PACKETS 2
#define IE_PROTO 4
#define IE_TCP_FLAGS 6
#define IE_SRC_PORT 7
#define IE_SRC4 8
#define IE_DST_PORT 11
#define IE_DST4 12
#define IE_LAST_UPTIME 21  /* v9 LAST_SWITCHED */
#define IE_FIRST_UPTIME 22 /* v9 FIRST_SWITCHED */
#define IE_SRC6 27
#define IE_DST6 28
#define IE_ICMP4 32
#define IE_ICMP6 139
#define IE_START_MS 152
#define IE_END_MS 153

struct field {
    uint16_t id;
    uint16_t len;
    int enterprise;
};

/* A template of one stream: source address, version and domain. */
struct tmpl {
    int stream;
    uint16_t tid;
    uint16_t n;
    int options;
    size_t min_len;     /* the record's length, varlen fields counted as one byte */
    struct field f[MAX_FIELDS];
};

/* What the sequence check keeps per source address, version and domain. */
struct stream {
    uint8_t src[16];
    uint16_t version;
    uint32_t domain;
    uint32_t next_seq;
    uint32_t last_uptime;
    int seen;
};

struct source {
    uint8_t addr[16];
    int family;
    uint64_t datagrams;
    uint64_t bytes;
};

struct sink {
    FILE *csv;
    FILE *dump;
    struct tmpl *t;
    size_t n_t;
    struct stream s[MAX_STREAMS];
    size_t n_s;
    struct source *src;
    size_t n_src;
    /* counters, printed at the end */
    uint64_t datagrams, bytes, ipfix, v9, v5, sflow, other;
    uint64_t records, options_records, template_datagrams, templates;
    uint64_t unknown_sets, seq_errors, restarts, malformed, streams_full, max_datagram;
    int dump_failed;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint16_t
be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* An unsigned integer of 1 to 8 bytes (reduced-size encoding); longer ones read 0. */
static uint64_t
uint_n(const uint8_t *p, size_t len)
{
    uint64_t v = 0;

    if (len > 8)
        return 0;
    for (size_t i = 0; i < len; i++)
        v = v << 8 | p[i];
    return v;
}

static struct stream *
stream_get(struct sink *k, const uint8_t *src, uint16_t version, uint32_t domain, int *idx)
{
    for (size_t i = 0; i < k->n_s; i++) {
        struct stream *s = &k->s[i];

        if (s->version == version && s->domain == domain && memcmp(s->src, src, 16) == 0) {
            *idx = (int)i;
            return s;
        }
    }
    if (k->n_s == MAX_STREAMS) {
        k->streams_full++;
        return NULL;
    }
    memset(&k->s[k->n_s], 0, sizeof(k->s[0]));
    memcpy(k->s[k->n_s].src, src, 16);
    k->s[k->n_s].version = version;
    k->s[k->n_s].domain = domain;
    *idx = (int)k->n_s;
    return &k->s[k->n_s++];
}

static struct tmpl *
tmpl_find(struct sink *k, int stream, uint16_t tid)
{
    for (size_t i = 0; i < k->n_t; i++)
        if (k->t[i].stream == stream && k->t[i].tid == tid)
            return &k->t[i];
    return NULL;
}

/* A template, new or redefined; NULL when the table is full. */
static struct tmpl *
tmpl_put(struct sink *k, int stream, uint16_t tid)
{
    struct tmpl *t = tmpl_find(k, stream, tid);

    if (t == NULL) {
        if (k->n_t == MAX_TEMPLATES)
            return NULL;
        t = &k->t[k->n_t++];
    }
    memset(t, 0, sizeof(*t));
    t->stream = stream;
    t->tid = tid;
    return t;
}

static void
tmpl_add_field(struct tmpl *t, uint16_t id, uint16_t len, int enterprise)
{
    if (t->n < MAX_FIELDS) {
        t->f[t->n].id = id;
        t->f[t->n].len = len;
        t->f[t->n].enterprise = enterprise;
        t->n++;
    }
    t->min_len += len == VARLEN ? 1 : len;
}

/* What a record says, for the CSV; the times are already Unix milliseconds. */
struct rec {
    int64_t start_ms, end_ms;
    uint64_t packets;
    struct addr src, dst;
    int v6;
    uint16_t sport, dport, icmp;
    uint8_t proto, flags;
};

/*
 * One data record at p (at most len bytes) of template t: returns its
 * length, or 0 if it does not fit.  boot_ms converts v9 uptimes (unix_secs
 * * 1000 - sysUptime).
 */
static size_t
record(struct sink *k, const struct tmpl *t, const uint8_t *p, size_t len, int64_t boot_ms)
{
    struct rec r;
    size_t pos = 0;
    char s[ADDR_STRLEN], d[ADDR_STRLEN];

    memset(&r, 0, sizeof(r));
    for (uint16_t i = 0; i < t->n; i++) {
        const struct field *f = &t->f[i];
        size_t flen = f->len;
        uint64_t v;

        if (flen == VARLEN) {
            if (pos + 1 > len)
                return 0;
            flen = p[pos++];
            if (flen == 255) {
                if (pos + 2 > len)
                    return 0;
                flen = be16(p + pos);
                pos += 2;
            }
        }
        if (flen > len - pos)
            return 0;
        v = uint_n(p + pos, flen);
        if (!f->enterprise) {
            switch (f->id) {
            case IE_PACKETS:
                r.packets = v;
                break;
            case IE_PROTO:
                r.proto = (uint8_t)v;
                break;
            case IE_TCP_FLAGS:
                r.flags = (uint8_t)v;
                break;
            case IE_SRC_PORT:
                r.sport = (uint16_t)v;
                break;
            case IE_DST_PORT:
                r.dport = (uint16_t)v;
                break;
            case IE_SRC4:
                addr_from_v4(&r.src, (uint32_t)v);
                break;
            case IE_DST4:
                addr_from_v4(&r.dst, (uint32_t)v);
                break;
            case IE_SRC6:
            case IE_DST6:
                if (flen == 16) {
                    memcpy(f->id == IE_SRC6 ? r.src.b : r.dst.b, p + pos, 16);
                    r.v6 = 1;
                }
                break;
            case IE_ICMP4:
            case IE_ICMP6:
                r.icmp = (uint16_t)v;
                break;
            case IE_FIRST_UPTIME:
                r.start_ms = boot_ms + (int64_t)v;
                break;
            case IE_LAST_UPTIME:
                r.end_ms = boot_ms + (int64_t)v;
                break;
            case IE_START_MS:
                r.start_ms = (int64_t)v;
                break;
            case IE_END_MS:
                r.end_ms = (int64_t)v;
                break;
            default:
                break;
            }
        }
        pos += flen;
    }
    if (t->options) {
        k->options_records++;
        return pos;
    }
    k->records++;
    if (k->csv != NULL)
        fprintf(k->csv, "%lld,%lld,%d,%u,%s,%s,%u,%u,%u,%u,%u,%llu\n", (long long)r.start_ms,
                (long long)r.end_ms, r.v6 ? 6 : 4, r.proto, addr_format(&r.src, s),
                addr_format(&r.dst, d), proto_has_ports(r.proto) ? r.sport : 0,
                proto_has_ports(r.proto) ? r.dport : 0, r.proto == PROTO_TCP ? r.flags : 0,
                proto_is_icmp(r.proto) ? r.icmp >> 8 : 0,
                proto_is_icmp(r.proto) ? r.icmp & 0xff : 0, (unsigned long long)r.packets);
    return pos;
}

/* The records of a data set or flowset body; what is left shorter than a record is padding. */
static uint64_t
data_set(struct sink *k, const struct tmpl *t, const uint8_t *p, size_t len, int64_t boot_ms)
{
    size_t pos = 0;
    uint64_t n = 0;

    if (t->min_len == 0)
        return 0;
    while (len - pos >= t->min_len) {
        size_t used = record(k, t, p + pos, len - pos, boot_ms);

        if (used == 0)
            break;
        pos += used;
        n++;
    }
    return n;
}

/* IPFIX template records (set 2) or options template records (set 3). */
static void
ipfix_templates(struct sink *k, int stream, const uint8_t *p, size_t len, int options)
{
    size_t pos = 0;

    while (len - pos >= 4) {
        uint16_t tid = be16(p + pos), count = be16(p + pos + 2);
        size_t hl = options ? 6 : 4;
        struct tmpl *t;

        if (count == 0 || len - pos < hl) /* a withdrawal, or padding */
            return;
        t = tmpl_put(k, stream, tid);
        if (t == NULL)
            return;
        t->options = options;
        pos += hl;
        for (uint16_t i = 0; i < count; i++) {
            uint16_t id, flen;
            int ent;

            if (len - pos < 4) {
                k->malformed++;
                return;
            }
            id = be16(p + pos);
            flen = be16(p + pos + 2);
            ent = (id & 0x8000) != 0;
            pos += ent ? 8 : 4;
            if (pos > len) {
                k->malformed++;
                return;
            }
            tmpl_add_field(t, id & 0x7fff, flen, ent);
        }
        k->templates++;
    }
}

/* NetFlow v9 flowset 0 (templates) or 1 (options templates). */
static void
v9_templates(struct sink *k, int stream, const uint8_t *p, size_t len, int options)
{
    size_t pos = 0;

    while (len - pos >= (options ? 6u : 4u)) {
        uint16_t tid = be16(p + pos), nf;
        struct tmpl *t;

        if (options) {
            uint16_t scope_len = be16(p + pos + 2), opt_len = be16(p + pos + 4);

            if ((scope_len + opt_len) % 4 != 0 || len - pos - 6 < (size_t)scope_len + opt_len)
                return; /* padding or damage: the rest cannot be found */
            nf = (uint16_t)((scope_len + opt_len) / 4);
            pos += 6;
        } else {
            nf = be16(p + pos + 2);
            if (len - pos - 4 < (size_t)nf * 4)
                return;
            pos += 4;
        }
        if (tid < 256)
            return;
        t = tmpl_put(k, stream, tid);
        for (uint16_t i = 0; i < nf; i++, pos += 4)
            if (t != NULL)
                tmpl_add_field(t, be16(p + pos), be16(p + pos + 2), 0);
        if (t != NULL) {
            t->options = options;
            k->templates++;
        }
    }
}

/*
 * The sets of an IPFIX message (RFC 7011 section 3.3) or the flowsets of a
 * v9 datagram (RFC 3954 section 5), from pos on: template sets (IPFIX 2 and
 * 3, v9 0 and 1) and data sets; boot_ms as for record().  Returns the data
 * records; sets *had_tmpl when templates came.
 */
static uint64_t
sets(struct sink *k, uint16_t version, int stream, const uint8_t *p, size_t len, size_t pos,
     int64_t boot_ms, int *had_tmpl)
{
    uint16_t tmpl_set = version == 10 ? 2 : 0;
    uint64_t data = 0;

    while (len - pos >= 4) {
        uint16_t id = be16(p + pos), slen = be16(p + pos + 2);

        if (slen < 4 || slen > len - pos) {
            k->malformed++;
            break;
        }
        if (id == tmpl_set || id == tmpl_set + 1) {
            if (version == 10)
                ipfix_templates(k, stream, p + pos + 4, slen - 4u, id != tmpl_set);
            else
                v9_templates(k, stream, p + pos + 4, slen - 4u, id != tmpl_set);
            *had_tmpl = 1;
        } else if (id >= 256) {
            const struct tmpl *t = tmpl_find(k, stream, id);

            if (t == NULL)
                k->unknown_sets++;
            else
                data += data_set(k, t, p + pos + 4, slen - 4u, boot_ms);
        }
        pos += slen;
    }
    return data;
}

static void
ipfix_message(struct sink *k, const uint8_t *src, const uint8_t *m, size_t len, int *had_tmpl)
{
    uint32_t seq = be32(m + 8), domain = be32(m + 12);
    uint64_t data;
    int idx;
    struct stream *s = stream_get(k, src, 10, domain, &idx);

    if (s == NULL)
        return;
    data = sets(k, 10, idx, m, len, 16, 0, had_tmpl);
    /* the sequence number counts the data records sent before this message */
    if (s->seen && seq != s->next_seq)
        k->seq_errors++;
    s->seen = 1;
    s->next_seq = seq + (uint32_t)data;
}

static void
ipfix(struct sink *k, const uint8_t *src, const uint8_t *p, size_t len)
{
    size_t pos = 0;
    int had_tmpl = 0;

    /* usually one message a datagram; some exporters join several */
    while (len - pos >= 16 && be16(p + pos) == 10) {
        size_t mlen = be16(p + pos + 2);

        if (mlen < 16 || mlen > len - pos)
            break;
        ipfix_message(k, src, p + pos, mlen, &had_tmpl);
        pos += mlen;
    }
    if (pos != len)
        k->malformed++;
    k->template_datagrams += had_tmpl;
}

static void
netflow9(struct sink *k, const uint8_t *src, const uint8_t *p, size_t len)
{
    uint32_t uptime, secs, seq, domain;
    int idx, had_tmpl = 0;
    struct stream *s;

    if (len < 20) {
        k->malformed++;
        return;
    }
    uptime = be32(p + 4);
    secs = be32(p + 8);
    seq = be32(p + 12);
    domain = be32(p + 16);
    s = stream_get(k, src, 9, domain, &idx);
    if (s == NULL)
        return;
    /* the sequence number counts datagrams; a smaller uptime is a restart */
    if (s->seen && uptime < s->last_uptime)
        k->restarts++;
    else if (s->seen && seq != s->next_seq)
        k->seq_errors++;
    s->seen = 1;
    s->next_seq = seq + 1;
    s->last_uptime = uptime;
    sets(k, 9, idx, p, len, 20, (int64_t)secs * 1000 - uptime, &had_tmpl);
    k->template_datagrams += had_tmpl;
}

static void
count_source(struct sink *k, int family, const uint8_t *a, size_t len)
{
    struct source *s;

    for (size_t i = 0; i < k->n_src; i++) {
        if (k->src[i].family == family && memcmp(k->src[i].addr, a, 16) == 0) {
            k->src[i].datagrams++;
            k->src[i].bytes += len;
            return;
        }
    }
    s = realloc(k->src, (k->n_src + 1) * sizeof(*k->src));
    if (s == NULL)
        return;
    k->src = s;
    s = &k->src[k->n_src++];
    memcpy(s->addr, a, 16);
    s->family = family;
    s->datagrams = 1;
    s->bytes = len;
}

static void
datagram(struct sink *k, const struct sockaddr_storage *ss, const uint8_t *p, size_t len)
{
    uint8_t src[16] = {0};
    int family = ss->ss_family == AF_INET6 ? 6 : 4;

    if (family == 6)
        memcpy(src, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    else
        memcpy(src, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    k->datagrams++;
    k->bytes += len;
    if (len > k->max_datagram)
        k->max_datagram = len;
    count_source(k, family, src, len);
    if (k->dump != NULL && fwrite(p, 1, len, k->dump) != len)
        k->dump_failed = 1;
    if (len >= 2 && be16(p) == 10) {
        k->ipfix++;
        ipfix(k, src, p, len);
    } else if (len >= 2 && be16(p) == 9) {
        k->v9++;
        netflow9(k, src, p, len);
    } else if (len >= 2 && be16(p) == 5) {
        k->v5++;
    } else if (len >= 4 && be32(p) == 5) {
        k->sflow++;
    } else {
        k->other++;
    }
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
usage(FILE *fp)
{
    fprintf(fp,
            "usage: udpsink [options]\n\n"
            "Receives UDP datagrams, decodes IPFIX and NetFlow v9 with the templates they\n"
            "carry, and prints its counters as \"name value\" lines when it stops.\n\n"
            "  -l, --listen ADDR    address to listen on (default 127.0.0.1; ::1 for IPv6)\n"
            "  -p, --port N         port (default 0: a free one, see --port-file)\n"
            "      --port-file F    write the port to F once listening\n"
            "      --count N        stop after N datagrams\n"
            "      --idle MS        stop MS milliseconds after the last datagram (default 1000)\n"
            "      --timeout S      stop after S seconds in all (default 60)\n"
            "      --csv F          data records as CSV in darkstab-gen's --truth format\n"
            "      --dump F         the payloads back to back (IPFIX: an IPFIX file)\n"
            "      --no-read        read nothing (a benchmark's sink) until --timeout or a signal\n"
            "  -v                   also a line per source address\n"
            "Exit status: 0, or 1 if nothing arrived or a file or socket failed.\n");
}

static int
open_socket(const char *listen_addr, int64_t port, char *why, size_t whylen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd, buf = 4 << 20;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, listen_addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, listen_addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ss.ss_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in6);
    } else {
        snprintf(why, whylen, "'%s' is not an IPv4 or IPv6 address", listen_addr);
        return -1;
    }
    fd = socket(ss.ss_family, SOCK_DGRAM, 0);
    if (fd < 0) {
        snprintf(why, whylen, "socket: %s", strerror(errno));
        return -1;
    }
    /* a burst must wait in the socket, not be dropped (capped by net.core.rmem_max) */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        snprintf(why, whylen, "bind %s port %lld: %s", listen_addr, (long long)port,
                 strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int
write_port(int fd, const char *path, char *why, size_t whylen)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char tmp[4096];
    FILE *fp;
    unsigned port;

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(why, whylen, "getsockname: %s", strerror(errno));
        return -1;
    }
    port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
    /* written whole, then renamed: a reader never sees half a number */
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fp = fopen(tmp, "w");
    if (fp == NULL || fprintf(fp, "%u\n", port) < 0 || fclose(fp) != 0 ||
        rename(tmp, path) != 0) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void
report(const struct sink *k, int verbose)
{
    printf("datagrams %llu\nbytes %llu\nmax_datagram %llu\n", (unsigned long long)k->datagrams,
           (unsigned long long)k->bytes, (unsigned long long)k->max_datagram);
    printf("ipfix %llu\nnetflow9 %llu\nnetflow5 %llu\nsflow5 %llu\nother %llu\n",
           (unsigned long long)k->ipfix, (unsigned long long)k->v9, (unsigned long long)k->v5,
           (unsigned long long)k->sflow, (unsigned long long)k->other);
    printf("records %llu\noptions_records %llu\ntemplates %llu\ntemplate_datagrams %llu\n",
           (unsigned long long)k->records, (unsigned long long)k->options_records,
           (unsigned long long)k->templates, (unsigned long long)k->template_datagrams);
    printf("unknown_template_sets %llu\nsequence_errors %llu\nrestarts %llu\nmalformed %llu\n",
           (unsigned long long)k->unknown_sets, (unsigned long long)k->seq_errors,
           (unsigned long long)k->restarts, (unsigned long long)k->malformed);
    printf("sources %zu\n", k->n_src);
    if (k->streams_full)
        printf("streams_not_followed %llu\n", (unsigned long long)k->streams_full);
    for (size_t i = 0; verbose && i < k->n_src; i++) {
        char a[INET6_ADDRSTRLEN];

        inet_ntop(k->src[i].family == 6 ? AF_INET6 : AF_INET, k->src[i].addr, a, sizeof(a));
        printf("source %s %llu %llu\n", a, (unsigned long long)k->src[i].datagrams,
               (unsigned long long)k->src[i].bytes);
    }
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"port", required_argument, NULL, 'p'},
        {"port-file", required_argument, NULL, 'P'},
        {"count", required_argument, NULL, 'n'},
        {"idle", required_argument, NULL, 'i'},
        {"timeout", required_argument, NULL, 't'},
        {"csv", required_argument, NULL, 'c'},
        {"dump", required_argument, NULL, 'd'},
        {"no-read", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static uint8_t bufs[BATCH][DGRAM_MAX];
    static struct sink k;
    struct sockaddr_storage from[BATCH];
    struct mmsghdr mm[BATCH];
    struct iovec iov[BATCH];
    struct sigaction sa;
    const char *listen_addr = "127.0.0.1", *port_file = NULL, *csv = NULL, *dump = NULL;
    int64_t port = 0, count = 0, idle = 1000, timeout = 60, deadline;
    int ch, fd, verbose = 0, status = 0, no_read = 0;
    char why[512];

    while ((ch = getopt_long(argc, argv, "l:p:vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'l':
            listen_addr = optarg;
            break;
        case 'p':
            if (parse_int64(optarg, 0, 65535, &port, why, sizeof(why)) != 0)
                goto bad;
            break;
        case 'P':
            port_file = optarg;
            break;
        case 'n':
            if (parse_int64(optarg, 1, INT64_MAX, &count, why, sizeof(why)) != 0)
                goto bad;
            break;
        case 'i':
            if (parse_int64(optarg, 1, 86400000, &idle, why, sizeof(why)) != 0)
                goto bad;
            break;
        case 't':
            if (parse_int64(optarg, 1, 86400, &timeout, why, sizeof(why)) != 0)
                goto bad;
            break;
        case 'c':
            csv = optarg;
            break;
        case 'd':
            dump = optarg;
            break;
        case 'N':
            no_read = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    k.t = calloc(MAX_TEMPLATES, sizeof(*k.t));
    if (k.t == NULL) {
        fprintf(stderr, "udpsink: out of memory\n");
        return 1;
    }
    if (csv != NULL)
        k.csv = fopen(csv, "w");
    if (csv != NULL && k.csv == NULL) {
        fprintf(stderr, "udpsink: %s: %s\n", csv, strerror(errno));
        return 1;
    }
    if (dump != NULL)
        k.dump = fopen(dump, "wb");
    if (dump != NULL && k.dump == NULL) {
        fprintf(stderr, "udpsink: %s: %s\n", dump, strerror(errno));
        return 1;
    }
    fd = open_socket(listen_addr, port, why, sizeof(why));
    if (fd < 0) {
        fprintf(stderr, "udpsink: %s\n", why);
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: poll returns at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (port_file != NULL && write_port(fd, port_file, why, sizeof(why)) != 0) {
        fprintf(stderr, "udpsink: %s\n", why);
        return 1;
    }
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = DGRAM_MAX;
    }
    deadline = now_ms() + timeout * 1000;
    if (no_read) {
        while (!stop && now_ms() < deadline)
            poll(NULL, 0, 100);
        close(fd);
        return 0;
    }
    while (!stop && (count == 0 || k.datagrams < (uint64_t)count)) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int64_t left = deadline - now_ms(), wait = k.datagrams ? idle : left;
        int n;

        if (left <= 0)
            break;
        if (poll(&pfd, 1, (int)(wait < left ? wait : left)) == 0) {
            if (k.datagrams)
                break; /* idle */
            continue;
        }
        memset(mm, 0, sizeof(mm));
        for (int i = 0; i < BATCH; i++) {
            mm[i].msg_hdr.msg_iov = &iov[i];
            mm[i].msg_hdr.msg_iovlen = 1;
            mm[i].msg_hdr.msg_name = &from[i];
            mm[i].msg_hdr.msg_namelen = sizeof(from[i]);
        }
        n = recvmmsg(fd, mm, BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            fprintf(stderr, "udpsink: recvmmsg: %s\n", strerror(errno));
            status = 1;
            break;
        }
        for (int i = 0; i < n && (count == 0 || k.datagrams < (uint64_t)count); i++)
            datagram(&k, &from[i], bufs[i], mm[i].msg_len);
    }
    close(fd);
    if (k.csv != NULL && fclose(k.csv) != 0) {
        fprintf(stderr, "udpsink: %s: %s\n", csv, strerror(errno));
        status = 1;
    }
    if (k.dump != NULL && (fclose(k.dump) != 0 || k.dump_failed)) {
        fprintf(stderr, "udpsink: %s: %s\n", dump, strerror(errno));
        status = 1;
    }
    report(&k, verbose);
    if (k.datagrams == 0) {
        fprintf(stderr, "udpsink: nothing arrived in %lld s\n", (long long)timeout);
        status = 1;
    } else if (count > 0 && k.datagrams < (uint64_t)count) {
        fprintf(stderr, "udpsink: %llu of %lld datagrams arrived\n",
                (unsigned long long)k.datagrams, (long long)count);
        status = 1;
    }
    free(k.src);
    free(k.t);
    return status;
bad:
    fprintf(stderr, "udpsink: %s\n", why);
    return 2;
}
