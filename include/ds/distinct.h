/*
 * Counting distinct values: source addresses, destination addresses and
 * destination ports of a group (METHOD section 6).
 *
 * Two kinds of counter:
 *   - ports (values below 65536): a set, then a 65536-bit bitmap; always
 *     exact;
 *   - addresses (values from addr_value(), ds/hash.h): a set, exact up to
 *     DISTINCT_EXACT_MAX values.  When the IPv4 addresses fall in a few
 *     /16 blocks, as a darknet's destinations do, the set turns into one
 *     bitmap per /16 block and stays exact however many there are.  Past
 *     the set's limit otherwise, a HyperLogLog sketch of 2^16 registers read
 *     with Ertl's estimator (2017) takes over: standard error 0.41%, so an
 *     estimate is within 2% in all but about one case in a million, and
 *     distinct_is_estimate() says so.
 */
#ifndef DS_DISTINCT_H
#define DS_DISTINCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISTINCT_EXACT_MAX 12288
#define DISTINCT_INLINE 3
#define DISTINCT_HLL_P 16
#define DISTINCT_BLOCKS_MAX 16

enum distinct_mode {
    DISTINCT_EXACT = 0,
    DISTINCT_HLL = 1,
    DISTINCT_BITMAP = 2,    /* ports: 65536 bits */
    DISTINCT_BLOCKS = 3,    /* IPv4 addresses: a bitmap per /16 block, IPv6 in aux */
    DISTINCT_COUNTED = 4,   /* a stored exact set read for its count alone: n */
};

struct distinct_block;

struct distinct {
    uint64_t *tab;      /* owned; exact set (cap slots, of 32 bits when narrow),
                           HLL registers or port bitmap */
    uint32_t n;         /* values in the exact set */
    uint32_t cap;       /* table slots; 0 while the values are inline */
    uint64_t inl[DISTINCT_INLINE];
    uint64_t last;      /* the value added last, to skip repeats cheaply */
    struct distinct_block *blocks;  /* owned; BLOCKS mode */
    struct distinct *aux;           /* owned; BLOCKS mode: the IPv6 addresses */
    uint8_t mode;       /* enum distinct_mode */
    uint8_t ports;      /* values below 65536 */
    uint8_t has_zero;   /* 0 was added (the table cannot hold it) */
    uint8_t has_last;
    uint8_t n_blocks;
    /*
     * The exact table holds 32-bit entries while every value fits: ports,
     * or IPv4 addresses (their low 32 bits; 0.0.0.0 is held by v4_zero).
     * Half the memory of a busy group's set is half its cache misses.
     */
    uint8_t narrow;
    uint8_t v4_zero;
};

/* ports: the values are ports. */
void distinct_init(struct distinct *d, bool ports);
void distinct_fini(struct distinct *d);
void distinct_add_slow(struct distinct *d, uint64_t v);

/*
 * The common case inline: a repeat of the last value, or a value already in
 * (or a free slot of) an exact table that has room.
 */
static inline uint32_t
distinct_slot(uint64_t v, uint32_t cap)
{
    return (uint32_t)((v * 0x9E3779B97F4A7C15ULL) >> 32) & (cap - 1);
}

static inline void
distinct_add(struct distinct *d, uint64_t v)
{
    if (d->has_last && d->last == v)
        return;
    if (d->mode == DISTINCT_EXACT && d->cap > 0 && d->narrow && (uint32_t)v != 0 &&
        (d->ports || (v >> 32) == 0xffff)) {
        const uint32_t *t = (const uint32_t *)(const void *)d->tab;
        uint32_t x = (uint32_t)v, i = distinct_slot(x, d->cap);

        while (t[i] != 0) {
            if (t[i] == x) {
                d->last = v;
                d->has_last = 1;
                return;
            }
            i = (i + 1) & (d->cap - 1);
        }
    }
    distinct_add_slow(d, v);
}

/* The count: exact, or the HLL estimate rounded. */
uint64_t distinct_count(const struct distinct *d);
bool distinct_is_estimate(const struct distinct *d);
/* Adds every value of src into dst (union); src is borrowed. */
void distinct_merge(struct distinct *dst, const struct distinct *src);
/* Bytes of heap memory held (for tests and memory accounting). */
size_t distinct_memory(const struct distinct *d);

/* At least the size of the serialised form, cheaply. */
size_t distinct_serialize_bound(const struct distinct *d);
/* Serialised form: returns the bytes written to buf (NULL: the exact size, slowly). */
size_t distinct_serialize(const struct distinct *d, uint8_t *buf);
/* Returns bytes consumed, or 0 if buf is not a valid serialisation. */
size_t distinct_deserialize(struct distinct *d, const uint8_t *buf, size_t len);
/*
 * As distinct_deserialize(), for what is read only to be counted (a
 * drill-down's groups): an exact set's values are checked and skipped, not
 * put in a table, and d is DISTINCT_COUNTED, which distinct_count(),
 * distinct_is_estimate(), distinct_memory() and distinct_fini() take, and
 * nothing else (it dies on them).  Other kinds are read whole.
 */
size_t distinct_deserialize_count(struct distinct *d, const uint8_t *buf, size_t len);

#endif
