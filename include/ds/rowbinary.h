/*
 * ClickHouse's RowBinary, written: a growing buffer of little-endian
 * numbers, varint-prefixed Strings and addresses as two big-endian halves
 * (docs/CLICKHOUSE.md 3.1).  The records a node inserts (ch_writer.c, once
 * per record: inline) and the slots a judging node publishes (cluster.c)
 * are written with it.
 */
#ifndef DS_ROWBINARY_H
#define DS_ROWBINARY_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ds/addr.h"
#include "ds/varint.h"
#include "ds/xmem.h"

struct rowbin {
    uint8_t *b;                 /* owned */
    size_t len, cap;
};

static inline void
rowbin_put(struct rowbin *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        while (o->len + n > o->cap)
            o->cap = o->cap ? 2 * o->cap : (size_t)1 << 16;
        o->b = xreallocarray(o->b, o->cap, 1);
    }
    if (n > 0)
        memcpy(o->b + o->len, p, n);
    o->len += n;
}

/* An integer of width bytes (1, 2, 4 or 8), little endian. */
static inline void
rowbin_le(struct rowbin *o, uint64_t v, unsigned width)
{
    uint8_t b[8];

    for (unsigned i = 0; i < width; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    rowbin_put(o, b, width);
}

/* An unsigned LEB128: the length of a String or an Array. */
static inline void
rowbin_varint(struct rowbin *o, uint64_t v)
{
    uint8_t b[10];

    rowbin_put(o, b, varint_put(b, v));
}

/* A String of n bytes. */
static inline void
rowbin_str(struct rowbin *o, const void *p, size_t n)
{
    rowbin_varint(o, n);
    rowbin_put(o, p, n);
}

static inline void
rowbin_double(struct rowbin *o, double d)
{
    uint64_t v;

    memcpy(&v, &d, sizeof(v));
    rowbin_le(o, v, 8);
}

/* An address as two UInt64, big-endian halves (IPv4 as ::ffff:a.b.c.d). */
static inline void
rowbin_addr(struct rowbin *o, const struct addr *a)
{
    uint64_t hi = 0, lo = 0;

    for (int i = 0; i < 8; i++) {
        hi = hi << 8 | a->b[i];
        lo = lo << 8 | a->b[8 + i];
    }
    rowbin_le(o, hi, 8);
    rowbin_le(o, lo, 8);
}

static inline void
rowbin_fini(struct rowbin *o)
{
    free(o->b);
    o->b = NULL;
    o->len = o->cap = 0;
}

#endif
