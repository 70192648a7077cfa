/*
 * Distinct counting (see ds/distinct.h).
 *
 * Our implementation:
 *   1. up to DISTINCT_INLINE values live in the struct itself: most groups
 *      of a darknet have one or two sources, and need no allocation;
 *   2. then an open-addressing set of 64-bit values with linear probing,
 *      doubled at 3/4 load; 0 marks an empty slot, so the value 0 is held
 *      by a flag.  The slot is the value times a 64-bit odd constant, top
 *      bits (Fibonacci hashing), which spreads raw addresses and ports;
 *   3. each time an address set would double, it checks whether its IPv4
 *      values fit in at most DISTINCT_BLOCKS_MAX /16 blocks whose bitmaps
 *      (8 KiB each) take no more room than the doubled table: then it turns
 *      into block bitmaps, exact for good, IPv6 values going to an auxiliary
 *      counter;
 *   4. past DISTINCT_EXACT_MAX values, or a block too many, an address set
 *      becomes a HyperLogLog sketch (p = 16, one byte per register, fed with
 *      hash_mix64 of the value) and a port set a 65536-bit bitmap.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ds/addr.h"
#include "ds/distinct.h"
#include "ds/hash.h"
#include "ds/log.h"
#include "ds/varint.h"
#include "ds/xmem.h"

#define HLL_M (1u << DISTINCT_HLL_P)
#define HLL_Q (64 - DISTINCT_HLL_P)
#define BITMAP_WORDS (65536 / 64)
#define PORTS_TO_BITMAP 2048
#define V4_TAG 0xffff00000000ULL

struct distinct_block {
    uint16_t id;                /* the /16: upper half of the IPv4 address */
    uint64_t bits[BITMAP_WORDS];
};

static inline bool
is_v4_value(uint64_t v)
{
    return (v >> 32) == 0xffff;
}

void
distinct_init(struct distinct *d, bool ports)
{
    memset(d, 0, sizeof(*d));
    d->ports = ports;
    d->narrow = 1;
}

/* Can v be held in a narrow (32-bit) table? */
static inline bool
fits_narrow(const struct distinct *d, uint64_t v)
{
    return d->ports || is_v4_value(v);
}

static inline uint64_t
from_narrow(const struct distinct *d, uint32_t x)
{
    return d->ports ? x : V4_TAG | x;
}

void
distinct_fini(struct distinct *d)
{
    free(d->tab);
    free(d->blocks);
    if (d->aux != NULL) {
        distinct_fini(d->aux);
        free(d->aux);
    }
    d->tab = NULL;
    d->blocks = NULL;
    d->aux = NULL;
    d->cap = 0;
    d->n = 0;
    d->n_blocks = 0;
}

/* Puts v in a table of cap entries (narrow: 32 bits); returns 1 if it was new. */
static int
table_put(uint64_t *tab, uint32_t cap, bool narrow, uint64_t v)
{
    if (narrow) {
        uint32_t *t = (uint32_t *)(void *)tab, x = (uint32_t)v, i = distinct_slot(x, cap);

        while (t[i] != 0) {
            if (t[i] == x)
                return 0;
            i = (i + 1) & (cap - 1);
        }
        t[i] = x;
        return 1;
    } else {
        uint32_t i = distinct_slot(v, cap);

        while (tab[i] != 0) {
            if (tab[i] == v)
                return 0;
            i = (i + 1) & (cap - 1);
        }
        tab[i] = v;
        return 1;
    }
}

static void
hll_add(uint8_t *regs, uint64_t h)
{
    uint32_t idx = (uint32_t)(h >> HLL_Q);
    uint64_t w = h << DISTINCT_HLL_P;
    uint8_t rho = w ? (uint8_t)(__builtin_clzll(w) + 1) : HLL_Q + 1;

    if (rho > HLL_Q + 1)
        rho = HLL_Q + 1;
    if (regs[idx] < rho)
        regs[idx] = rho;
}

/*
 * The exact values of d but 0, inline ones and 0.0.0.0 included, one at a
 * time: *pos starts at 0, and false says they are all given.  Inline: the
 * loops over a busy group's set at every growth of its table (rehash(),
 * scan_blocks()) pay no call per value.
 */
static inline bool
next_exact(const struct distinct *d, uint32_t *pos, uint64_t *v)
{
    uint32_t end = d->cap == 0 ? d->n : d->cap;

    while (*pos < end) {
        uint32_t i = (*pos)++;

        if (d->cap == 0) {
            *v = d->inl[i];
            return true;
        }
        if (d->narrow) {
            uint32_t x = ((const uint32_t *)(const void *)d->tab)[i];

            if (x != 0) {
                *v = from_narrow(d, x);
                return true;
            }
        } else if (d->tab[i] != 0) {
            *v = d->tab[i];
            return true;
        }
    }
    if (*pos == end && d->v4_zero) {
        (*pos)++;
        *v = V4_TAG;
        return true;
    }
    return false;
}

/* Every exact value through fn (see next_exact()). */
static void
for_each_exact(const struct distinct *d, void (*fn)(void *, uint64_t), void *ctx)
{
    uint64_t v;

    for (uint32_t pos = 0; next_exact(d, &pos, &v);)
        fn(ctx, v);
}

/* Every value of a non-HLL counter through fn (zero included). */
static void
for_each_value(const struct distinct *d, void (*fn)(void *, uint64_t), void *ctx)
{
    if (d->mode == DISTINCT_EXACT) {
        for_each_exact(d, fn, ctx);
    } else if (d->mode == DISTINCT_BITMAP) {
        /* bit 0 is the truth for 0 here: it may have been added after the bitmap */
        for (uint32_t w = 0; w < BITMAP_WORDS; w++)
            for (uint64_t bits = d->tab[w]; bits; bits &= bits - 1)
                fn(ctx, w * 64 + (uint64_t)__builtin_ctzll(bits));
        return;
    } else if (d->mode == DISTINCT_BLOCKS) {
        for (uint8_t b = 0; b < d->n_blocks; b++)
            for (uint32_t w = 0; w < BITMAP_WORDS; w++)
                for (uint64_t bits = d->blocks[b].bits[w]; bits; bits &= bits - 1)
                    fn(ctx, V4_TAG | (uint64_t)d->blocks[b].id << 16 |
                                (w * 64 + (uint64_t)__builtin_ctzll(bits)));
        if (d->aux != NULL)
            for_each_value(d->aux, fn, ctx);
    }
    if (d->has_zero)
        fn(ctx, 0);
}

static void
to_hll_cb(void *ctx, uint64_t v)
{
    hll_add(ctx, hash_mix64(v));
}

static void
to_bitmap_cb(void *ctx, uint64_t v)
{
    uint64_t *bits = ctx;

    bits[(v & 0xffff) >> 6] |= 1ULL << (v & 63);
}

/* Any address counter into a HyperLogLog sketch. */
static void
to_hll(struct distinct *d)
{
    uint8_t *regs;
    struct distinct old = *d;

    if (d->mode == DISTINCT_HLL)
        return;
    regs = xcalloc(HLL_M, 1);
    for_each_value(&old, to_hll_cb, regs);
    if (old.aux != NULL && old.aux->mode == DISTINCT_HLL) {
        const uint8_t *a = (const uint8_t *)(const void *)old.aux->tab;

        for (uint32_t i = 0; i < HLL_M; i++)
            if (regs[i] < a[i])
                regs[i] = a[i];
    }
    distinct_fini(&old);
    d->tab = (uint64_t *)(void *)regs;
    d->blocks = NULL;
    d->aux = NULL;
    d->n_blocks = 0;
    d->cap = 0;
    d->n = 0;
    d->has_zero = 0;
    d->v4_zero = 0;
    d->mode = DISTINCT_HLL;
}

static void
to_port_bitmap(struct distinct *d)
{
    uint64_t *bits = xcalloc(BITMAP_WORDS, sizeof(uint64_t));

    for_each_value(d, to_bitmap_cb, bits);
    free(d->tab);
    d->tab = bits;
    d->cap = 0;
    d->n = 0;
    d->v4_zero = 0;
    d->mode = DISTINCT_BITMAP;
}

static void block_add(struct distinct *d, uint64_t v);

struct block_scan {
    uint16_t ids[DISTINCT_BLOCKS_MAX];
    unsigned n;
    bool too_many;
};

static void
scan_cb(void *ctx, uint64_t v)
{
    struct block_scan *s = ctx;
    uint16_t id;

    if (!is_v4_value(v) || s->too_many)
        return;
    id = (uint16_t)(v >> 16);
    for (unsigned i = 0; i < s->n; i++)
        if (s->ids[i] == id)
            return;
    if (s->n == DISTINCT_BLOCKS_MAX)
        s->too_many = true;
    else
        s->ids[s->n++] = id;
}

/*
 * scan_cb() over d's exact values, stopping at the seventeenth block:
 * sources from all over the Internet get there in a few values, and this
 * runs at every growth of their table.
 */
static void
scan_blocks(const struct distinct *d, struct block_scan *s)
{
    uint64_t v;

    for (uint32_t pos = 0; !s->too_many && next_exact(d, &pos, &v);)
        scan_cb(s, v);
}

static void
to_blocks_cb(void *ctx, uint64_t v)
{
    block_add(ctx, v);
}

/* 3. into block bitmaps, if the IPv4 values fit in few /16 blocks */
static bool
try_blocks(struct distinct *d, size_t table_bytes)
{
    struct block_scan scan = {{0}, 0, false};
    struct distinct old;

    scan_blocks(d, &scan);
    if (scan.too_many || scan.n == 0 || scan.n * sizeof(struct distinct_block) > table_bytes)
        return false;
    old = *d;
    d->tab = NULL;
    d->cap = 0;
    d->n = 0;
    d->v4_zero = 0;
    d->mode = DISTINCT_BLOCKS;
    d->blocks = xcalloc(scan.n, sizeof(struct distinct_block));
    for (unsigned i = 0; i < scan.n; i++)
        d->blocks[i].id = scan.ids[i];
    d->n_blocks = (uint8_t)scan.n;
    for_each_exact(&old, to_blocks_cb, d);
    free(old.tab);
    return true;
}

/* Puts v in the table rehash() builds. */
static inline void
rehash_put(uint64_t *tab, uint32_t cap, bool narrow, uint64_t v, uint32_t *n, uint8_t *v4_zero)
{
    if (narrow && (uint32_t)v == 0)
        *v4_zero = 1;
    else
        *n += (uint32_t)table_put(tab, cap, narrow, v);
}

/*
 * The exact set into a new table of cap entries, narrow or not: a loop of
 * its own (next_exact()), not for_each_exact()'s callback, for it runs at
 * every growth of a busy group's sources.
 */
static void
rehash(struct distinct *d, uint32_t cap, bool narrow)
{
    uint64_t *tab = xcalloc(cap, narrow ? sizeof(uint32_t) : sizeof(uint64_t));
    uint32_t n = 0;
    uint8_t v4_zero = 0;
    uint64_t v;

    for (uint32_t pos = 0; next_exact(d, &pos, &v);)
        rehash_put(tab, cap, narrow, v, &n, &v4_zero);
    free(d->tab);
    d->tab = tab;
    d->cap = cap;
    d->n = n;
    d->v4_zero = v4_zero;
    d->narrow = narrow;
}

static void
grow(struct distinct *d)
{
    /* Small sets grow four-fold: most groups stay small, and rehashing is the cost. */
    uint32_t cap = d->cap == 0 ? 32 : d->cap < 1024 ? d->cap * 4 : d->cap * 2;

    if (!d->ports && d->cap >= 256 && try_blocks(d, (size_t)cap * (d->narrow ? 4 : 8)))
        return;
    rehash(d, cap, d->narrow);
}

static void
block_add(struct distinct *d, uint64_t v)
{
    uint16_t id;
    uint8_t b;

    if (!is_v4_value(v)) {
        if (d->aux == NULL) {
            d->aux = xmalloc(sizeof(*d->aux));
            distinct_init(d->aux, false);
        }
        distinct_add(d->aux, v);
        return;
    }
    id = (uint16_t)(v >> 16);
    for (b = 0; b < d->n_blocks; b++)
        if (d->blocks[b].id == id)
            break;
    if (b == d->n_blocks) {
        if (d->n_blocks == DISTINCT_BLOCKS_MAX) {
            to_hll(d);
            hll_add((uint8_t *)(void *)d->tab, hash_mix64(v));
            return;
        }
        d->blocks = xreallocarray(d->blocks, d->n_blocks + 1u, sizeof(*d->blocks));
        memset(&d->blocks[b], 0, sizeof(d->blocks[b]));
        d->blocks[b].id = id;
        d->n_blocks++;
    }
    d->blocks[b].bits[(v & 0xffff) >> 6] |= 1ULL << (v & 63);
}

void
distinct_add_slow(struct distinct *d, uint64_t v)
{
    d->last = v;
    d->has_last = 1;
    switch (d->mode) {
    case DISTINCT_COUNTED:
        fatalx("distinct: a set read for its count alone cannot take values");
    case DISTINCT_HLL:
        hll_add((uint8_t *)(void *)d->tab, hash_mix64(v));
        return;
    case DISTINCT_BITMAP:
        d->tab[(v & 0xffff) >> 6] |= 1ULL << (v & 63);
        return;
    case DISTINCT_BLOCKS:
        if (v == 0)
            d->has_zero = 1;
        else
            block_add(d, v);
        return;
    default:
        break;
    }
    if (v == 0) {
        d->has_zero = 1;
        return;
    }
    if (d->cap == 0) {
        for (uint32_t i = 0; i < d->n; i++)
            if (d->inl[i] == v)
                return;
        if (d->narrow && !fits_narrow(d, v))
            d->narrow = 0;
        if (d->n < DISTINCT_INLINE) {
            d->inl[d->n++] = v;
            return;
        }
        grow(d);
        if (d->mode != DISTINCT_EXACT) {
            distinct_add_slow(d, v);
            return;
        }
    }
    if (d->narrow && !fits_narrow(d, v))
        rehash(d, d->cap, false);
    if (d->narrow && (uint32_t)v == 0) {
        /* 0.0.0.0: a narrow table cannot hold it */
        if (d->v4_zero)
            return;
        d->v4_zero = 1;
    } else if (!table_put(d->tab, d->cap, d->narrow, v)) {
        return;
    } else {
        d->n++;
    }
    if (d->n + d->has_zero + d->v4_zero > (d->ports ? PORTS_TO_BITMAP : DISTINCT_EXACT_MAX)) {
        if (d->ports)
            to_port_bitmap(d);
        else if (!try_blocks(d, (size_t)DISTINCT_BLOCKS_MAX * sizeof(struct distinct_block)))
            to_hll(d);
        return;
    }
    if (d->n * 4 >= d->cap * 3)
        grow(d);
}

/* Ertl, "New cardinality estimation algorithms for HyperLogLog sketches". */
static double
hll_sigma(double x)
{
    double y = 1, z = x, zp;

    if (x == 1)
        return INFINITY;
    do {
        x *= x;
        zp = z;
        z += x * y;
        y += y;
    } while (zp != z);
    return z;
}

static double
hll_tau(double x)
{
    double y = 1, z = 1 - x, zp;

    if (x == 0 || x == 1)
        return 0;
    do {
        x = sqrt(x);
        zp = z;
        y *= 0.5;
        z -= (1 - x) * (1 - x) * y;
    } while (zp != z);
    return z / 3;
}

static double
hll_estimate(const uint8_t *regs)
{
    uint32_t c[HLL_Q + 2] = {0};
    double m = HLL_M, z;

    for (uint32_t i = 0; i < HLL_M; i++)
        c[regs[i]]++;
    z = m * hll_tau(1.0 - c[HLL_Q + 1] / m);
    for (int k = HLL_Q; k >= 1; k--)
        z = 0.5 * (z + c[k]);
    z += m * hll_sigma(c[0] / m);
    return m * m / (2 * log(2)) / z;
}

static uint64_t
popcount_words(const uint64_t *w, size_t n)
{
    uint64_t c = 0;

    for (size_t i = 0; i < n; i++)
        c += (uint64_t)__builtin_popcountll(w[i]);
    return c;
}

uint64_t
distinct_count(const struct distinct *d)
{
    uint64_t n;

    switch (d->mode) {
    case DISTINCT_HLL:
        return (uint64_t)llround(hll_estimate((const uint8_t *)(const void *)d->tab));
    case DISTINCT_BITMAP:
        return popcount_words(d->tab, BITMAP_WORDS);
    case DISTINCT_BLOCKS:
        n = d->has_zero;
        for (uint8_t b = 0; b < d->n_blocks; b++)
            n += popcount_words(d->blocks[b].bits, BITMAP_WORDS);
        if (d->aux != NULL)
            n += distinct_count(d->aux);
        return n;
    case DISTINCT_COUNTED:
        return d->n;
    default:
        return d->n + d->has_zero + d->v4_zero;
    }
}

bool
distinct_is_estimate(const struct distinct *d)
{
    if (d->mode == DISTINCT_BLOCKS)
        return d->aux != NULL && distinct_is_estimate(d->aux);
    return d->mode == DISTINCT_HLL;
}

static void
merge_cb(void *ctx, uint64_t v)
{
    distinct_add_slow(ctx, v);
}

void
distinct_merge(struct distinct *dst, const struct distinct *src)
{
    if (dst->mode == DISTINCT_COUNTED || src->mode == DISTINCT_COUNTED)
        fatalx("distinct: a set read for its count alone cannot be merged");
    if (src->mode == DISTINCT_HLL || (src->mode == DISTINCT_BLOCKS && src->aux != NULL &&
                                      src->aux->mode == DISTINCT_HLL)) {
        const struct distinct *h = src->mode == DISTINCT_HLL ? src : src->aux;
        const uint8_t *b = (const uint8_t *)(const void *)h->tab;
        uint8_t *a;

        to_hll(dst);
        a = (uint8_t *)(void *)dst->tab;
        for (uint32_t i = 0; i < HLL_M; i++)
            if (a[i] < b[i])
                a[i] = b[i];
        if (src->mode == DISTINCT_BLOCKS) {
            /* the IPv4 part, value by value */
            struct distinct v4 = *src;

            v4.aux = NULL;
            v4.has_zero = 0;
            for_each_value(&v4, merge_cb, dst);
            if (src->has_zero)
                distinct_add_slow(dst, 0);
        }
        return;
    }
    for_each_value(src, merge_cb, dst);
}

size_t
distinct_memory(const struct distinct *d)
{
    switch (d->mode) {
    case DISTINCT_HLL:
        return HLL_M;
    case DISTINCT_BITMAP:
        return BITMAP_WORDS * 8;
    case DISTINCT_BLOCKS:
        return d->n_blocks * sizeof(struct distinct_block) +
               (d->aux ? sizeof(*d->aux) + distinct_memory(d->aux) : 0);
    default:
        return (size_t)d->cap * (d->narrow ? 4 : 8);
    }
}

static void
put_words(uint8_t *p, const uint64_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 8; b++)
            p[i * 8 + (size_t)b] = (uint8_t)(w[i] >> (8 * b));
}

static void
get_words(const uint8_t *p, uint64_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        w[i] = 0;
        for (int b = 7; b >= 0; b--)
            w[i] = w[i] << 8 | p[i * 8 + (size_t)b];
    }
}

struct collect_ctx {
    uint64_t *v;
    size_t n;
};

static void
collect_cb(void *ctx, uint64_t v)
{
    struct collect_ctx *c = ctx;

    c->v[c->n++] = v;
}

/*
 * Sorts v[0..n) ascending: insertion sort when short, else LSD radix sort
 * by bytes, skipping the byte positions where every value agrees (darknet
 * addresses share their high bytes).  qsort's callback cost four times as
 * much on the sets of a busy group.
 */
static void
sort_u64(uint64_t *v, size_t n)
{
    uint64_t *tmp, *from = v, *to, all_or = 0, all_and = ~(uint64_t)0;

    if (n < 64) {
        for (size_t i = 1; i < n; i++) {
            uint64_t x = v[i];
            size_t j = i;

            while (j > 0 && v[j - 1] > x) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        all_or |= v[i];
        all_and &= v[i];
    }
    tmp = xmalloc(n * sizeof(*v));
    to = tmp;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t count[256] = {0}, pos = 0;

        if ((((all_or ^ all_and) >> shift) & 0xff) == 0)
            continue;
        for (size_t i = 0; i < n; i++)
            count[(from[i] >> shift) & 0xff]++;
        for (int b = 0; b < 256; b++) {
            size_t c = count[b];

            count[b] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++)
            to[count[(from[i] >> shift) & 0xff]++] = from[i];
        {
            uint64_t *t = from;

            from = to;
            to = t;
        }
    }
    if (from != v)
        memcpy(v, from, n * sizeof(*v));
    free(tmp);
}

size_t
distinct_serialize_bound(const struct distinct *d)
{
    switch (d->mode) {
    case DISTINCT_HLL:
        return 8 + HLL_M;
    case DISTINCT_BITMAP:
        return 8 + BITMAP_WORDS * 8;
    case DISTINCT_BLOCKS:
        return 8 + d->n_blocks * (2 + BITMAP_WORDS * 8) +
               (d->aux ? distinct_serialize_bound(d->aux) : 0);
    default:
        return 8 + (size_t)d->n * 10;
    }
}

size_t
distinct_serialize(const struct distinct *d, uint8_t *buf)
{
    size_t n = 8;

    if (d->mode == DISTINCT_COUNTED)
        fatalx("distinct: a set read for its count alone cannot be written");

    if (buf != NULL) {
        buf[0] = d->mode;
        buf[1] = d->ports;
        buf[2] = d->has_zero;
        buf[3] = d->n_blocks;
        buf[4] = (uint8_t)d->n;
        buf[5] = (uint8_t)(d->n >> 8);
        buf[6] = (uint8_t)(d->n >> 16);
        buf[7] = (uint8_t)(d->n >> 24);
    }
    switch (d->mode) {
    case DISTINCT_HLL:
        if (buf != NULL)
            memcpy(buf + 8, d->tab, HLL_M);
        return n + HLL_M;
    case DISTINCT_BITMAP:
        if (buf != NULL)
            put_words(buf + 8, d->tab, BITMAP_WORDS);
        return n + BITMAP_WORDS * 8;
    case DISTINCT_BLOCKS:
        if (buf != NULL) {
            buf[4] = d->aux != NULL;
            buf[5] = buf[6] = buf[7] = 0;
        }
        for (uint8_t b = 0; b < d->n_blocks; b++) {
            if (buf != NULL) {
                buf[n] = (uint8_t)d->blocks[b].id;
                buf[n + 1] = (uint8_t)(d->blocks[b].id >> 8);
                put_words(buf + n + 2, d->blocks[b].bits, BITMAP_WORDS);
            }
            n += 2 + BITMAP_WORDS * 8;
        }
        if (d->aux != NULL)
            n += distinct_serialize(d->aux, buf ? buf + n : NULL);
        return n;
    default:
        break;
    }
    {
        uint64_t inl[DISTINCT_INLINE + 1];
        struct collect_ctx c = {d->cap ? xcalloc(d->n + 1, sizeof(uint64_t)) : inl, 0};
        uint64_t prev = 0;

        for_each_exact(d, collect_cb, &c);
        if (buf != NULL) {
            buf[4] = (uint8_t)c.n;
            buf[5] = (uint8_t)(c.n >> 8);
            buf[6] = (uint8_t)(c.n >> 16);
            buf[7] = (uint8_t)(c.n >> 24);
        }
        sort_u64(c.v, c.n);
        for (size_t i = 0; i < c.n; i++) {
            n += varint_put(buf ? buf + n : NULL, c.v[i] - prev);
            prev = c.v[i];
        }
        if (c.v != inl)
            free(c.v);
    }
    return n;
}

/* The count field of a serialisation's 8-byte header (bytes 4 to 7, little-endian). */
static uint32_t
header_n(const uint8_t *buf)
{
    return (uint32_t)buf[4] | (uint32_t)buf[5] << 8 | (uint32_t)buf[6] << 16 |
           (uint32_t)buf[7] << 24;
}

/*
 * The n values of an exact set's serialisation (from byte 8 of buf), into
 * d if not NULL: returns the position after them, or 0 unless they are n
 * increasing deltas that stay within 64 bits (and, of a port set, within
 * ports): so that no two of them are one value, and the count is n.
 */
static size_t
read_exact(const uint8_t *buf, size_t len, uint32_t n, bool ports, struct distinct *d)
{
    size_t pos = 8;
    uint64_t prev = 0;

    for (uint32_t i = 0; i < n; i++) {
        uint64_t delta;

        if (varint_get(buf, len, &pos, &delta) != 0 || delta == 0 || delta > UINT64_MAX - prev)
            return 0;
        prev += delta;
        if (ports && prev > 0xffff)
            return 0;
        if (d != NULL)
            distinct_add_slow(d, prev);
    }
    return pos;
}

size_t
distinct_deserialize(struct distinct *d, const uint8_t *buf, size_t len)
{
    uint32_t n;
    size_t pos = 8;

    if (len < 8 || buf[0] > DISTINCT_BLOCKS || buf[1] > 1 || buf[2] > 1)
        return 0;
    distinct_init(d, buf[1]);
    n = header_n(buf);
    d->has_zero = buf[2];
    switch (buf[0]) {
    case DISTINCT_HLL:
        if (len < 8 + HLL_M)
            return 0;
        for (uint32_t i = 0; i < HLL_M; i++)
            if (buf[8 + i] > HLL_Q + 1)
                return 0;
        d->tab = xmalloc(HLL_M);
        memcpy(d->tab, buf + 8, HLL_M);
        d->mode = DISTINCT_HLL;
        d->has_zero = 0;
        return 8 + HLL_M;
    case DISTINCT_BITMAP:
        if (len < 8 + BITMAP_WORDS * 8)
            return 0;
        d->tab = xcalloc(BITMAP_WORDS, 8);
        get_words(buf + 8, d->tab, BITMAP_WORDS);
        d->mode = DISTINCT_BITMAP;
        return 8 + BITMAP_WORDS * 8;
    case DISTINCT_BLOCKS:
        if (buf[3] == 0 || buf[3] > DISTINCT_BLOCKS_MAX || n > 1 ||
            len < 8 + (size_t)buf[3] * (2 + BITMAP_WORDS * 8))
            return 0;
        d->mode = DISTINCT_BLOCKS;
        d->n_blocks = buf[3];
        d->blocks = xcalloc(d->n_blocks, sizeof(*d->blocks));
        for (uint8_t b = 0; b < d->n_blocks; b++) {
            d->blocks[b].id = (uint16_t)(buf[pos] | buf[pos + 1] << 8);
            get_words(buf + pos + 2, d->blocks[b].bits, BITMAP_WORDS);
            pos += 2 + BITMAP_WORDS * 8;
        }
        if (n == 1) {
            size_t used;

            /* initialised: a short buffer returns before the nested init */
            d->aux = xmalloc(sizeof(*d->aux));
            distinct_init(d->aux, false);
            used = distinct_deserialize(d->aux, buf + pos, len - pos);
            if (used == 0 || d->aux->ports || d->aux->mode == DISTINCT_BLOCKS) {
                distinct_fini(d);
                return 0;
            }
            pos += used;
        }
        return pos;
    default:
        break;
    }
    if (n > DISTINCT_EXACT_MAX)
        return 0;
    d->has_zero = 0;
    pos = read_exact(buf, len, n, d->ports, d);
    if (pos == 0) {
        distinct_fini(d);
        return 0;
    }
    if (buf[2])
        distinct_add_slow(d, 0);
    d->has_last = 0;
    return pos;
}

size_t
distinct_deserialize_count(struct distinct *d, const uint8_t *buf, size_t len)
{
    uint32_t n;
    size_t pos;

    if (len < 8 || buf[0] != DISTINCT_EXACT || buf[1] > 1 || buf[2] > 1)
        return distinct_deserialize(d, buf, len);
    n = header_n(buf);
    if (n > DISTINCT_EXACT_MAX)
        return 0;
    pos = read_exact(buf, len, n, buf[1], NULL);
    if (pos == 0)
        return 0;
    /* distinct values, none 0 (that one is buf[2]): what the set would count */
    distinct_init(d, buf[1]);
    d->mode = DISTINCT_COUNTED;
    d->n = n + buf[2];
    return pos;
}
