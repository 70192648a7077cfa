/*
 * Space-Saving top lists (see ds/topk.h).
 *
 * Our implementation: keys, counts and errors in arrays of one block that
 * grows (1, 4, then doubling) up to max.  A value is found by scanning a
 * byte of tag per key, sixteen a step (SSE2), while there are at most
 * TOPK_SCAN entries (the defaults never need more), through an
 * open-addressing index of entry numbers in the same block beyond: in a
 * darknet's churn of new values a hash probe mispredicts where a scan
 * streams, and the tags of 64 entries are one cache line.  The entry to
 * replace comes from a scan of the counts that collects every entry at the
 * minimum (see min_entry()): an exact list never pays for it, and an
 * increment costs nothing.  Metwally's bucket list, whose O(1) step
 * assumes increments of one, does not fit packet weights; a heap would
 * sift on every increment.
 */
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "ds/topk.h"
#include "ds/varint.h"
#include "ds/xmem.h"

static uint32_t
index_size(uint32_t cap)
{
    uint32_t s = 16;

    while (s < 2 * cap)
        s *= 2;
    return s;
}

static void
point_inline(struct topk *t)
{
    t->key = t->inl;
}

void
topk_init(struct topk *t, uint32_t max)
{
    memset(t, 0, sizeof(*t));
    t->max = max < 1 ? 1 : max > TOPK_MAX ? TOPK_MAX : max;
    t->cap = 1;
    point_inline(t);
}

void
topk_fini(struct topk *t)
{
    if (t->cap > 1)
        free(t->key);  /* the block: keys, counts, errors, index, minima */
    free(t->v6);
    t->v6 = NULL;
    t->imask = 0;
    t->n = 0;
    t->cap = 1;
    point_inline(t);
}

static void
index_insert(struct topk *t, uint64_t key, uint32_t i)
{
    uint16_t *idx = topk_index(t);
    uint32_t s = topk_slot(key, t->imask);

    while (idx[s] != 0)
        s = (s + 1) & t->imask;
    idx[s] = (uint16_t)(i + 1);
}

/* Backward-shift deletion: the probe sequences of the others stay whole. */
static void
index_remove(struct topk *t, uint64_t key)
{
    uint16_t *idx = topk_index(t);
    uint32_t mask = t->imask, j = topk_slot(key, mask), i;

    while (idx[j] == 0 || t->key[idx[j] - 1] != key)
        j = (j + 1) & mask;
    idx[j] = 0;
    for (i = (j + 1) & mask; idx[i] != 0; i = (i + 1) & mask) {
        uint32_t home = topk_slot(t->key[idx[i] - 1], mask);

        if (((i - home) & mask) >= ((i - j) & mask)) {
            idx[j] = idx[i];
            idx[i] = 0;
            j = i;
        }
    }
}

/* Entry i now holds key: its key, and its tag if the block has tags. */
static inline void
put_key(struct topk *t, uint32_t i, uint64_t key)
{
    t->key[i] = key;
    if (t->cap > 1 && t->imask == 0)
        topk_tags(t)[i] = topk_tag(key);
}

/* The entry holding key, or UINT32_MAX. */
static uint32_t
find(const struct topk *t, uint64_t key)
{
    const uint64_t *k = t->key;
    const uint16_t *idx = topk_index(t);

    if (t->cap == 1)
        return t->n > 0 && k[0] == key ? 0 : UINT32_MAX;
    if (t->imask == 0) {
        const uint8_t *tags = topk_tags(t);
        uint8_t tag = topk_tag(key);

        for (uint32_t base = 0; base < t->n; base += 16) {
            uint32_t m;

#ifdef __SSE2__
            m = (uint32_t)_mm_movemask_epi8(
                _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(tags + base)),
                               _mm_set1_epi8((char)tag)));
#else
            m = 0;
            for (uint32_t j = 0; j < 16; j++)
                m |= (uint32_t)(tags[base + j] == tag) << j;
#endif
            if (t->n - base < 16)
                m &= (1u << (t->n - base)) - 1;
            for (; m != 0; m &= m - 1) {
                uint32_t i = base + (uint32_t)__builtin_ctz(m);

                if (k[i] == key)
                    return i;
            }
        }
        return UINT32_MAX;
    }
    for (uint32_t s = topk_slot(key, t->imask); idx[s] != 0; s = (s + 1) & t->imask)
        if (k[idx[s] - 1] == key)
            return idx[s] - 1u;
    return UINT32_MAX;
}

/*
 * Bytes of the block for cap entries: three arrays, an index beyond
 * TOPK_SCAN or else tags, minima when full.
 */
static size_t
block_size(uint32_t cap, uint32_t max)
{
    return (size_t)cap * 3 * sizeof(uint64_t) +
           (cap > TOPK_SCAN ? index_size(cap) * sizeof(uint16_t) : topk_tag_bytes(cap)) +
           (cap == max ? max * sizeof(uint16_t) : 0);
}

/* One allocation per growth, and one region of memory per list. */
static void
grow(struct topk *t, uint32_t cap)
{
    uint64_t *b;

    if (cap > t->max)
        cap = t->max;
    if (cap <= t->cap)
        return;
    b = xmalloc(block_size(cap, t->max));
    memcpy(b, t->key, t->n * sizeof(*b));
    memcpy(b + cap, topk_count(t), t->n * sizeof(*b));
    memcpy(b + 2 * (size_t)cap, topk_err(t), t->n * sizeof(*b));
    if (t->cap > 1)
        free(t->key);
    t->key = b;
    t->n_mins = 0;
    if (t->v6 != NULL) {
        t->v6 = xreallocarray(t->v6, cap, sizeof(*t->v6));
        memset(t->v6 + t->cap, 0, (cap - t->cap) * sizeof(*t->v6));
    }
    t->cap = (uint16_t)cap;
    t->imask = cap > TOPK_SCAN ? (uint16_t)(index_size(cap) - 1) : 0;
    if (t->imask != 0) {
        memset(topk_index(t), 0, index_size(cap) * sizeof(uint16_t));
        for (uint32_t i = 0; i < t->n; i++)
            index_insert(t, t->key[i], i);
    } else {
        memset(topk_tags(t), 0, topk_tag_bytes(cap));
        for (uint32_t i = 0; i < t->n; i++)
            topk_tags(t)[i] = topk_tag(t->key[i]);
    }
}

static void
set_addr(struct topk *t, uint32_t i, const struct addr *a)
{
    if (a == NULL)
        return;
    if (t->v6 == NULL)
        t->v6 = xcalloc(t->cap, sizeof(*t->v6));
    t->v6[i] = *a;
}

/*
 * An entry with the smallest count.  One scan collects every entry at the
 * minimum; as counts only grow, each stays a minimum until it grows, and
 * replacements take them one by one.  In a darknet's long tail of values
 * seen once most entries tie at the minimum, so a scan serves many
 * replacements.
 */
static uint32_t
min_entry(struct topk *t)
{
    const uint64_t *c = topk_count(t);
    uint16_t *mins = topk_mins(t);
    uint64_t min = UINT64_MAX;
    uint32_t k = 0;

    while (t->n_mins > 0) {
        uint32_t i = mins[--t->n_mins];

        if (c[i] == t->min_count)
            return i;
    }
    /* two passes without a branch on the data: counts in churn mispredict */
    for (uint32_t i = 0; i < t->n; i++)
        min = c[i] < min ? c[i] : min;
    for (uint32_t i = 0; i < t->n; i++) {
        mins[k] = (uint16_t)i;
        k += c[i] == min;
    }
    t->min_count = min;
    t->n_mins = k - 1;
    return mins[k - 1];
}

/*
 * Entry i (a smallest) gives its place to key, with count and err; what it
 * counted is left out from now on, so the floor is at least that.
 */
static void
replace_entry(struct topk *t, uint32_t i, uint64_t key, uint64_t count, uint64_t err,
              const struct addr *a)
{
    if (topk_count(t)[i] > t->floor)
        t->floor = topk_count(t)[i];
    if (t->imask != 0)
        index_remove(t, t->key[i]);
    put_key(t, i, key);
    topk_count(t)[i] = count;
    topk_err(t)[i] = err;
    set_addr(t, i, a);
    if (t->imask != 0)
        index_insert(t, key, i);
    t->last = i;
}

void
topk_add_slow(struct topk *t, uint64_t key, uint64_t w, const struct addr *a)
{
    uint32_t i = find(t, key);

    if (i != UINT32_MAX) {
        topk_count(t)[i] += w;
        t->last = i;
        return;
    }
    if (t->n == t->cap && t->cap < t->max)
        grow(t, t->cap < 4 ? 4 : t->cap * 2);   /* 1, 4, 8, 16, ...: one malloc fewer */
    if (t->n < t->cap) {
        /* A value left out before may come back: it starts at the floor. */
        i = t->n++;
        put_key(t, i, key);
        topk_count(t)[i] = t->floor + w;
        topk_err(t)[i] = t->floor;
        set_addr(t, i, a);
        if (t->imask != 0)
            index_insert(t, key, i);
        t->last = i;
        return;
    }
    /* Full: the value replaces an entry with the smallest count, which it starts from. */
    i = t->cap > 1 ? min_entry(t) : 0;
    replace_entry(t, i, key, topk_count(t)[i] + w, topk_count(t)[i], a);
}

void
topk_add_total(struct topk *t, uint64_t key, uint64_t total, const struct addr *a)
{
    uint32_t i;

    if (total == 0)
        return;
    if (t->n < t->max || find(t, key) != UINT32_MAX) {
        topk_add_slow(t, key, total, a);
        return;
    }
    i = t->cap > 1 ? min_entry(t) : 0;
    if (total <= topk_count(t)[i]) {
        /* left out: no entry's count is below it, and this is its whole count */
        if (total > t->floor)
            t->floor = total;
        /*
         * The minimum stays one, for the next value: in a long tail most are
         * left out, and a scan of the counts for each would cost max apiece.
         */
        if (t->cap > 1)
            t->n_mins++;
        return;
    }
    replace_entry(t, i, key, total, 0, a);
}

/* ---- reading ---- */

void
topk_addr_of(const struct topk *t, uint64_t key, struct addr *a)
{
    uint32_t i;

    if (!topk_is_v6_key(key)) {
        addr_from_v4(a, (uint32_t)key);
        return;
    }
    i = find(t, key);
    if (i != UINT32_MAX && t->v6 != NULL)
        *a = t->v6[i];
    else
        memset(a, 0, sizeof(*a));
}

/* Most first, ties to the smaller key: the order of every output. */
static int
cmp_entry(const void *x, const void *y)
{
    const struct topk_entry *a = x, *b = y;

    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return a->key < b->key ? -1 : a->key > b->key;
}

/* Every entry, sorted, in an owned array (NULL if none). */
static struct topk_entry *
sorted(const struct topk *t)
{
    struct topk_entry *s;

    if (t->n == 0)
        return NULL;
    s = xcalloc(t->n, sizeof(*s));
    for (uint32_t i = 0; i < t->n; i++)
        s[i] = (struct topk_entry){t->key[i], topk_count(t)[i], topk_err(t)[i]};
    qsort(s, t->n, sizeof(*s), cmp_entry);
    return s;
}

size_t
topk_top(const struct topk *t, struct topk_entry *out, struct addr *addrs, size_t max,
         bool *exact, uint64_t *err)
{
    struct topk_entry *s = sorted(t);
    size_t k = t->n < max ? t->n : max;
    uint64_t e = 0;

    for (size_t i = 0; i < k; i++) {
        out[i] = s[i];
        if (s[i].err > e)
            e = s[i].err;
        if (addrs != NULL)
            topk_addr_of(t, s[i].key, &addrs[i]);
    }
    free(s);
    if (err != NULL)
        *err = e;
    if (exact != NULL)
        *exact = e == 0 && (t->floor == 0 || (k == max && k > 0 && out[k - 1].count >= t->floor));
    return k;
}

size_t
topk_memory(const struct topk *t)
{
    size_t m = 0;

    if (t->cap > 1)
        m += block_size(t->cap, t->max);
    if (t->v6 != NULL)
        m += t->cap * sizeof(*t->v6);
    return m;
}

/* ---- merging ---- */

/* An entry and its address, for merging. */
struct merged {
    struct topk_entry e;
    struct addr a;
};

static int
cmp_merged(const void *x, const void *y)
{
    return cmp_entry(&((const struct merged *)x)->e, &((const struct merged *)y)->e);
}

void
topk_merge(struct topk *dst, const struct topk *src)
{
    struct merged *all;
    uint64_t dfloor = dst->floor, sfloor = src->floor, floor;
    uint32_t n = 0, max, keep;

    if (src->n == 0 && src->floor == 0)
        return;
    /* An empty list takes the other's capacity (a new group's detail in a merge). */
    max = dst->n == 0 && dst->floor == 0 && src->max > dst->max ? src->max : dst->max;
    all = xcalloc((size_t)dst->n + src->n, sizeof(*all));
    /* dst's values, plus their count in src, or src's floor (their most there) */
    for (uint32_t i = 0; i < dst->n; i++) {
        uint32_t j = find(src, dst->key[i]);

        all[n].e.key = dst->key[i];
        all[n].e.count = topk_count(dst)[i] + (j != UINT32_MAX ? topk_count(src)[j] : sfloor);
        all[n].e.err = topk_err(dst)[i] + (j != UINT32_MAX ? topk_err(src)[j] : sfloor);
        topk_addr_of(dst, dst->key[i], &all[n].a);
        n++;
    }
    for (uint32_t j = 0; j < src->n; j++) {
        if (find(dst, src->key[j]) != UINT32_MAX)
            continue;
        all[n].e.key = src->key[j];
        all[n].e.count = topk_count(src)[j] + dfloor;
        all[n].e.err = topk_err(src)[j] + dfloor;
        topk_addr_of(src, src->key[j], &all[n].a);
        n++;
    }
    qsort(all, n, sizeof(*all), cmp_merged);
    keep = n < max ? n : max;
    /* A value in neither list has at most the two floors; one dropped here, its count. */
    floor = dfloor + sfloor;
    if (keep < n && all[keep].e.count > floor)
        floor = all[keep].e.count;
    topk_fini(dst);
    topk_init(dst, max);
    grow(dst, keep);
    for (uint32_t i = 0; i < keep; i++) {
        put_key(dst, i, all[i].e.key);
        topk_count(dst)[i] = all[i].e.count;
        topk_err(dst)[i] = all[i].e.err;
        if (topk_is_v6_key(all[i].e.key))
            set_addr(dst, i, &all[i].a);
        if (dst->imask != 0)
            index_insert(dst, all[i].e.key, i);
        dst->n++;
    }
    dst->floor = floor;
    free(all);
}

/* ---- serialisation: max, n, floor, then per entry key, count, err (+16 bytes if IPv6) ---- */

size_t
topk_serialize(const struct topk *t, uint8_t *buf)
{
    struct topk_entry *s = sorted(t);
    size_t pos = 0;

#define PUT(v) (pos += varint_put(buf ? buf + pos : NULL, (v)))
    PUT(t->max);
    PUT(t->n);
    PUT(t->floor);
    for (uint32_t i = 0; i < t->n; i++) {
        PUT(s[i].key);
        PUT(s[i].count);
        PUT(s[i].err);
        if (topk_is_v6_key(s[i].key)) {
            if (buf != NULL) {
                struct addr a;

                topk_addr_of(t, s[i].key, &a);
                memcpy(buf + pos, a.b, 16);
            }
            pos += 16;
        }
    }
#undef PUT
    free(s);
    return pos;
}

size_t
topk_deserialize(struct topk *t, const uint8_t *buf, size_t len)
{
    uint64_t max, n, floor, key, count, err;
    size_t pos = 0;

    if (varint_get(buf, len, &pos, &max) != 0 || max < 1 || max > TOPK_MAX ||
        varint_get(buf, len, &pos, &n) != 0 || n > max ||
        varint_get(buf, len, &pos, &floor) != 0)
        return 0;
    topk_fini(t);
    topk_init(t, (uint32_t)max);
    grow(t, (uint32_t)n);
    for (uint64_t i = 0; i < n; i++) {
        struct addr a;

        if (varint_get(buf, len, &pos, &key) != 0 || varint_get(buf, len, &pos, &count) != 0 ||
            varint_get(buf, len, &pos, &err) != 0 || err > count || count == 0 ||
            find(t, key) != UINT32_MAX)
            goto bad;
        if (topk_is_v6_key(key)) {
            if (len - pos < 16)
                goto bad;
            memcpy(a.b, buf + pos, 16);
            pos += 16;
            set_addr(t, (uint32_t)i, &a);
        }
        put_key(t, (uint32_t)i, key);
        topk_count(t)[i] = count;
        topk_err(t)[i] = err;
        if (t->imask != 0)
            index_insert(t, key, (uint32_t)i);
        t->n++;
    }
    t->floor = floor;
    return pos;
bad:
    topk_fini(t);
    topk_init(t, (uint32_t)max);
    return 0;
}
