/*
 * Synthetic darknet traffic (see scenario.h).
 *
 * The background is what a /16 darknet sees every day: scanners on the
 * usual ports (445, 23, 22, 1433, 3389, ...) with shares that move from day
 * to day, a long tail of random ports, backscatter (SYN/ACK, RST from web
 * servers under attack elsewhere), ICMP echo requests, some IPv6.  The port
 * shares are chosen so that TopN at 1% falls around 14 to 19.
 *
 * The events reproduce the shape of the paper's case studies, scaled to the
 * day's background volume so that they matter the same at any size.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ds/proto.h"
#include "ds/tz.h"
#include "ds/xmem.h"
#include "scenario.h"

struct rng {
    uint64_t s;
};

static uint64_t
rnd(struct rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double
unif(struct rng *r)
{
    return (double)(rnd(r) >> 11) / 9007199254740992.0;
}

static uint64_t
below(struct rng *r, uint64_t n)
{
    return n ? rnd(r) % n : 0;
}

static double
gauss(struct rng *r)
{
    double u = unif(r), v = unif(r);

    if (u < 1e-300)
        u = 1e-300;
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* Popular destination ports and their share of background packets (percent). */
static const struct {
    uint16_t port;
    uint8_t proto;
    double share;
} popular[] = {
    {445, PROTO_TCP, 17.0},  {23, PROTO_TCP, 13.0},   {22, PROTO_TCP, 7.5},
    {1433, PROTO_TCP, 5.5},  {3389, PROTO_TCP, 4.8},  {80, PROTO_TCP, 4.3},
    {8080, PROTO_TCP, 3.6},  {5900, PROTO_TCP, 2.9},  {443, PROTO_TCP, 2.4},
    {21, PROTO_TCP, 2.0},    {25, PROTO_TCP, 1.7},    {3306, PROTO_TCP, 1.45},
    {139, PROTO_TCP, 1.2},   {135, PROTO_TCP, 1.1},   {2323, PROTO_TCP, 0.98},
    {53, PROTO_UDP, 0.9},    {8443, PROTO_TCP, 0.85}, {123, PROTO_UDP, 0.8},
    {161, PROTO_UDP, 0.75},  {1900, PROTO_UDP, 0.72}, {5060, PROTO_UDP, 0.68},
    {110, PROTO_TCP, 0.62},  {143, PROTO_TCP, 0.58},  {6379, PROTO_TCP, 0.55},
    {81, PROTO_TCP, 0.5},    {8888, PROTO_TCP, 0.48}, {7547, PROTO_TCP, 0.45},
    {5555, PROTO_TCP, 0.42}, {37215, PROTO_TCP, 0.4}, {11211, PROTO_UDP, 0.38},
};

#define N_POPULAR (sizeof(popular) / sizeof(popular[0]))
/* The rest of the background: random ports, backscatter, ICMP. */
#define TAIL_SHARE 13.0
#define BACKSCATTER_SHARE 3.0
#define ICMP_SHARE 0.9

struct day_buf {
    struct gen_flow *v;
    size_t n, cap;
};

static struct gen_flow *
push(struct day_buf *b)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4096;
        b->v = xreallocarray(b->v, b->cap, sizeof(*b->v));
    }
    memset(&b->v[b->n], 0, sizeof(b->v[0]));
    return &b->v[b->n++];
}

/* A public-looking IPv4 source for (pool, index): never inside 198.18/15. */
static void
source_addr(struct addr *a, uint64_t pool, uint64_t index)
{
    uint64_t h = (pool * 0x9E3779B97F4A7C15ULL) ^ (index * 0xC2B2AE3D27D4EB4FULL);
    uint32_t v;

    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    v = (uint32_t)h;
    /* first octet 1..223, not 10, 127, 198 */
    {
        uint32_t o = 1 + (v >> 24) % 223;

        if (o == 10 || o == 127 || o == 198)
            o += 1;
        v = (o << 24) | (v & 0xffffff);
    }
    addr_from_v4(a, v);
}

struct world {
    const struct gen_params *p;
    struct rng r;
    int64_t day_start, day_len_ms;
    double drift[64];       /* log of each popular port's share factor */
};

static void
dark_dst(struct world *w, struct gen_flow *f)
{
    double u = unif(&w->r);

    if (u < w->p->outside_share) {
        /* next door, outside the darknet */
        addr_from_v4(&f->dst, 0xC6130000u | (uint32_t)below(&w->r, 65536));
    } else if (f->v6) {
        uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0xde, 0xad};

        for (int i = 10; i < 16; i++)
            b[i] = (uint8_t)below(&w->r, 256);
        memcpy(f->dst.b, b, 16);
    } else {
        addr_from_v4(&f->dst, 0xC6120000u | (uint32_t)below(&w->r, 65536));
    }
}

static void
v6_src(struct addr *a, uint64_t pool, uint64_t index)
{
    uint64_t h = (pool + 7) * 0x9E3779B97F4A7C15ULL ^ index;

    memset(a->b, 0, 16);
    a->b[0] = 0x24;
    a->b[1] = 0x0e;
    for (int i = 8; i < 16; i++) {
        h = h * 6364136223846793005ULL + 1442695040888963407ULL;
        a->b[i] = (uint8_t)(h >> 56);
    }
}

static int64_t
when(struct world *w, double from_h, double to_h)
{
    double span = (to_h - from_h) * 3600000.0;
    int64_t at =
        w->day_start * 1000 + (int64_t)(from_h * 3600000.0) + (int64_t)(unif(&w->r) * span);

    if (at >= w->day_start * 1000 + w->day_len_ms)
        at = w->day_start * 1000 + w->day_len_ms - 1;
    return at;
}

static void
background(struct world *w, struct day_buf *b, int day, uint64_t flows)
{
    double share[N_POPULAR], total = 0, cum[N_POPULAR + 3];
    size_t k;

    /*
     * Each port's share drifts from day to day, slowly (an AR(1) walk of its
     * logarithm), as scanning campaigns wax and wane: what makes TopN move.
     */
    for (k = 0; k < N_POPULAR; k++) {
        w->drift[k] = 0.75 * w->drift[k] + 0.09 * gauss(&w->r);
        share[k] = popular[k].share * exp(w->drift[k]) * exp(0.04 * gauss(&w->r));
        total += share[k];
    }
    total += TAIL_SHARE + BACKSCATTER_SHARE + ICMP_SHARE;
    cum[0] = share[0] / total;
    for (k = 1; k < N_POPULAR; k++)
        cum[k] = cum[k - 1] + share[k] / total;
    cum[N_POPULAR] = cum[N_POPULAR - 1] + TAIL_SHARE / total;
    cum[N_POPULAR + 1] = cum[N_POPULAR] + BACKSCATTER_SHARE / total;
    cum[N_POPULAR + 2] = 1.0;

    for (uint64_t i = 0; i < flows; i++) {
        struct gen_flow *f = push(b);
        double u = unif(&w->r);
        size_t lo = 0, hi = N_POPULAR + 2;

        while (lo < hi) {
            size_t mid = (lo + hi) / 2;

            if (cum[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        f->v6 = unif(&w->r) < w->p->v6_share;
        f->start_ms = when(w, 0, (double)w->day_len_ms / 3600000.0);
        f->end_ms = f->start_ms + (int64_t)below(&w->r, 3000);
        f->packets = 1 + (below(&w->r, 10) < 3) + (below(&w->r, 10) < 1);
        if (lo < N_POPULAR) {
            /*
             * Scanners of a port: a pool sized to its traffic, renewed a
             * little every day.
             */
            double per = w->p->flows_per_source > 0 ? w->p->flows_per_source : 2.5;
            uint64_t pool = (uint64_t)(share[lo] / total * (double)flows / per) + 1;
            uint64_t idx = below(&w->r, pool);

            f->proto = popular[lo].proto;
            f->dport = popular[lo].port;
            f->sport = (uint16_t)(1024 + below(&w->r, 64511));
            f->flags = f->proto == PROTO_TCP ? 0x02 : 0;
            if (f->v6)
                v6_src(&f->src, lo, idx);
            else
                source_addr(&f->src, lo + 1000 * (uint64_t)(idx % 5 == 0 ? day : 0), idx);
        } else if (lo == N_POPULAR) {
            /* the tail: one-off probes of random ports */
            f->proto = below(&w->r, 10) < 7 ? PROTO_TCP : PROTO_UDP;
            f->dport = (uint16_t)(1 + below(&w->r, 65535));
            f->sport = (uint16_t)(1024 + below(&w->r, 64511));
            f->flags = f->proto == PROTO_TCP ? 0x02 : 0;
            f->packets = 1;
            if (f->v6)
                v6_src(&f->src, 77, below(&w->r, 1u << 20));
            else
                source_addr(&f->src, 99 + (uint64_t)day, below(&w->r, 1u << 20));
        } else if (lo == N_POPULAR + 1) {
            /* backscatter: replies of web servers attacked with our addresses */
            f->proto = PROTO_TCP;
            f->sport = below(&w->r, 2) ? 80 : 443;
            f->dport = (uint16_t)(1024 + below(&w->r, 64511));
            f->flags = below(&w->r, 4) ? 0x12 : 0x14; /* SYN/ACK or RST/ACK */
            f->v6 = false;
            source_addr(&f->src, 555 + (uint64_t)day, below(&w->r, 400));
        } else {
            f->proto = f->v6 ? PROTO_ICMPV6 : PROTO_ICMP;
            f->icmp_type = f->v6 ? 128 : 8;
            f->packets = 1;
            if (f->v6)
                v6_src(&f->src, 88, below(&w->r, 5000));
            else
                source_addr(&f->src, 888, below(&w->r, 5000));
        }
        /* no draw at all without it: the other scenarios stay byte for byte what they were */
        if (w->p->spoofed_share > 0 && !f->v6 && unif(&w->r) < w->p->spoofed_share)
            source_addr(&f->src, 4242, rnd(&w->r));
        dark_dst(w, f);
    }
}

/* Mean background packets per flow (1 + 0.3 + 0.1 for most). */
#define BG_PACKETS_PER_FLOW 1.35

static void
event(struct world *w, struct day_buf *b, enum gen_event ev, uint64_t bg_flows)
{
    double bg = (double)bg_flows * BG_PACKETS_PER_FLOW;

    switch (ev) {
    case GEN_EV_DDOS: {
        /*
         * Table I: UDP 2849 from 233 hosts to 1017 addresses of one sensor
         * network, eight times a day's traffic in 90 minutes: every other
         * group's share falls and TopN at 1% drops to about 3.
         */
        uint64_t target = (uint64_t)(bg * 8), sent = 0, i = 0;
        uint64_t flows = target / 20 > 1017 ? target / 20 : 1017;
        struct addr dsts[1017];

        for (int d = 0; d < 1017; d++)
            addr_from_v4(&dsts[d], 0xC6120000u | (uint32_t)(256 + below(&w->r, 65280)));
        while (sent < target) {
            struct gen_flow *f = push(b);
            uint64_t per = (target - sent) / (flows > i ? flows - i : 1);

            f->proto = PROTO_UDP;
            f->dport = 2849;
            f->sport = (uint16_t)(1024 + below(&w->r, 64511));
            /* round robin, so that every source and address shows */
            source_addr(&f->src, 2849, i % 233);
            f->dst = dsts[i % 1017];
            f->start_ms = when(w, 14.0, 15.5);
            f->end_ms = f->start_ms + (int64_t)below(&w->r, 60000);
            f->packets = per > 1 ? per / 2 + below(&w->r, per) : 1;
            if (f->packets > target - sent)
                f->packets = target - sent;
            sent += f->packets;
            i++;
        }
        break;
    }
    case GEN_EV_MISCONFIG: {
        /* Table II: one host, UDP 52290, one address, 2.5 days' worth in an hour */
        uint64_t target = (uint64_t)(bg * 2.5), sent = 0;
        struct addr src, dst;

        source_addr(&src, 52290, 1);
        addr_from_v4(&dst, 0xC6120A0Bu);
        while (sent < target) {
            struct gen_flow *f = push(b);

            f->proto = PROTO_UDP;
            f->dport = 52290;
            f->sport = 52290;
            f->src = src;
            f->dst = dst;
            f->start_ms = when(w, 9.0, 10.0);
            f->end_ms = f->start_ms + 10000;
            f->packets = 50 + below(&w->r, 100);
            sent += f->packets;
        }
        break;
    }
    case GEN_EV_BACKSCATTER: {
        /* Dataset 2 case 1: replies from port 53 of one DNS server to two high ports */
        uint64_t target = (uint64_t)(bg * 3), sent = 0;
        struct addr src, dst;

        source_addr(&src, 53, 53);
        addr_from_v4(&dst, 0xC6124242u);
        while (sent < target) {
            struct gen_flow *f = push(b);

            f->proto = PROTO_UDP;
            f->sport = 53;
            f->dport = below(&w->r, 10) < 6 ? 64157 : 64066;
            f->src = src;
            f->dst = dst;
            f->start_ms = when(w, 6.0, 18.0);
            f->end_ms = f->start_ms + 30000;
            f->packets = 10 + below(&w->r, 40);
            sent += f->packets;
        }
        break;
    }
    case GEN_EV_SCAN_INCREASE: {
        /* Table VII: one host probes a dozen UDP ports, each a little above 1% */
        static const uint16_t ports[12] = {64187, 53413, 23387, 29630, 16635, 32516,
                                           27998, 5919,  45703, 11252, 40001, 18080};
        uint64_t per_port = (uint64_t)(bg * 0.2376 / 12);
        struct addr src;

        source_addr(&src, 64187, 9);
        for (int p = 0; p < 12; p++) {
            uint64_t sent = 0;

            while (sent < per_port) {
                struct gen_flow *f = push(b);

                f->proto = PROTO_UDP;
                f->dport = ports[p];
                f->sport = (uint16_t)(40000 + p);
                f->src = src;
                addr_from_v4(&f->dst, 0xC6120000u | (uint32_t)(256 + below(&w->r, 65280)));
                f->start_ms = when(w, 20.0, 23.0);
                f->end_ms = f->start_ms + 1000;
                f->packets = 5 + below(&w->r, 10);
                if (sent + f->packets > per_port)
                    f->packets = per_port - sent > 0 ? per_port - sent : 1;
                sent += f->packets;
            }
        }
        break;
    }
    case GEN_EV_NONE:
        break;
    }
}

static int
cmp_start(const void *x, const void *y)
{
    const struct gen_flow *a = x, *b = y;

    return a->start_ms < b->start_ms ? -1 : a->start_ms > b->start_ms;
}

/* The sorted pointer, a or tmp: a stable LSD radix sort of a[0..n) on bits 32 to 63. */
static uint64_t *
radix_high32(uint64_t *a, uint64_t *tmp, size_t n, size_t *count)
{
    for (int shift = 32; shift < 64; shift += 16) {
        size_t sum = 0;
        uint64_t *t;

        memset(count, 0, 65536 * sizeof(*count));
        for (size_t i = 0; i < n; i++)
            count[(a[i] >> shift) & 0xffff]++;
        if (count[(a[0] >> shift) & 0xffff] == n)
            continue; /* one digit for all: nothing to move */
        for (size_t d = 0; d < 65536; d++) {
            size_t c = count[d];

            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[(a[i] >> shift) & 0xffff]++] = a[i];
        t = a;
        a = tmp;
        tmp = t;
    }
    return a;
}

/*
 * The day's flows in start-time order into out, ties in the order they
 * were made: what a stable sort gives, and what glibc's qsort (a merge
 * sort) gave when it did this.  Sorting 72-byte flows with qsort took most
 * of the generator's time; this sorts 8-byte keys, start offset above and
 * index below, by their offset (two radix passes: a day is under 2^32 ms),
 * then moves each flow once.
 */
static void
sort_day(const struct day_buf *b, struct day_buf *out)
{
    int64_t lo = b->n ? b->v[0].start_ms : 0, hi = lo;
    uint64_t *keys, *tmp, *sorted;
    size_t *count;

    out->n = 0;
    for (size_t i = 1; i < b->n; i++) {
        lo = b->v[i].start_ms < lo ? b->v[i].start_ms : lo;
        hi = b->v[i].start_ms > hi ? b->v[i].start_ms : hi;
    }
    if (out->cap < b->n) {
        out->cap = b->cap;
        out->v = xreallocarray(out->v, out->cap, sizeof(*out->v));
    }
    if (b->n == 0)
        return;
    if ((uint64_t)b->n > UINT32_MAX || (uint64_t)(hi - lo) > UINT32_MAX) {
        memcpy(out->v, b->v, b->n * sizeof(*b->v));
        out->n = b->n;
        qsort(out->v, out->n, sizeof(*out->v), cmp_start); /* merge sort: stable */
        return;
    }
    keys = xreallocarray(NULL, b->n, sizeof(*keys));
    tmp = xreallocarray(NULL, b->n, sizeof(*tmp));
    count = xreallocarray(NULL, 65536, sizeof(*count));
    for (size_t i = 0; i < b->n; i++)
        keys[i] = (uint64_t)(b->v[i].start_ms - lo) << 32 | i;
    sorted = radix_high32(keys, tmp, b->n, count);
    for (size_t i = 0; i < b->n; i++)
        out->v[i] = b->v[sorted[i] & 0xffffffffu];
    out->n = b->n;
    free(count);
    free(tmp);
    free(keys);
}

void
gen_params_paper(struct gen_params *p)
{
    memset(p, 0, sizeof(*p));
    p->days = 50;
    p->flows_per_day = 1800;
    p->seed = 20130306;
    p->outside_share = 0.02;
    p->excluded_share = 0;
    p->v6_share = 0.03;
    /* from 2013-02-15: 2013-03-06, 03-17, 03-24, 03-31 */
    p->events[p->n_events++] = (struct gen_event_day){19, GEN_EV_DDOS};
    p->events[p->n_events++] = (struct gen_event_day){30, GEN_EV_BACKSCATTER};
    p->events[p->n_events++] = (struct gen_event_day){37, GEN_EV_SCAN_INCREASE};
    p->events[p->n_events++] = (struct gen_event_day){44, GEN_EV_MISCONFIG};
}

int
gen_run(const struct gen_params *p, gen_flow_fn fn, gen_day_fn day_fn, void *ctx)
{
    struct world w;
    struct day_buf b = {NULL, 0, 0}, sorted = {NULL, 0, 0};
    int64_t day_start = p->start_day;
    int rc = 0;

    memset(&w, 0, sizeof(w));
    w.p = p;
    w.r.s = p->seed;
    for (int day = 0; day < p->days && rc == 0; day++) {
        int64_t next = tz_next_day(day_start);
        uint64_t bg = p->flows_per_day;

        w.day_start = day_start;
        w.day_len_ms = (next - day_start) * 1000;
        b.n = 0;
        /* a little day-to-day variation of the volume */
        bg = (uint64_t)((double)bg * exp(0.08 * gauss(&w.r)));
        background(&w, &b, day, bg);
        for (int e = 0; e < p->n_events; e++)
            if (p->events[e].day == day)
                event(&w, &b, p->events[e].ev, bg);
        sort_day(&b, &sorted);
        for (size_t i = 0; i < sorted.n && rc == 0; i++)
            rc = fn(ctx, &sorted.v[i]);
        if (rc == 0 && day_fn != NULL)
            rc = day_fn(ctx, day, day_start);
        day_start = next;
    }
    free(sorted.v);
    free(b.v);
    return rc;
}
