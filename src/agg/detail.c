/*
 * Per-group detail (see ds/detail.h).
 */
#include <stdlib.h>
#include <string.h>

#include "ds/detail.h"
#include "ds/hash.h"
#include "ds/proto.h"
#include "ds/varint.h"
#include "ds/xmem.h"

#define DETAIL_MAGIC_V1 0x44543031u /* "DT01": no lists, no series */
#define DETAIL_MAGIC 0x44543032u    /* "DT02" */
#define MINUTE_MASK ((UINT64_C(1) << DETAIL_MINUTE_SHIFT) - 1)
#define SERIES_MINUTES_MAX 65535u

static uint32_t
cap_of(int64_t v, uint32_t def)
{
    return v < 1 ? def : v > TOPK_MAX ? TOPK_MAX : (uint32_t)v;
}

struct detail *
detail_new_in(const struct cfg_drilldown *dd, int64_t start_s, int64_t end_s)
{
    struct detail *d = xcalloc(1, sizeof(*d));
    int64_t minutes = (end_s - start_s + 59) / 60;

    distinct_init(&d->src, false);
    distinct_init(&d->dst, false);
    distinct_init(&d->dport, true);
    d->first_ms = INT64_MAX;
    d->last_ms = INT64_MIN;
    topk_init(&d->src_top, cap_of(dd ? dd->sources : 0, DETAIL_SOURCES_DEFAULT));
    topk_init(&d->sport_top, cap_of(dd ? dd->ports : 0, DETAIL_PORTS_DEFAULT));
    topk_init(&d->dst_top, cap_of(dd ? dd->destinations : 0, DETAIL_DSTS_DEFAULT));
    d->series.start_s = start_s;
    /* without lists a group never logs either: a flow costs its counters alone */
    if (!detail_keeps_lists(dd))
        return d;
    d->has_lists = 1;
    d->logging = 1;
    if (minutes > 0 && (dd == NULL || dd->series_memory > 0))
        d->series.n_min = minutes > SERIES_MINUTES_MAX ? SERIES_MINUTES_MAX : (uint32_t)minutes;
    return d;
}

bool
detail_keeps_lists(const struct cfg_drilldown *dd)
{
    return dd == NULL || dd->lists != CFG_LISTS_REREAD;
}

struct detail *
detail_new(void)
{
    return detail_new_in(NULL, 0, 0);
}

void
detail_free(struct detail *d)
{
    if (d == NULL)
        return;
    distinct_fini(&d->src);
    distinct_fini(&d->dst);
    distinct_fini(&d->dport);
    if (d->cap_types > 0)
        free(d->types);
    topk_fini(&d->src_top);
    topk_fini(&d->sport_top);
    topk_fini(&d->dst_top);
    free(d->series.e);
    free(d->log);
    free(d);
}

/* Replays the log into the lists and the series; returns the bytes the series took. */
static size_t
replay(struct detail *d)
{
    size_t grew = 0;

    for (uint32_t i = 0; i < d->n_log; i++) {
        const struct detail_log *l = &d->log[i];

        topk_add(&d->src_top, l->src, l->packets);
        topk_add(&d->dst_top, l->dst, l->packets);
        if (l->ports)
            topk_add(&d->sport_top, l->sport, l->packets);
        grew += detail_series_add(&d->series, l->minute, l->packets);
    }
    free(d->log);
    d->log = NULL;
    d->n_log = 0;
    d->cap_log = 0;
    d->logging = 0;
    return grew;
}

/* Ends d's logging: its lists and series from now on.  Returns the bytes the series took. */
static size_t
settle(struct detail *d)
{
    return d->logging ? replay(d) : 0;
}

/*
 * What readers see: d itself, or for a detail still logging a temporary
 * copy of its lists and series replayed from the log (*tmp, owned by the
 * caller), so that reading leaves d as it was (the series budget of the
 * open slots counts only what detail_add() allocates).
 */
static const struct detail *
lists_of(const struct detail *d, struct detail **tmp)
{
    struct detail *c;

    *tmp = NULL;
    if (!d->logging)
        return d;
    c = xcalloc(1, sizeof(*c));
    topk_init(&c->src_top, d->src_top.max);
    topk_init(&c->sport_top, d->sport_top.max);
    topk_init(&c->dst_top, d->dst_top.max);
    c->has_lists = d->has_lists;
    c->series.start_s = d->series.start_s;
    c->series.n_min = d->series.n_min;
    c->log = (struct detail_log *)(uintptr_t)d->log;   /* borrowed for the replay */
    c->n_log = d->n_log;
    for (uint32_t i = 0; i < c->n_log; i++) {
        const struct detail_log *l = &c->log[i];

        topk_add(&c->src_top, l->src, l->packets);
        topk_add(&c->dst_top, l->dst, l->packets);
        if (l->ports)
            topk_add(&c->sport_top, l->sport, l->packets);
        detail_series_add(&c->series, l->minute, l->packets);
    }
    c->log = NULL;
    c->n_log = 0;
    *tmp = c;
    return c;
}

static void
lists_done(struct detail *tmp)
{
    if (tmp == NULL)
        return;
    topk_fini(&tmp->src_top);
    topk_fini(&tmp->sport_top);
    topk_fini(&tmp->dst_top);
    free(tmp->series.e);
    free(tmp);
}

bool
detail_has_lists(const struct detail *d)
{
    return d->has_lists != 0;
}

/* ---- packets per minute ---- */

size_t
detail_series_add_slow(struct detail_series *s, uint32_t minute, uint64_t packets)
{
    size_t grew = 0;
    uint32_t lo = 0, hi = s->n;

    /* flows come mostly in time order: the last entry, or one past it */
    if (s->n > 0 && s->e[s->n - 1] >> DETAIL_MINUTE_SHIFT < minute) {
        lo = s->n;
    } else {
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;

            if (s->e[mid] >> DETAIL_MINUTE_SHIFT < minute)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    if (lo < s->n && s->e[lo] >> DETAIL_MINUTE_SHIFT == minute) {
        if ((s->e[lo] & MINUTE_MASK) + packets >= MINUTE_MASK) {
            /* 2^48 packets in a minute: kept at the most, and said not exact */
            s->e[lo] |= MINUTE_MASK;
            s->partial = 1;
        } else {
            s->e[lo] += packets;
        }
        return 0;
    }
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 8;

        s->e = xreallocarray(s->e, cap, sizeof(*s->e));
        grew = (size_t)(cap - s->cap) * sizeof(*s->e);
        s->cap = cap;
    }
    memmove(&s->e[lo + 1], &s->e[lo], (s->n - lo) * sizeof(*s->e));
    if (packets >= MINUTE_MASK) {
        packets = MINUTE_MASK;
        s->partial = 1;
    }
    s->e[lo] = (uint64_t)minute << DETAIL_MINUTE_SHIFT | packets;
    s->n++;
    return grew;
}

size_t
detail_series_drop(struct detail *d)
{
    size_t freed;

    settle(d);
    freed = detail_series_bytes(d);

    free(d->series.e);
    d->series.e = NULL;
    d->series.n = 0;
    d->series.cap = 0;
    if (d->series.n_min > 0) {
        d->series.dropped = 1;
        d->series.partial = 1;
    }
    return freed;
}

void
detail_series_restart(struct detail *d)
{
    d->series.dropped = 0;
}

bool
detail_minutes(const struct detail *d, int64_t start_s, uint32_t n, uint64_t *out, bool *exact)
{
    struct detail *tmp;
    const struct detail_series *s = &lists_of(d, &tmp)->series;

    memset(out, 0, (size_t)n * sizeof(*out));
    *exact = false;
    if (s->n_min == 0 || (s->n == 0 && s->partial)) {
        lists_done(tmp);
        return false;
    }
    for (uint32_t i = 0; i < s->n; i++) {
        int64_t t = s->start_s + 60 * (int64_t)(s->e[i] >> DETAIL_MINUTE_SHIFT) - start_s;
        int64_t m = t >= 0 ? t / 60 : -1;

        if (m >= 0 && m < (int64_t)n)
            out[m] += s->e[i] & MINUTE_MASK;
    }
    *exact = !s->partial;
    lists_done(tmp);
    return true;
}

/* Adds src's minutes into dst (both kept). */
static void
series_merge(struct detail_series *dst, const struct detail_series *src)
{
    for (uint32_t i = 0; i < src->n; i++) {
        int64_t t = src->start_s + 60 * (int64_t)(src->e[i] >> DETAIL_MINUTE_SHIFT) - dst->start_s;
        int64_t m = t < 0 ? 0 : t / 60 >= dst->n_min ? dst->n_min - 1 : t / 60;
        uint64_t p = src->e[i] & MINUTE_MASK;

        if (p > 0)
            detail_series_add_slow(dst, (uint32_t)m, p);
    }
    dst->partial |= src->partial;
}

/* ---- top lists ---- */

enum list { SOURCES, SPORTS, DSTS };

static size_t
top_of(const struct detail *d, enum list which, struct detail_item *out, size_t max,
       bool *exact, uint64_t *error)
{
    struct detail *tmp;
    const struct detail *l = lists_of(d, &tmp);
    const struct topk *t = which == SOURCES ? &l->src_top : which == SPORTS ? &l->sport_top
                                                                           : &l->dst_top;
    struct topk_entry *e;
    struct addr *a;
    size_t k = 0;

    *exact = false;
    *error = 0;
    if (!l->has_lists || max == 0)
        goto out;
    e = xcalloc(max, sizeof(*e));
    a = xcalloc(max, sizeof(*a));
    k = topk_top(t, e, which == SPORTS ? NULL : a, max, exact, error);
    for (size_t i = 0; i < k; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        if (which == SPORTS)
            out[i].port = (uint16_t)e[i].key;
        else
            out[i].addr = a[i];
        out[i].packets = e[i].count;
    }
    free(e);
    free(a);
out:
    lists_done(tmp);
    return k;
}

size_t
detail_top_sources(const struct detail *d, struct detail_item *out, size_t max, bool *exact,
                   uint64_t *error)
{
    return top_of(d, SOURCES, out, max, exact, error);
}

size_t
detail_top_sports(const struct detail *d, struct detail_item *out, size_t max, bool *exact,
                  uint64_t *error)
{
    return top_of(d, SPORTS, out, max, exact, error);
}

size_t
detail_top_dsts(const struct detail *d, struct detail_item *out, size_t max, bool *exact,
                uint64_t *error)
{
    return top_of(d, DSTS, out, max, exact, error);
}

/* ---- types, counting, merging ---- */

static struct type_count *
types_of(struct detail *d)
{
    return d->cap_types > 0 ? d->types : d->inl;
}

static void
add_type(struct detail *d, uint16_t type, uint64_t packets)
{
    struct type_count *t = types_of(d);

    for (uint32_t i = 0; i < d->n_types; i++) {
        if (t[i].type == type) {
            t[i].packets += packets;
            return;
        }
    }
    if (d->cap_types == 0 && d->n_types == DETAIL_TYPES_INLINE) {
        d->cap_types = 8;
        d->types = xcalloc(d->cap_types, sizeof(*d->types));
        memcpy(d->types, d->inl, sizeof(d->inl));
        t = d->types;
    } else if (d->cap_types > 0 && d->n_types == d->cap_types) {
        d->cap_types *= 2;
        d->types = xreallocarray(d->types, d->cap_types, sizeof(*d->types));
        t = d->types;
    }
    t[d->n_types].type = type;
    t[d->n_types].packets = packets;
    d->n_types++;
}

/* Logs a flow; false if the log cannot take it (full, or an IPv6 address to keep). */
static inline bool
log_flow(struct detail *d, const struct flow *f, uint64_t packets, bool ports)
{
    struct detail_log *l;

    if (topk_is_v6_key(f->src_value) || topk_is_v6_key(f->dst_value))
        return false;
    if (d->n_log == d->cap_log) {
        if (d->cap_log == DETAIL_LOG_MAX)
            return false;
        d->cap_log = d->cap_log ? (uint16_t)(d->cap_log * 2) : 4;
        d->log = xreallocarray(d->log, d->cap_log, sizeof(*d->log));
    }
    l = &d->log[d->n_log++];
    l->src = f->src_value;
    l->dst = f->dst_value;
    l->packets = packets;
    l->sport = f->src_port;
    l->minute = (uint16_t)detail_series_minute(&d->series, f->start_ms);
    l->ports = ports;
    return true;
}

size_t
detail_add(struct detail *d, const struct flow *f, uint64_t packets)
{
    bool ports = proto_has_ports(f->proto);
    size_t grew = 0;

    distinct_add(&d->src, f->src_value);
    distinct_add(&d->dst, f->dst_value);
    if (ports)
        distinct_add(&d->dport, f->dst_port);
    if (f->start_ms < d->first_ms)
        d->first_ms = f->start_ms;
    if (f->end_ms > d->last_ms)
        d->last_ms = f->end_ms;
    add_type(d, ptype_of(f->proto, f->tcp_flags, f->icmp_type), packets);
    if (d->logging) {
        if (packets == 0 || log_flow(d, f, packets, ports))
            return 0;
        grew = replay(d);
    }
    if (!d->has_lists)
        return 0;
    topk_add_addr(&d->src_top, f->src_value, &f->src, packets);
    topk_add_addr(&d->dst_top, f->dst_value, &f->dst, packets);
    if (ports)
        topk_add(&d->sport_top, f->src_port, packets);
    return grew + detail_series_add(&d->series, detail_series_minute(&d->series, f->start_ms),
                                    packets);
}

/* ---- counts aggregated elsewhere: the lists at once, no log ---- */

/* A value's packets into top list t: exact if whole (given once), else as a flow's. */
static void
top_add(struct topk *t, uint64_t v, const struct addr *a, uint64_t packets, bool whole)
{
    if (whole)
        topk_add_total(t, v, packets, topk_is_v6_key(v) ? a : NULL);
    else if (a != NULL)
        topk_add_addr(t, v, a, packets);
    else
        topk_add(t, v, packets);
}

/* An address of d's flows: into its distinct counter set and its top list top. */
static void
add_address(struct detail *d, struct distinct *set, struct topk *top, const struct addr *a,
            uint64_t packets, bool whole)
{
    uint64_t v = addr_value(a);

    distinct_add(set, v);
    settle(d);
    if (d->has_lists)
        top_add(top, v, a, packets, whole);
}

void
detail_add_source(struct detail *d, const struct addr *a, uint64_t packets, bool whole)
{
    add_address(d, &d->src, &d->src_top, a, packets, whole);
}

void
detail_add_destination(struct detail *d, const struct addr *a, uint64_t packets, bool whole)
{
    add_address(d, &d->dst, &d->dst_top, a, packets, whole);
}

void
detail_add_sport(struct detail *d, uint16_t port, uint64_t packets, bool whole)
{
    settle(d);
    if (d->has_lists)
        top_add(&d->sport_top, port, NULL, packets, whole);
}

void
detail_add_dport(struct detail *d, uint16_t port)
{
    distinct_add(&d->dport, port);
}

void
detail_add_type(struct detail *d, uint8_t proto, uint8_t tcp_flags, uint8_t icmp_type,
                uint64_t packets)
{
    add_type(d, ptype_of(proto, tcp_flags, icmp_type), packets);
}

size_t
detail_add_minute(struct detail *d, uint64_t m, uint64_t packets)
{
    size_t grew = settle(d);

    if (!d->has_lists || d->series.n_min == 0)
        return grew;
    if (m >= d->series.n_min)
        m = d->series.n_min - 1;
    return grew + detail_series_add(&d->series, (uint32_t)m, packets);
}

void
detail_add_span(struct detail *d, int64_t first_ms, int64_t last_ms)
{
    if (first_ms < d->first_ms)
        d->first_ms = first_ms;
    if (last_ms > d->last_ms)
        d->last_ms = last_ms;
}

static uint64_t
packets_of(const struct detail *d)
{
    const struct type_count *t = d->cap_types > 0 ? d->types : d->inl;
    uint64_t p = 0;

    for (uint32_t i = 0; i < d->n_types; i++)
        p += t[i].packets;
    return p;
}

void
detail_merge(struct detail *dst, const struct detail *src)
{
    const struct type_count *t = src->cap_types > 0 ? src->types : src->inl;
    uint64_t dst_packets = packets_of(dst), src_packets = packets_of(src);
    struct detail *tmp;
    const struct detail *sl;

    settle(dst);
    sl = lists_of(src, &tmp);
    /* lists: a side without any (DT01) that counted packets leaves the sum without any */
    if (!src->has_lists && src_packets > 0)
        dst->has_lists = 0;
    else if (src->has_lists && dst_packets == 0)
        dst->has_lists = 1;
    if (dst->has_lists && src->has_lists) {
        topk_merge(&dst->src_top, &sl->src_top);
        topk_merge(&dst->sport_top, &sl->sport_top);
        topk_merge(&dst->dst_top, &sl->dst_top);
    }
    /* series: a side without one makes the sum partial, if it counted packets */
    if (sl->series.n_min > 0 && dst->series.n_min == 0 && dst_packets == 0) {
        dst->series.start_s = sl->series.start_s;
        dst->series.n_min = sl->series.n_min;
    }
    if (dst->series.n_min > 0) {
        if (sl->series.n_min > 0)
            series_merge(&dst->series, &sl->series);
        else if (src_packets > 0)
            dst->series.partial = 1;
    }
    lists_done(tmp);

    distinct_merge(&dst->src, &src->src);
    distinct_merge(&dst->dst, &src->dst);
    distinct_merge(&dst->dport, &src->dport);
    if (src->first_ms < dst->first_ms)
        dst->first_ms = src->first_ms;
    if (src->last_ms > dst->last_ms)
        dst->last_ms = src->last_ms;
    for (uint32_t i = 0; i < src->n_types; i++)
        add_type(dst, t[i].type, t[i].packets);
}

uint16_t
detail_dominant_type(const struct detail *d)
{
    const struct type_count *t = d->cap_types > 0 ? d->types : d->inl;
    uint16_t best = 0;
    uint64_t most = 0;

    for (uint32_t i = 0; i < d->n_types; i++) {
        if (i == 0 || t[i].packets > most || (t[i].packets == most && t[i].type < best)) {
            best = t[i].type;
            most = t[i].packets;
        }
    }
    return best;
}

size_t
detail_memory(const struct detail *d)
{
    return sizeof(*d) + distinct_memory(&d->src) + distinct_memory(&d->dst) +
           distinct_memory(&d->dport) + (d->cap_types ? d->cap_types * sizeof(*d->types) : 0) +
           topk_memory(&d->src_top) + topk_memory(&d->sport_top) + topk_memory(&d->dst_top) +
           detail_series_bytes(d) + (size_t)d->cap_log * sizeof(*d->log);
}

static void
put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void
put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/*
 * Layout, little endian: magic (4), first_ms (8), last_ms (8), n_types
 * (4), n_types * (type (2), packets (8)), then the three distinct counters.
 * DT02 goes on with the three top lists (sources, source ports,
 * destinations; topk_serialize()) and the series, in varints: start_s,
 * n_min, flags (1 dropped, 2 partial), n, then per minute with packets the
 * minute's distance from the previous one and its packets.  DT01 stops
 * after the counters.
 */
static size_t
topk_bound(const struct topk *t)
{
    return 30 + (size_t)t->n * 46;
}

size_t
detail_serialize_bound(const struct detail *d)
{
    /* a log of n flows becomes lists and a series of at most n entries each */
    if (d->logging)
        return 24 + (size_t)d->n_types * 10 + distinct_serialize_bound(&d->src) +
               distinct_serialize_bound(&d->dst) + distinct_serialize_bound(&d->dport) + 3 * 30 +
               40 + (size_t)d->n_log * (3 * 46 + 13);
    return 24 + (size_t)d->n_types * 10 + distinct_serialize_bound(&d->src) +
           distinct_serialize_bound(&d->dst) + distinct_serialize_bound(&d->dport) +
           topk_bound(&d->src_top) + topk_bound(&d->sport_top) + topk_bound(&d->dst_top) + 40 +
           (size_t)d->series.n * 13;
}

static size_t
series_serialize(const struct detail_series *s, uint8_t *buf)
{
    size_t n = 0;
    uint64_t prev = 0;

    n += varint_put(buf + n, (uint64_t)s->start_s);
    n += varint_put(buf + n, s->n_min);
    buf[n++] = (uint8_t)(s->dropped | s->partial << 1);
    n += varint_put(buf + n, s->n);
    for (uint32_t i = 0; i < s->n; i++) {
        uint64_t m = s->e[i] >> DETAIL_MINUTE_SHIFT;

        n += varint_put(buf + n, m - prev);
        n += varint_put(buf + n, s->e[i] & MINUTE_MASK);
        prev = m;
    }
    return n;
}

size_t
detail_serialize(const struct detail *d, uint8_t *buf)
{
    const struct type_count *t = d->cap_types > 0 ? d->types : d->inl;
    size_t n = 24 + (size_t)d->n_types * 10;
    struct detail *tmp;
    const struct detail *l = lists_of(d, &tmp);

    put32(buf, DETAIL_MAGIC);
    put64(buf + 4, (uint64_t)d->first_ms);
    put64(buf + 12, (uint64_t)d->last_ms);
    put32(buf + 20, d->n_types);
    for (uint32_t i = 0; i < d->n_types; i++) {
        buf[24 + i * 10] = (uint8_t)t[i].type;
        buf[25 + i * 10] = (uint8_t)(t[i].type >> 8);
        put64(buf + 26 + i * 10, t[i].packets);
    }
    n += distinct_serialize(&d->src, buf + n);
    n += distinct_serialize(&d->dst, buf + n);
    n += distinct_serialize(&d->dport, buf + n);
    buf[n++] = l->has_lists;
    n += topk_serialize(&l->src_top, buf + n);
    n += topk_serialize(&l->sport_top, buf + n);
    n += topk_serialize(&l->dst_top, buf + n);
    n += series_serialize(&l->series, buf + n);
    lists_done(tmp);
    return n;
}

/* Returns bytes consumed, 0 if not valid. */
static size_t
series_deserialize(struct detail_series *s, const uint8_t *buf, size_t len)
{
    uint64_t start, n_min, n, m = 0, delta, p;
    size_t pos = 0;
    uint8_t flags;

    if (varint_get(buf, len, &pos, &start) != 0 || varint_get(buf, len, &pos, &n_min) != 0 ||
        n_min > SERIES_MINUTES_MAX || pos >= len)
        return 0;
    flags = buf[pos++];
    if (flags > 3 || varint_get(buf, len, &pos, &n) != 0 || n > n_min)
        return 0;
    s->start_s = (int64_t)start;
    s->n_min = (uint32_t)n_min;
    s->dropped = flags & 1;
    s->partial = (flags >> 1) & 1;
    if (n > 0) {
        s->e = xcalloc(n, sizeof(*s->e));
        s->cap = (uint32_t)n;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (varint_get(buf, len, &pos, &delta) != 0 || varint_get(buf, len, &pos, &p) != 0 ||
            (i > 0 && delta == 0) || delta >= n_min || m + delta >= n_min || p > MINUTE_MASK)
            return 0;
        m += delta;
        s->e[i] = m << DETAIL_MINUTE_SHIFT | p;
        s->n++;
    }
    return pos;
}

static struct detail *
read_detail(const uint8_t *buf, size_t len, bool counts_only)
{
    size_t (*read_distinct)(struct distinct *, const uint8_t *, size_t) =
        counts_only ? distinct_deserialize_count : distinct_deserialize;
    struct detail *d;
    uint32_t n_types, magic;
    size_t pos, used;

    if (len < 24)
        return NULL;
    magic = get32(buf);
    if (magic != DETAIL_MAGIC && magic != DETAIL_MAGIC_V1)
        return NULL;
    n_types = get32(buf + 20);
    if (n_types > 65536 || len < 24 + (size_t)n_types * 10)
        return NULL;
    d = detail_new();
    d->logging = 0;
    d->first_ms = (int64_t)get64(buf + 4);
    d->last_ms = (int64_t)get64(buf + 12);
    for (uint32_t i = 0; i < n_types; i++)
        add_type(d, (uint16_t)(buf[24 + i * 10] | buf[25 + i * 10] << 8),
                 get64(buf + 26 + i * 10));
    pos = 24 + (size_t)n_types * 10;
    distinct_fini(&d->src);
    distinct_fini(&d->dst);
    distinct_fini(&d->dport);
    used = read_distinct(&d->src, buf + pos, len - pos);
    if (used == 0)
        goto bad;
    pos += used;
    used = read_distinct(&d->dst, buf + pos, len - pos);
    if (used == 0)
        goto bad;
    pos += used;
    used = read_distinct(&d->dport, buf + pos, len - pos);
    if (used == 0)
        goto bad;
    pos += used;
    if (magic == DETAIL_MAGIC_V1) {
        /* an older store's detail: no lists, no series */
        d->has_lists = 0;
        return d;
    }
    if (pos >= len || buf[pos] > 1)
        goto bad;
    d->has_lists = buf[pos++];
    used = topk_deserialize(&d->src_top, buf + pos, len - pos);
    if (used == 0)
        goto bad;
    pos += used;
    used = topk_deserialize(&d->sport_top, buf + pos, len - pos);
    if (used == 0)
        goto bad;
    pos += used;
    used = topk_deserialize(&d->dst_top, buf + pos, len - pos);
    if (used == 0)
        goto bad;
    pos += used;
    used = series_deserialize(&d->series, buf + pos, len - pos);
    if (used == 0 || pos + used != len)
        goto bad;
    return d;
bad:
    detail_free(d);
    return NULL;
}

struct detail *
detail_deserialize(const uint8_t *buf, size_t len)
{
    return read_detail(buf, len, false);
}

struct detail *
detail_deserialize_counts(const uint8_t *buf, size_t len)
{
    return read_detail(buf, len, true);
}
