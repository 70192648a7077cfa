/*
 * Top values by weight: a group's source addresses, source ports or
 * destination addresses with most packets (the drill-down of issue 7).
 *
 * A list of at most max entries.  While it has seen no more distinct
 * values than max it is exact: every value with its true count.  It starts
 * with room for one entry and doubles up to max, so a group with one source
 * holds one entry.  Past max it is a Space-Saving summary (Metwally,
 * Agrawal and El Abbadi, "Efficient computation of frequent and top-k
 * elements in data streams", ICDT 2005), weighted: a new value replaces
 * the entry with the smallest count c and starts at c plus its weight,
 * with error c.  Then, with N the total weight seen:
 *   - a listed value's true count is in [count - err, count];
 *   - a value left out has a true count of at most the smallest count, so
 *     every value with a true count above N / max is listed.
 *
 * Values are 64-bit keys: ports, or addr_value() of an address.  An IPv4
 * address's key holds the address; an IPv6 key is a hash, so the list keeps
 * the address beside it (topk_add_addr()).
 *
 * Not thread safe.  Every pointer member is owned.
 */
#ifndef DS_TOPK_H
#define DS_TOPK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds/addr.h"

#define TOPK_MAX 4096           /* entries; the index has 16-bit entry numbers and mask */
#define TOPK_SCAN 64            /* up to this many entries: no index, a scan of the keys */

/* One entry, as topk_top() gives it. */
struct topk_entry {
    uint64_t key;
    uint64_t count;             /* an upper bound of the true count */
    uint64_t err;               /* count - err is a lower bound */
};

/*
 * The entries are three arrays (keys, counts, errors) in one block with
 * the index and the minima: a miss scans keys alone, 8 to a cache line.
 * While cap is 1 the arrays are inl, inside the struct, which therefore
 * must not be copied.  Small, as every group of an open slot has three.
 */
struct topk {
    uint64_t *key;              /* the block (or inl): cap keys, cap counts, cap errors, ... */
    struct addr *v6;            /* cap addresses, for IPv6 keys; NULL until one */
    uint64_t inl[3];            /* key, count and error while cap is 1 */
    uint64_t min_count;
    /*
     * A value not listed has a true count of at most floor: 0 while none
     * was ever left out; the largest count replaced or dropped since.
     */
    uint64_t floor;
    uint16_t n;
    uint16_t cap;
    uint16_t max;
    uint16_t last;              /* entry of the value added last */
    uint16_t n_mins;
    uint16_t imask;             /* index slots - 1, 0 without an index */
};

/* The counts and errors follow the keys. */
static inline uint64_t *
topk_count(const struct topk *t)
{
    return t->key + t->cap;
}

static inline uint64_t *
topk_err(const struct topk *t)
{
    return t->key + 2 * (size_t)t->cap;
}

/* Bytes of the tags of a block of cap entries without an index: 16 at least, for SSE2. */
static inline uint32_t
topk_tag_bytes(uint32_t cap)
{
    return (cap + 15) & ~15u;
}

/* The index (entry + 1, 0 empty) follows the errors beyond TOPK_SCAN entries; else NULL. */
static inline uint16_t *
topk_index(const struct topk *t)
{
    return t->imask ? (uint16_t *)(void *)(t->key + 3 * (size_t)t->cap) : NULL;
}

/*
 * Without an index, a block's errors are followed by a byte per entry, a
 * tag of its key (topk_tag()): a miss compares 16 tags at a time, one
 * cache line for 64 entries where the keys take eight.
 */
static inline uint8_t *
topk_tags(const struct topk *t)
{
    return (uint8_t *)(void *)(t->key + 3 * (size_t)t->cap);
}

static inline uint8_t
topk_tag(uint64_t key)
{
    return (uint8_t)((key * 0x9E3779B97F4A7C15ULL) >> 56);
}

/* The entries at min_count at the last scan, last in the block when full. */
static inline uint16_t *
topk_mins(const struct topk *t)
{
    return (uint16_t *)(void *)((uint8_t *)(void *)(t->key + 3 * (size_t)t->cap) +
                                (t->imask ? (t->imask + 1u) * sizeof(uint16_t)
                                          : topk_tag_bytes(t->cap)));
}

static inline bool
topk_is_v6_key(uint64_t key)
{
    return key >> 63 != 0;
}

static inline uint32_t
topk_slot(uint64_t key, uint32_t mask)
{
    return (uint32_t)((key * 0x9E3779B97F4A7C15ULL) >> 40) & mask;
}

/* Brings the memory an add of key touches towards the cache. */
static inline void
topk_prefetch(const struct topk *t, uint64_t key)
{
    __builtin_prefetch(&t->key[t->last]);
    if (t->imask != 0)
        __builtin_prefetch(&topk_index(t)[topk_slot(key, t->imask)]);
    else if (t->n > 8)
        __builtin_prefetch(topk_tags(t));
}

/* max: capacity, 1 to TOPK_MAX. */
void topk_init(struct topk *t, uint32_t max);
void topk_fini(struct topk *t);
void topk_add_slow(struct topk *t, uint64_t key, uint64_t w, const struct addr *a);

/*
 * Adds weight w (0 adds nothing) to key, a port or an IPv4 address's key;
 * an IPv6 address goes through topk_add_addr().  The common case, a repeat
 * of the previous value, inline.
 */
static inline void
topk_add(struct topk *t, uint64_t key, uint64_t w)
{
    if (w == 0)
        return;
    if (t->n > 0 && t->key[t->last] == key)
        topk_count(t)[t->last] += w;
    else
        topk_add_slow(t, key, w, NULL);
}

/* Adds weight w to address a, whose key is addr_value(a). */
static inline void
topk_add_addr(struct topk *t, uint64_t key, const struct addr *a, uint64_t w)
{
    if (!topk_is_v6_key(key))
        topk_add(t, key, w);
    else if (w > 0)
        topk_add_slow(t, key, w, a);
}

/*
 * Adds a value's whole count, total, counted elsewhere (a cluster's shards)
 * and given once; a (may be NULL) its address if the key is IPv6's.  A
 * list given every value so keeps the largest exactly, whatever their
 * order: a value replaces the smallest entry only if it has more, with no
 * error, and the floor is the largest count left out.
 */
void topk_add_total(struct topk *t, uint64_t key, uint64_t total, const struct addr *a);
/*
 * Merges src into dst (Metwally's summaries are mergeable): counts of a
 * value add; a value missing from a side that left values out gets that
 * side's floor, as error; the max largest are kept (max: dst's, or src's
 * if dst is empty).  Both exact and together within max: still exact.
 */
void topk_merge(struct topk *dst, const struct topk *src);

/*
 * The largest entries, most first (ties: the smaller key), at most max of
 * them, into out; addrs (may be NULL) gets the address of each.  *err: the
 * largest error among them; *exact: their counts are true and no value
 * left out has more than the last of them.  Returns how many.
 */
size_t topk_top(const struct topk *t, struct topk_entry *out, struct addr *addrs, size_t max,
                bool *exact, uint64_t *err);
/* The address an entry's key stands for (IPv4 keys decoded, IPv6 kept). */
void topk_addr_of(const struct topk *t, uint64_t key, struct addr *a);
/* Heap bytes held. */
size_t topk_memory(const struct topk *t);

/* Serialised form: bytes written (buf NULL: only counted). */
size_t topk_serialize(const struct topk *t, uint8_t *buf);
/* Into an initialised, empty t: bytes consumed, 0 if not valid. */
size_t topk_deserialize(struct topk *t, const uint8_t *buf, size_t len);

#endif
