/*
 * Space-Saving top lists (see ds/topk.h).
 *
 * Our implementation: entries in an array that doubles up to max; a value
 * is found by a scan while there are at most TOPK_SCAN entries, through an
 * open-addressing index of entry numbers beyond.  The min-heap that finds
 * the entry to replace is built only at the first replacement: an exact
 * list never pays for it.  Weighted Space-Saving needs the heap rather than
 * Metwally's bucket list, whose O(1) step assumes increments of one.
 */
#include <stdlib.h>
#include <string.h>

#include "ds/topk.h"
#include "ds/varint.h"
#include "ds/xmem.h"

static inline uint32_t
slot_of(uint64_t key, uint32_t mask)
{
    return (uint32_t)((key * 0x9E3779B97F4A7C15ULL) >> 40) & mask;
}

static uint32_t
index_size(uint32_t cap)
{
    uint32_t s = 16;

    while (s < 2 * cap)
        s *= 2;
    return s;
}

void
topk_init(struct topk *t, uint32_t max)
{
    memset(t, 0, sizeof(*t));
    t->max = max < 1 ? 1 : max > TOPK_MAX ? TOPK_MAX : max;
    t->cap = 1;
}

void
topk_fini(struct topk *t)
{
    if (t->cap > 1)
        free(t->e);
    free(t->v6);
    free(t->index);
    free(t->heap);
    t->e = NULL;
    t->v6 = NULL;
    t->index = NULL;
    t->heap = NULL;
    t->n = 0;
}

static uint32_t
index_mask(const struct topk *t)
{
    return index_size(t->cap) - 1;
}

static void
index_insert(struct topk *t, uint64_t key, uint32_t i)
{
    uint32_t mask = index_mask(t), s = slot_of(key, mask);

    while (t->index[s] != 0)
        s = (s + 1) & mask;
    t->index[s] = (uint16_t)(i + 1);
}

/* Backward-shift deletion: the probe sequences of the others stay whole. */
static void
index_remove(struct topk *t, uint64_t key)
{
    const struct topk_entry *e = t->e;
    uint32_t mask = index_mask(t), j = slot_of(key, mask), i;

    while (t->index[j] == 0 || e[t->index[j] - 1].key != key)
        j = (j + 1) & mask;
    t->index[j] = 0;
    for (i = (j + 1) & mask; t->index[i] != 0; i = (i + 1) & mask) {
        uint32_t home = slot_of(e[t->index[i] - 1].key, mask);

        if (((i - home) & mask) >= ((i - j) & mask)) {
            t->index[j] = t->index[i];
            t->index[i] = 0;
            j = i;
        }
    }
}

static void
index_rebuild(struct topk *t)
{
    free(t->index);
    t->index = NULL;
    if (t->cap <= TOPK_SCAN)
        return;
    t->index = xcalloc(index_size(t->cap), sizeof(*t->index));
    for (uint32_t i = 0; i < t->n; i++)
        index_insert(t, t->e[i].key, i);
}

/* The entry holding key, or UINT32_MAX. */
static uint32_t
find(const struct topk *t, uint64_t key)
{
    const struct topk_entry *e = topk_entries_const(t);

    if (t->index == NULL) {
        for (uint32_t i = 0; i < t->n; i++)
            if (e[i].key == key)
                return i;
        return UINT32_MAX;
    }
    for (uint32_t mask = index_mask(t), s = slot_of(key, mask); t->index[s] != 0;
         s = (s + 1) & mask)
        if (e[t->index[s] - 1].key == key)
            return t->index[s] - 1u;
    return UINT32_MAX;
}

static void
grow(struct topk *t, uint32_t cap)
{
    if (cap > t->max)
        cap = t->max;
    if (cap <= t->cap)
        return;
    if (t->cap <= 1) {
        t->e = xcalloc(cap, sizeof(*t->e));
        t->e[0] = t->inl;
    } else {
        t->e = xreallocarray(t->e, cap, sizeof(*t->e));
    }
    if (t->v6 != NULL) {
        t->v6 = xreallocarray(t->v6, cap, sizeof(*t->v6));
        memset(t->v6 + t->cap, 0, (cap - t->cap) * sizeof(*t->v6));
    }
    t->cap = cap;
    index_rebuild(t);
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

/* ---- the heap: heap[0..n) entry numbers by count, heap[max + i] entry i's position ---- */

static inline uint64_t
hcount(const struct topk *t, uint32_t pos)
{
    return t->e[t->heap[pos]].count;
}

static void
heap_set(struct topk *t, uint32_t pos, uint32_t i)
{
    t->heap[pos] = (uint16_t)i;
    t->heap[t->max + i] = (uint16_t)pos;
}

static void
sift_down(struct topk *t, uint32_t pos)
{
    uint32_t i = t->heap[pos];
    uint64_t c = t->e[i].count;

    for (;;) {
        uint32_t l = 2 * pos + 1, m;

        if (l >= t->n)
            break;
        m = l + 1 < t->n && hcount(t, l + 1) < hcount(t, l) ? l + 1 : l;
        if (hcount(t, m) >= c)
            break;
        heap_set(t, pos, t->heap[m]);
        pos = m;
    }
    heap_set(t, pos, i);
}

static void
heap_build(struct topk *t)
{
    t->heap = xcalloc(2 * (size_t)t->max, sizeof(*t->heap));
    for (uint32_t i = 0; i < t->n; i++)
        heap_set(t, i, i);
    for (uint32_t p = t->n / 2; p-- > 0;)
        sift_down(t, p);
}

static void
heap_drop(struct topk *t)
{
    free(t->heap);
    t->heap = NULL;
}

/* Entry i's count grew: it moves towards the leaves. */
void
topk_bump_slow(struct topk *t, uint32_t i)
{
    sift_down(t, t->heap[t->max + i]);
}

/* ---- adding ---- */

void
topk_add_slow(struct topk *t, uint64_t key, uint64_t w, const struct addr *a)
{
    struct topk_entry *e;
    uint32_t i = find(t, key);

    if (i != UINT32_MAX) {
        topk_entries(t)[i].count += w;
        t->last = i;
        if (t->heap != NULL)
            topk_bump_slow(t, i);
        return;
    }
    if (t->n == t->cap && t->cap < t->max)
        grow(t, t->cap * 2);
    e = topk_entries(t);
    if (t->n < t->cap) {
        /* A value left out before may come back: it starts at the floor. */
        i = t->n++;
        e[i].key = key;
        e[i].count = t->floor + w;
        e[i].err = t->floor;
        set_addr(t, i, a);
        if (t->index != NULL)
            index_insert(t, key, i);
        t->last = i;
        if (t->heap != NULL)
            heap_drop(t);
        return;
    }
    /* Full: the value replaces the entry with the smallest count. */
    if (t->heap == NULL)
        heap_build(t);
    i = t->heap[0];
    if (e[i].count > t->floor)
        t->floor = e[i].count;
    if (t->index != NULL)
        index_remove(t, e[i].key);
    e[i].err = e[i].count;
    e[i].count += w;
    e[i].key = key;
    set_addr(t, i, a);
    if (t->index != NULL)
        index_insert(t, key, i);
    t->last = i;
    sift_down(t, 0);
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
    memcpy(s, topk_entries_const(t), t->n * sizeof(*s));
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
        m += t->cap * sizeof(*t->e);
    if (t->v6 != NULL)
        m += t->cap * sizeof(*t->v6);
    if (t->index != NULL)
        m += index_size(t->cap) * sizeof(*t->index);
    if (t->heap != NULL)
        m += 2 * (size_t)t->max * sizeof(*t->heap);
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
    const struct topk_entry *se = topk_entries_const(src), *de = topk_entries_const(dst);
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
        uint32_t j = find(src, de[i].key);

        all[n].e = de[i];
        all[n].e.count += j != UINT32_MAX ? se[j].count : sfloor;
        all[n].e.err += j != UINT32_MAX ? se[j].err : sfloor;
        topk_addr_of(dst, de[i].key, &all[n].a);
        n++;
    }
    for (uint32_t j = 0; j < src->n; j++) {
        if (find(dst, se[j].key) != UINT32_MAX)
            continue;
        all[n].e = se[j];
        all[n].e.count += dfloor;
        all[n].e.err += dfloor;
        topk_addr_of(src, se[j].key, &all[n].a);
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
        topk_entries(dst)[i] = all[i].e;
        if (topk_is_v6_key(all[i].e.key))
            set_addr(dst, i, &all[i].a);
        if (dst->index != NULL)
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
            if (buf != NULL)
                topk_addr_of(t, s[i].key, (struct addr *)(void *)(buf + pos));
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
        struct topk_entry *e = topk_entries(t);
        struct addr a;

        if (varint_get(buf, len, &pos, &key) != 0 || varint_get(buf, len, &pos, &count) != 0 ||
            varint_get(buf, len, &pos, &err) != 0 || err > count || find(t, key) != UINT32_MAX)
            goto bad;
        if (topk_is_v6_key(key)) {
            if (len - pos < 16)
                goto bad;
            memcpy(&a, buf + pos, 16);
            pos += 16;
            set_addr(t, (uint32_t)i, &a);
        }
        e[i].key = key;
        e[i].count = count;
        e[i].err = err;
        if (t->index != NULL)
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
