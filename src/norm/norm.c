/*
 * Normalisation of decoded records into struct flow (see ds/norm.h).
 */
#include <math.h>
#include <stddef.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "ds/hash.h"
#include "ds/norm.h"
#include "ds/proto.h"
#include "ds/xmem.h"

#define NTP_UNIX_OFFSET 2208988800ULL
#define MS_2000 946684800000LL
#define FUTURE_SLACK_MS (86400LL * 1000)
#define SAMPLERS_MAX 64

struct sampler {
    uint64_t id;
    uint32_t rate;
};

/* What an observation domain has announced in options records. */
struct domain_state {
    const struct exporter *exporter;
    uint64_t sysinit_ms;            /* 0: not announced */
    uint32_t rate;                  /* 0: not announced */
    uint32_t n_samplers;
    struct sampler samplers[SAMPLERS_MAX];
};

/* One stream: a file, or an exporter's transport session. */
struct norm_source {
    struct norm *n;                 /* borrowed */
    struct addr addr;               /* exporter address of the stream */
    struct domain_state *domains;   /* owned */
    size_t n_domains;
    struct domain_state *last;      /* cache: domain of the previous record */
    uint32_t default_rate;          /* where nothing is announced; 0: 1 */
    uint32_t forced_rate;           /* whatever is announced; 0: none */
    const struct exporter *named;   /* cache: exporter the previous record named */
};

struct norm {
    struct exporter **exporters;    /* owned, each allocated once */
    size_t n_exporters;
    struct norm_source *file;       /* owned: the source of norm_begin_source() */
    struct norm_stats stats;
    int64_t now_s;                  /* the clock, for the sanity check of times */
};

struct norm *
norm_new(void)
{
    struct norm *n = xcalloc(1, sizeof(struct norm));

    n->now_s = (int64_t)time(NULL);
    n->file = norm_source_new(n, NULL);
    return n;
}

struct norm_source *
norm_source_new(struct norm *n, const struct addr *addr)
{
    struct norm_source *s = xcalloc(1, sizeof(*s));

    s->n = n;
    if (addr != NULL)
        s->addr = *addr;
    return s;
}

void
norm_source_free(struct norm_source *s)
{
    if (s == NULL)
        return;
    free(s->domains);
    free(s);
}

void
norm_source_set_sampling(struct norm_source *s, uint32_t default_rate, uint32_t forced_rate)
{
    s->default_rate = default_rate;
    s->forced_rate = forced_rate;
}

void
norm_set_clock(struct norm *n, int64_t now_s)
{
    n->now_s = now_s;
}

void
norm_free(struct norm *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n_exporters; i++)
        free(n->exporters[i]);
    free(n->exporters);
    norm_source_free(n->file);
    free(n);
}

void
norm_begin_source(struct norm *n, const struct addr *addr)
{
    norm_source_free(n->file);
    n->file = norm_source_new(n, addr);
}

const struct norm_stats *
norm_get_stats(const struct norm *n)
{
    return &n->stats;
}

size_t
norm_exporters(const struct norm *n, const struct exporter *const **list)
{
    *list = (const struct exporter *const *)n->exporters;
    return n->n_exporters;
}

const struct exporter *
norm_exporter(struct norm *n, const struct addr *addr, uint32_t odid)
{
    struct exporter *e;

    for (size_t i = 0; i < n->n_exporters; i++)
        if (n->exporters[i]->odid == odid &&
            memcmp(&n->exporters[i]->addr, addr, sizeof(*addr)) == 0)
            return n->exporters[i];
    e = xcalloc(1, sizeof(*e));
    e->addr = *addr;
    e->odid = odid;
    e->id = (uint32_t)n->n_exporters;
    n->exporters = xreallocarray(n->exporters, n->n_exporters + 1, sizeof(*n->exporters));
    n->exporters[n->n_exporters++] = e;
    return e;
}

static struct domain_state *
domain_get(struct norm_source *s, uint32_t odid)
{
    struct domain_state *d;

    if (s->last != NULL && s->last->exporter->odid == odid)
        return s->last;
    for (size_t i = 0; i < s->n_domains; i++) {
        if (s->domains[i].exporter->odid == odid) {
            s->last = &s->domains[i];
            return s->last;
        }
    }
    s->domains = xreallocarray(s->domains, s->n_domains + 1, sizeof(*s->domains));
    d = &s->domains[s->n_domains++];
    memset(d, 0, sizeof(*d));
    d->exporter = norm_exporter(s->n, &s->addr, odid);
    s->last = d;
    return d;
}

#define HAS(f) (present & IPF_BIT(f))

uint32_t
norm_sampling_rate(const struct ipfix_fields *f, uint64_t present)
{
    /* Random n-out-of-N (RFC 5477 samplingSize, samplingPopulation). */
    if (HAS(IPF_SAMPLING_SIZE) && HAS(IPF_SAMPLING_POPULATION) && f->sampling_size > 0 &&
        f->sampling_population >= f->sampling_size)
        return (uint32_t)((f->sampling_population + f->sampling_size / 2) / f->sampling_size);
    /*
     * Systematic count-based: samplingPacketInterval packets taken, then
     * samplingPacketSpace skipped; 1 and 999 is 1 in 1000.  Alone, the
     * interval is read as "1 in N", as exporters that send only it mean.
     */
    if (HAS(IPF_SAMPLING_PKT_INTERVAL) && f->sampling_pkt_interval > 0) {
        if (HAS(IPF_SAMPLING_PKT_SPACE))
            return (uint32_t)(((uint64_t)f->sampling_pkt_interval + f->sampling_pkt_space +
                               f->sampling_pkt_interval / 2) /
                              f->sampling_pkt_interval);
        return f->sampling_pkt_interval;
    }
    if (HAS(IPF_SAMPLING_INTERVAL) && f->sampling_interval > 0)
        return f->sampling_interval;
    if (HAS(IPF_SAMPLER_RANDOM_INTERVAL) && f->sampler_random_interval > 0)
        return f->sampler_random_interval;
    if (HAS(IPF_SAMPLING_PROB) && f->sampling_prob > 0 && f->sampling_prob <= 1)
        return (uint32_t)lround(1.0 / f->sampling_prob);
    return 0;
}

static int
has_sampler_id(uint64_t present)
{
    return HAS(IPF_SAMPLER_ID) || HAS(IPF_SELECTOR_ID);
}

static uint64_t
sampler_id(const struct ipfix_fields *f, uint64_t present)
{
    return HAS(IPF_SELECTOR_ID) ? f->selector_id : f->sampler_id;
}

static void
apply_options(struct domain_state *d, const struct ipfix_fields *f, uint64_t present)
{
    uint32_t rate = norm_sampling_rate(f, present);

    if (HAS(IPF_SYSINIT_MS) && f->sysinit_ms > 0)
        d->sysinit_ms = f->sysinit_ms;
    if (rate == 0)
        return;
    if (!has_sampler_id(present)) {
        d->rate = rate;
        return;
    }
    for (uint32_t i = 0; i < d->n_samplers; i++) {
        if (d->samplers[i].id == sampler_id(f, present)) {
            d->samplers[i].rate = rate;
            return;
        }
    }
    if (d->n_samplers < SAMPLERS_MAX) {
        d->samplers[d->n_samplers].id = sampler_id(f, present);
        d->samplers[d->n_samplers].rate = rate;
        d->n_samplers++;
    }
}

static uint32_t
record_rate(const struct norm_source *s, const struct domain_state *d,
            const struct ipfix_fields *f, uint64_t present)
{
    uint32_t rate;

    if (s->forced_rate > 0)
        return s->forced_rate;
    /* Carried in the record itself (Huawei NetStream, sFlow); 0 means unsampled. */
    if (HAS(IPF_SAMPLING_INTERVAL) || HAS(IPF_SAMPLING_PKT_INTERVAL) ||
        HAS(IPF_SAMPLING_POPULATION)) {
        rate = norm_sampling_rate(f, present);
        return rate ? rate : 1;
    }
    if (has_sampler_id(present)) {
        uint64_t id = sampler_id(f, present);

        for (uint32_t i = 0; i < d->n_samplers; i++)
            if (d->samplers[i].id == id)
                return d->samplers[i].rate;
    }
    if (d->rate)
        return d->rate;
    return s->default_rate ? s->default_rate : 1;
}

/* Uptimes are 32-bit milliseconds: a flow time far above the header's is from before a wrap. */
#define UPTIME_WRAP (UINT64_C(1) << 32)
#define UPTIME_SLACK_MS (3600 * 1000)

static int64_t
uptime_to_ms(const struct ipfix_record *rec, uint64_t init, uint32_t uptime)
{
    if (rec->sysinit_ms > 0 && (uint64_t)init == (uint64_t)rec->sysinit_ms &&
        uptime > (uint64_t)rec->uptime_ms + UPTIME_SLACK_MS)
        return (int64_t)init + (int64_t)uptime - (int64_t)UPTIME_WRAP;
    return (int64_t)(init + uptime);
}

static int64_t
ntp_to_ms(uint64_t ntp)
{
    uint64_t sec = ntp >> 32;
    uint64_t frac = ntp & 0xffffffffULL;

    /* NTP era 1 starts in 2036: small second counts belong to it. */
    if (sec < NTP_UNIX_OFFSET)
        sec += 1ULL << 32;
    return (int64_t)((sec - NTP_UNIX_OFFSET) * 1000 + ((frac * 1000) >> 32));
}

/*
 * One end of the flow (start or end) in Unix ms, or -1 when the record
 * does not say.  e selects the end: 0 start, 1 end.
 */
static int64_t
flow_time(const struct domain_state *d, const struct ipfix_record *rec, int e)
{
    const struct ipfix_fields *f = rec->f;
    uint64_t present = rec->present;

    if (HAS(e ? IPF_END_MS : IPF_START_MS))
        return (int64_t)(e ? f->end_ms : f->start_ms);
    if (HAS(e ? IPF_END_US : IPF_START_US))
        return ntp_to_ms(e ? f->end_us : f->start_us);
    if (HAS(e ? IPF_END_NS : IPF_START_NS))
        return ntp_to_ms(e ? f->end_ns : f->start_ns);
    if (HAS(e ? IPF_END_S : IPF_START_S))
        return (int64_t)(e ? f->end_s : f->start_s) * 1000;
    if (HAS(e ? IPF_END_UPTIME : IPF_START_UPTIME)) {
        /* The record's own element, the message header's (NetFlow), then an options record's. */
        uint64_t init = HAS(IPF_SYSINIT_MS) && f->sysinit_ms ? f->sysinit_ms
                        : rec->sysinit_ms > 0                ? (uint64_t)rec->sysinit_ms
                                                             : d->sysinit_ms;

        if (init == 0)
            return -1;
        return uptime_to_ms(rec, init, e ? f->end_uptime : f->start_uptime);
    }
    if (HAS(e ? IPF_END_DELTA_US : IPF_START_DELTA_US))
        return (int64_t)rec->export_time * 1000 -
               (int64_t)(e ? f->end_delta_us : f->start_delta_us) / 1000;
    return -1;
}

/*
 * The exporter a record names itself, or NULL: exporterIPv4Address or
 * exporterIPv6Address, with its observationDomainId if the record has one,
 * else the message's domain.  RFC 7012 defines these elements for a
 * collector to know an exporter hidden behind a proxy; darkstab's archive
 * writes them so that flows keep the exporter they came from.  0.0.0.0 is
 * no address: the exporter is unknown, stored all zero like a file's.
 */
static const struct exporter *
record_exporter(struct norm_source *s, const struct ipfix_record *rec)
{
    const struct ipfix_fields *f = rec->f;
    uint64_t present = rec->present;
    uint32_t odid = HAS(IPF_OBS_DOMAIN) ? f->obs_domain : rec->domain;
    struct addr a;

    if (HAS(IPF_EXPORTER4)) {
        if (f->exporter4 != 0)
            addr_from_v4(&a, f->exporter4);
        else
            memset(&a, 0, sizeof(a));
    } else if (HAS(IPF_EXPORTER6)) {
        memcpy(a.b, f->exporter6, 16);
    } else {
        return NULL;
    }
    /* An archive's records run by exporter: one comparison spares the registry's search. */
    if (s->named == NULL || s->named->odid != odid ||
        memcmp(&s->named->addr, &a, sizeof(a)) != 0)
        s->named = norm_exporter(s->n, &a, odid);
    return s->named;
}

enum norm_result
norm_record(struct norm *n, const struct ipfix_record *rec, struct flow *out)
{
    return norm_source_record(n->file, rec, out);
}

enum norm_result
norm_source_record(struct norm_source *s, const struct ipfix_record *rec, struct flow *out)
{
    struct norm *n = s->n;
    const struct ipfix_fields *f = rec->f;
    uint64_t present = rec->present;
    struct domain_state *d = domain_get(s, rec->domain);
    int64_t start, end;
    uint32_t rate;

    if (rec->options) {
        apply_options(d, f, present);
        n->stats.options++;
        return NORM_OPTIONS;
    }

    /* Addresses: IPv4 if the record has an IPv4 destination, else IPv6. */
    if (HAS(IPF_DST4)) {
        addr_from_v4(&out->dst, f->dst4);
        if (HAS(IPF_SRC4))
            addr_from_v4(&out->src, f->src4);
        else
            memset(&out->src, 0, sizeof(out->src));
        out->ip_version = 4;
    } else if (HAS(IPF_DST6)) {
        memcpy(out->dst.b, f->dst6, 16);
        if (HAS(IPF_SRC6))
            memcpy(out->src.b, f->src6, 16);
        else
            memset(&out->src, 0, sizeof(out->src));
        out->ip_version = addr_is_v4(&out->dst) ? 4 : 6;
    } else {
        n->stats.no_addr++;
        return NORM_NO_ADDR;
    }

    start = flow_time(d, rec, 0);
    if (start < 0) {
        n->stats.no_time++;
        return NORM_NO_TIME;
    }
    /*
     * A start before 2000 is a clock or system-init time never set; a start
     * a day after both the message's export time and our own clock cannot
     * be real.  (Files written offline carry export times long after their
     * flows, or, written by libfixbuf, the time their message was begun,
     * which the flows that fill it follow: neither bound alone will do.)
     */
    if (start < MS_2000 ||
        start > ((int64_t)rec->export_time > n->now_s ? (int64_t)rec->export_time : n->now_s) *
                        1000 +
                    FUTURE_SLACK_MS) {
        n->stats.bad_time++;
        return NORM_BAD_TIME;
    }
    end = flow_time(d, rec, 1);
    if (end < start)
        end = start;
    out->start_ms = start;
    out->end_ms = end;

    out->packets = HAS(IPF_PKT_DELTA) ? f->pkt_delta : f->pkt_total;
    out->bytes = HAS(IPF_OCT_DELTA) ? f->oct_delta : HAS(IPF_OCT_TOTAL) ? f->oct_total : 0;
    rate = record_rate(s, d, f, present);
    if (rate > 1) {
        /* a hostile counter times a hostile rate stays the largest count, not a small one */
        if (__builtin_mul_overflow(out->packets, (uint64_t)rate, &out->packets))
            out->packets = UINT64_MAX;
        if (__builtin_mul_overflow(out->bytes, (uint64_t)rate, &out->bytes))
            out->bytes = UINT64_MAX;
        n->stats.sampled++;
    }
    out->sampling = rate;

    out->proto = f->proto;
    out->tcp_flags = f->proto == PROTO_TCP ? (uint8_t)f->tcp_flags : 0;
    if (proto_has_ports(f->proto)) {
        out->src_port = f->src_port;
        out->dst_port = f->dst_port;
    } else {
        out->src_port = out->dst_port = 0;
    }
    out->icmp_type = out->icmp_code = 0;
    if (f->proto == PROTO_ICMP || f->proto == PROTO_ICMPV6) {
        int v6 = f->proto == PROTO_ICMPV6;

        if (HAS(v6 ? IPF_ICMP_TC6 : IPF_ICMP_TC4)) {
            uint16_t tc = v6 ? f->icmp_tc6 : f->icmp_tc4;

            out->icmp_type = (uint8_t)(tc >> 8);
            out->icmp_code = (uint8_t)tc;
        } else if (HAS(v6 ? IPF_ICMP_T6 : IPF_ICMP_T4)) {
            out->icmp_type = v6 ? f->icmp_t6 : f->icmp_t4;
            out->icmp_code = v6 ? f->icmp_c6 : f->icmp_c4;
        } else if (HAS(IPF_DST_PORT)) {
            /* Cisco, softflowd and others: type * 256 + code in the port. */
            out->icmp_type = (uint8_t)(f->dst_port >> 8);
            out->icmp_code = (uint8_t)f->dst_port;
        }
    }
    out->exporter = record_exporter(s, rec);
    if (out->exporter == NULL)
        out->exporter = d->exporter;
    out->src_value = addr_value(&out->src);
    out->dst_value = addr_value(&out->dst);
    return NORM_FLOW;
}

/*
 * Checkpoints: per domain, the odid, system init time, rate and samplers,
 * big endian: n_domains (4), then each domain's odid (4), sysinit_ms (8),
 * rate (4), n_samplers (4), n_samplers * (id (8), rate (4)).
 */
static void
put_be(uint8_t **p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        *(*p)++ = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_be(const uint8_t **p, int bytes)
{
    uint64_t v = 0;

    for (int i = 0; i < bytes; i++)
        v = v << 8 | *(*p)++;
    return v;
}

uint8_t *
norm_source_save(const struct norm_source *s, size_t *len)
{
    size_t n = 4;
    uint8_t *buf, *p;

    for (size_t i = 0; i < s->n_domains; i++)
        n += 20 + (size_t)s->domains[i].n_samplers * 12;
    buf = p = xmalloc(n);
    put_be(&p, s->n_domains, 4);
    for (size_t i = 0; i < s->n_domains; i++) {
        const struct domain_state *d = &s->domains[i];

        put_be(&p, d->exporter->odid, 4);
        put_be(&p, d->sysinit_ms, 8);
        put_be(&p, d->rate, 4);
        put_be(&p, d->n_samplers, 4);
        for (uint32_t j = 0; j < d->n_samplers; j++) {
            put_be(&p, d->samplers[j].id, 8);
            put_be(&p, d->samplers[j].rate, 4);
        }
    }
    *len = n;
    return buf;
}

int
norm_source_restore(struct norm_source *s, const uint8_t *buf, size_t len)
{
    const uint8_t *p = buf, *end = buf + len;
    uint32_t n;

    if (len < 4)
        return -1;
    n = (uint32_t)get_be(&p, 4);
    for (uint32_t i = 0; i < n; i++) {
        struct domain_state *d;
        uint32_t odid, ns;

        if (end - p < 20)
            return -1;
        odid = (uint32_t)get_be(&p, 4);
        d = domain_get(s, odid);
        d->sysinit_ms = get_be(&p, 8);
        d->rate = (uint32_t)get_be(&p, 4);
        ns = (uint32_t)get_be(&p, 4);
        if (ns > SAMPLERS_MAX || end - p < (ptrdiff_t)ns * 12)
            return -1;
        d->n_samplers = ns;
        for (uint32_t j = 0; j < ns; j++) {
            d->samplers[j].id = get_be(&p, 8);
            d->samplers[j].rate = (uint32_t)get_be(&p, 4);
        }
    }
    return p == end ? 0 : -1;
}
