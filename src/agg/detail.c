/*
 * Per-group detail (see ds/detail.h).
 */
#include <stdlib.h>
#include <string.h>

#include "ds/detail.h"
#include "ds/proto.h"
#include "ds/xmem.h"

#define DETAIL_MAGIC 0x44543031u /* "DT01" */

struct detail *
detail_new(void)
{
    struct detail *d = xcalloc(1, sizeof(*d));

    distinct_init(&d->src, false);
    distinct_init(&d->dst, false);
    distinct_init(&d->dport, true);
    d->first_ms = INT64_MAX;
    d->last_ms = INT64_MIN;
    return d;
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
    free(d);
}

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

void
detail_add(struct detail *d, const struct flow *f, uint64_t packets)
{
    distinct_add(&d->src, f->src_value);
    distinct_add(&d->dst, f->dst_value);
    if (proto_has_ports(f->proto))
        distinct_add(&d->dport, f->dst_port);
    if (f->start_ms < d->first_ms)
        d->first_ms = f->start_ms;
    if (f->end_ms > d->last_ms)
        d->last_ms = f->end_ms;
    add_type(d, ptype_of(f->proto, f->tcp_flags, f->icmp_type), packets);
}

void
detail_merge(struct detail *dst, const struct detail *src)
{
    const struct type_count *t = src->cap_types > 0 ? src->types : src->inl;

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
           distinct_memory(&d->dport) + (d->cap_types ? d->cap_types * sizeof(*d->types) : 0);
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
 */
size_t
detail_serialize_bound(const struct detail *d)
{
    return 24 + (size_t)d->n_types * 10 + distinct_serialize_bound(&d->src) +
           distinct_serialize_bound(&d->dst) + distinct_serialize_bound(&d->dport);
}

size_t
detail_serialize(const struct detail *d, uint8_t *buf)
{
    const struct type_count *t = d->cap_types > 0 ? d->types : d->inl;
    size_t n = 24 + (size_t)d->n_types * 10;

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
    return n;
}

struct detail *
detail_deserialize(const uint8_t *buf, size_t len)
{
    struct detail *d;
    uint32_t n_types;
    size_t pos, used;

    if (len < 24 || get32(buf) != DETAIL_MAGIC)
        return NULL;
    n_types = get32(buf + 20);
    if (n_types > 65536 || len < 24 + (size_t)n_types * 10)
        return NULL;
    d = detail_new();
    d->first_ms = (int64_t)get64(buf + 4);
    d->last_ms = (int64_t)get64(buf + 12);
    for (uint32_t i = 0; i < n_types; i++)
        add_type(d, (uint16_t)(buf[24 + i * 10] | buf[25 + i * 10] << 8),
                 get64(buf + 26 + i * 10));
    pos = 24 + (size_t)n_types * 10;
    distinct_fini(&d->src);
    distinct_fini(&d->dst);
    distinct_fini(&d->dport);
    used = distinct_deserialize(&d->src, buf + pos, len - pos);
    if (used == 0)
        goto bad;
    pos += used;
    used = distinct_deserialize(&d->dst, buf + pos, len - pos);
    if (used == 0)
        goto bad;
    pos += used;
    used = distinct_deserialize(&d->dport, buf + pos, len - pos);
    if (used == 0)
        goto bad;
    return d;
bad:
    detail_free(d);
    return NULL;
}
