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

#define TOPK_MAX 65535          /* entry numbers are 16 bits */
#define TOPK_SCAN 8             /* up to this many entries: no index, a scan */

struct topk_entry {
    uint64_t key;
    uint64_t count;             /* an upper bound of the true count */
    uint64_t err;               /* count - err is a lower bound */
};

struct topk {
    struct topk_entry *e;       /* cap entries; NULL while cap <= 1 (inline) */
    struct addr *v6;            /* cap addresses, for IPv6 keys; NULL until one */
    uint16_t *index;            /* 2 * cap slots, entry + 1 or 0; NULL while cap <= TOPK_SCAN */
    uint16_t *heap;             /* 2 * max: min-heap of entries by count, then positions */
    struct topk_entry inl;      /* the entry while cap <= 1 */
    uint32_t n;
    uint32_t cap;
    uint32_t max;
    uint32_t last;              /* entry of the value added last */
    /*
     * A value not listed has a true count of at most floor: 0 while none
     * was ever left out; the largest count replaced or dropped since.
     */
    uint64_t floor;
};

static inline bool
topk_is_v6_key(uint64_t key)
{
    return key >> 63 != 0;
}

/* max: capacity, 1 to TOPK_MAX. */
void topk_init(struct topk *t, uint32_t max);
void topk_fini(struct topk *t);
void topk_add_slow(struct topk *t, uint64_t key, uint64_t w, const struct addr *a);
void topk_bump_slow(struct topk *t, uint32_t i);

static inline struct topk_entry *
topk_entries(struct topk *t)
{
    return t->cap > 1 ? t->e : &t->inl;
}

static inline const struct topk_entry *
topk_entries_const(const struct topk *t)
{
    return t->cap > 1 ? t->e : &t->inl;
}

/*
 * Adds weight w (0 adds nothing) to key, a port or an IPv4 address's key;
 * an IPv6 address goes through topk_add_addr().  The common case, a repeat
 * of the previous value, inline.
 */
static inline void
topk_add(struct topk *t, uint64_t key, uint64_t w)
{
    if (t->n > 0 && w > 0) {
        struct topk_entry *e = &topk_entries(t)[t->last];

        if (e->key == key) {
            e->count += w;
            if (t->heap != NULL)
                topk_bump_slow(t, t->last);
            return;
        }
    }
    if (w > 0)
        topk_add_slow(t, key, w, NULL);
}

/* Adds weight w to address a, whose key is addr_value(a). */
static inline void
topk_add_addr(struct topk *t, uint64_t key, const struct addr *a, uint64_t w)
{
    if (topk_is_v6_key(key)) {
        if (w > 0)
            topk_add_slow(t, key, w, a);
    } else {
        topk_add(t, key, w);
    }
}

/*
 * Merges src into dst (Metwally's summaries are mergeable): counts of a
 * value add; a value missing from a side that left values out gets that
 * side's smallest count, as error; the max largest are kept (max: the
 * larger of the two).  Both exact and together within max: still exact.
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
