/*
 * Exact drill-down lists by reading a slot back (see ds/explain.h).
 *
 * Keeping top lists and minutes for every group of every open slot costs
 * the aggregation a quarter of its rate, and Space-Saving lists of bounded
 * size are not exact for a group of a thousand sources.  Only the groups
 * shown for unstable slots need them, and those are known once the slot is
 * judged: so the files holding such a slot are read again, and only the
 * flows of its shown groups are counted, exactly.
 *
 * Our implementation:
 *   1. every explained slot of every analysis (job) gets a table of its
 *      shown groups' keys;
 *   2. the slots are shared out, in time order, among readers (threads):
 *      each reads once every file that can hold one of its slots (its
 *      first and last flow start, widened for attribution spread) through
 *      ingest_file(), norm_record() and the darknet filter, as analyze
 *      reads it, for all analyses at once, and seeks past the stretches
 *      of the file that hold none of its slots (ds/explain.h's chunks);
 *   3. a flow's packets go to the slot of its start, or are divided as
 *      agg_split() divides them (spread); a part in an explained slot
 *      counts in the slot's total, and, if its key is a shown group's, in
 *      that group's minutes, and its source, source port and destination
 *      are appended to the group's three value lists with the packets;
 *   4. a slot's lists are sorted by value and summed (compacted) when the
 *      slot is done, and before, whenever they hold twice the distinct
 *      values they held after the last compaction, and at least
 *      drilldown.reread_values: past that many distinct values, the group
 *      with the most loses its lists (lists = false) until the slot is
 *      within it, so memory stays bounded (by twice as many values);
 *   5. the summed lists become lists sorted as topk_top() sorts (most
 *      packets first, ties: the lower value), exact.
 * The caller compares each slot's total with the stored one: a difference
 * means some records of the slot were not in the files read (standard
 * input, an earlier run's file gone), and the lists are not trusted.
 */
#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ds/explain.h"
#include "ds/ingest.h"
#include "ds/log.h"
#include "ds/norm.h"
#include "ds/prefix.h"
#include "ds/proto.h"
#include "ds/slotcal.h"
#include "ds/tarena.h"
#include "ds/topk.h"
#include "ds/xmem.h"

#define READERS_MAX 8

/*
 * Packets per value (a port, or addr_value() of an address) of one of a
 * group's lists: each flow's value and packets are appended, and sorted
 * and summed by value when the slot is compacted.  Counting into hash
 * maps instead waited for a cache line at nearly every flow (two thirds of
 * reading back went to the maps of the big groups); appending and radix
 * sorting are sequential.  No flow of 0 packets is counted.
 *
 * Entries are 8 bytes (packets << 32 | the value's low 32 bits) for the
 * values whose upper 32 bits are the list's high (the IPv4 addresses' tag,
 * or 0 for ports) with packets that fit in 32 bits, as nearly always; the
 * others (IPv6 addresses, whose keys are hashes, their addresses kept
 * beside in v6; counts past 32 bits) are 16 bytes, in wide.  After a
 * compaction each value is in one entry of one of the two, and [0, n) of
 * each is sorted by value.
 */
#define V4_VALUES ((uint64_t)0xffff << 32)    /* addr_value()'s upper bits for IPv4 */

struct ventry {
    uint64_t key;
    uint64_t packets;
};

struct vlist {
    uint64_t *e;                /* narrow entries */
    struct ventry *w;           /* wide entries */
    uint32_t n, cap;            /* of e */
    uint32_t n_w, cap_w;        /* of w */
    uint64_t high;              /* upper 32 bits of the keys e takes */
    GHashTable *v6;             /* uint64 key -> struct addr (owned), NULL until one */
};

struct rr_group {
    const uint8_t *key;         /* borrowed from the result */
    struct vlist list[3];       /* sources, source ports, destinations */
    bool over;                  /* lists freed: past drilldown.reread_values */
    uint64_t *minutes;          /* inside the slot's x->minutes */
};

struct rr_slot {
    int64_t start, end;
    size_t idx;                 /* in the job's ex and out */
    struct explain_exact *x;    /* the result, being filled */
    struct rr_group *g;
    uint64_t *head;             /* the first 8 key bytes of each group: most flows differ there */
    size_t n_groups;
    uint64_t values;            /* entries held by the lists */
    uint64_t compact_at;        /* entries at which they are compacted next */
    struct tarena arena;        /* the lists' arrays */
    bool done;                  /* lists made, maps freed: the reader has passed it */
};


struct rr;

/* One analysis' share of a reader's slots. */
struct rr_an {
    struct rr *rr;
    const struct explain_reread_job *job;
    uint32_t bit;               /* 1 << its job's number: the files it reads */
    struct slotcal cal;
    struct rr_slot *s;          /* sorted by start */
    size_t n;
    size_t first_open;          /* slots before it are done */
    struct rr_slot *last;       /* the slot of the previous part: most flows go there too */
    bool active;                /* the file being read is one of this analysis' inputs */
    int64_t settle_ms;          /* a slot ending this long before the latest start is done */
    int64_t horizon_ms;         /* earliest flow start of its files still to read */
    uint8_t key[KEY_BYTES_MAX]; /* the packed key of the flow being counted */
};

/* An input of one or more jobs. */
struct rr_file {
    const struct explain_file *f;   /* borrowed from the first job that has it */
    uint32_t jobs;                  /* bit j: an input of job j */
};

/* A reader: a thread's share of the slots, and what it reads them with. */
struct rr {
    const struct ds_cfg *cfg;
    const struct rr_file *files;
    size_t n_files;
    struct rr_an *an;           /* one per job */
    size_t n_an;
    struct norm *norm;
    struct prefix_set *dark;
    struct tarena_pool pool;    /* for its slots' arenas */
    uint64_t *scratch;          /* owned: the radix sort's other half */
    size_t cap_scratch;
    uint64_t max_values;
    const struct flow *f;       /* the flow being counted */
    int64_t max_start_ms;       /* latest flow start read from the current file */
    /* the file being read: its chunks, and which to read */
    const struct explain_file *file;
    const bool *want;
    size_t chunk;
    const int *cancel;          /* set (atomically): stop reading; may be NULL */
    enum ds_rc rc;
    struct ds_error err;
    pthread_t thread;
    bool started;               /* thread runs reader_run() */
};

static bool
cancelled(const struct rr *rr)
{
    return rr->cancel != NULL && __atomic_load_n(rr->cancel, __ATOMIC_RELAXED) != 0;
}

void
explain_exact_free(struct explain_exact *x)
{
    if (x == NULL)
        return;
    free(x->groups);
    free(x->minutes);
    free(x);
}

static struct rr_slot *
slot_of(struct rr_an *an, int64_t start)
{
    size_t lo = 0, hi = an->n;

    if (an->last != NULL && an->last->start == start)
        return an->last;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (an->s[mid].start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < an->n && an->s[lo].start == start)
        return an->last = &an->s[lo];
    return NULL;
}

/* Room for a list's arrays: powers of two from 64 bytes, from the slot's arena. */
static void *
grow_array(struct tarena *a, void *old, uint32_t n, uint32_t *cap, size_t size)
{
    uint32_t c = *cap ? *cap * 2 : (uint32_t)(256 / size);
    void *p;

    if (*cap >= UINT32_MAX / 2)
        fatalx("reread: a list of %u values", n);
    p = tarena_alloc(a, (size_t)c * size);
    if (p == NULL)
        fatalx("reread: out of memory for a list of %u values", c);
    if (n > 0)
        memcpy(p, old, (size_t)n * size);
    if (*cap > 0)
        tarena_free(a, old, (size_t)*cap * size);
    *cap = c;
    return p;
}

/* A list for keys of upper bits high. */
static void
vlist_init(struct vlist *l, uint64_t high)
{
    memset(l, 0, sizeof(*l));
    l->high = high & ~(uint64_t)UINT32_MAX;
}

/* The list's memory back: its arrays to arena a (NULL: the arena is reset next). */
static void
vlist_fini(struct vlist *l, struct tarena *a)
{
    if (a != NULL && l->cap > 0)
        tarena_free(a, l->e, (size_t)l->cap * sizeof(*l->e));
    if (a != NULL && l->cap_w > 0)
        tarena_free(a, l->w, (size_t)l->cap_w * sizeof(*l->w));
    if (l->v6 != NULL)
        g_hash_table_destroy(l->v6);
    memset(l, 0, sizeof(*l));
}

/* Entries held: after a compaction, the distinct values. */
static uint64_t
vlist_held(const struct vlist *l)
{
    return (uint64_t)l->n + l->n_w;
}

static void
wide_add(struct vlist *l, struct tarena *a, uint64_t key, uint64_t packets)
{
    if (l->n_w == l->cap_w)
        l->w = grow_array(a, l->w, l->n_w, &l->cap_w, sizeof(*l->w));
    l->w[l->n_w].key = key;
    l->w[l->n_w++].packets = packets;
}

/* Appends packets (> 0) of value key (address a, or NULL: a port) to l. */
static inline void
vlist_add(struct vlist *l, struct tarena *arena, uint64_t key, const struct addr *a,
          uint64_t packets)
{
    if (key >> 32 == l->high >> 32 && packets <= UINT32_MAX) {
        if (l->n == l->cap)
            l->e = grow_array(arena, l->e, l->n, &l->cap, sizeof(*l->e));
        l->e[l->n++] = packets << 32 | (uint32_t)key;
        return;
    }
    if (a != NULL && topk_is_v6_key(key)) {
        if (l->v6 == NULL)
            l->v6 = g_hash_table_new_full(g_int64_hash, g_int64_equal, free, free);
        if (!g_hash_table_contains(l->v6, &key))
            g_hash_table_insert(l->v6, g_memdup2(&key, sizeof(key)), g_memdup2(a, sizeof(*a)));
    }
    wide_add(l, arena, key, packets);
}

/*
 * Sorts the n 8-byte words of v by their bits under mask (a byte at a
 * time, least first; bytes that are the same in every word are skipped),
 * with tmp of as many words.
 */
static void
radix_sort(uint64_t *v, uint64_t *tmp, size_t n, uint64_t mask)
{
    uint64_t all_or = 0, all_and = ~(uint64_t)0, *from = v, *to = tmp;

    for (size_t i = 0; i < n; i++) {
        all_or |= v[i];
        all_and &= v[i];
    }
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t count[256] = {0}, pos = 0;

        if ((((all_or ^ all_and) & mask) >> shift & 0xff) == 0)
            continue;
        for (size_t i = 0; i < n; i++)
            count[from[i] >> shift & 0xff]++;
        for (int b = 0; b < 256; b++) {
            size_t c = count[b];

            count[b] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++)
            to[count[from[i] >> shift & 0xff]++] = from[i];
        {
            uint64_t *t = from;

            from = to;
            to = t;
        }
    }
    if (from != v)
        memcpy(v, from, n * sizeof(*v));
}

static int
cmp_ventry(const void *x, const void *y)
{
    const struct ventry *a = x, *b = y;

    return a->key < b->key ? -1 : a->key > b->key;
}

/* The narrow entry of l (sorted) whose value's low 32 bits are key, or l->n. */
static uint32_t
narrow_find(const struct vlist *l, uint32_t key)
{
    uint32_t lo = 0, hi = l->n;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;

        if ((uint32_t)l->e[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < l->n && (uint32_t)l->e[lo] == key ? lo : l->n;
}

/*
 * Each value of l once, with its packets summed: the narrow entries
 * radix sorted by value, the wide ones (few) by qsort(); a narrow sum past
 * 32 bits, and a value that is also wide, end wide.  scratch: at least
 * l->n words.
 */
static void
vlist_compact(struct vlist *l, struct tarena *a, uint64_t *scratch)
{
    uint32_t k = 0, kw = 0;

    radix_sort(l->e, scratch, l->n, UINT32_MAX);
    for (uint32_t i = 0; i < l->n;) {
        uint32_t key = (uint32_t)l->e[i];
        uint64_t sum = 0;

        for (; i < l->n && (uint32_t)l->e[i] == key; i++)
            sum += l->e[i] >> 32;
        if (sum <= UINT32_MAX)
            l->e[k++] = sum << 32 | key;
        else
            wide_add(l, a, l->high | key, sum);
    }
    l->n = k;
    if (l->n_w > 0) {
        qsort(l->w, l->n_w, sizeof(*l->w), cmp_ventry);
        for (uint32_t i = 0; i < l->n_w;) {
            struct ventry v = l->w[i];

            for (i++; i < l->n_w && l->w[i].key == v.key; i++)
                v.packets += l->w[i].packets;
            l->w[kw++] = v;
        }
        l->n_w = kw;
        /* a value both narrow and wide (a flow of more than 2^32 packets): wide */
        for (uint32_t i = 0; i < l->n_w; i++) {
            uint32_t at;

            if (l->w[i].key >> 32 != l->high >> 32)
                continue;
            at = narrow_find(l, (uint32_t)l->w[i].key);
            if (at < l->n) {
                l->w[i].packets += l->e[at] >> 32;
                memmove(&l->e[at], &l->e[at + 1], (l->n - at - 1) * sizeof(*l->e));
                l->n--;
            }
        }
    }
}

static void
group_over(struct rr_slot *s, struct rr_group *g)
{
    for (int m = 0; m < 3; m++)
        vlist_fini(&g->list[m], &s->arena);
    g->over = true;
}

/* Scratch of at least n words for the radix sort. */
static uint64_t *
scratch_for(struct rr *rr, size_t n)
{
    if (rr->cap_scratch < n) {
        free(rr->scratch);
        rr->cap_scratch = n + n / 2;
        rr->scratch = xreallocarray(NULL, rr->cap_scratch, sizeof(*rr->scratch));
    }
    return rr->scratch;
}

/*
 * 4. every list of slot s summed by value; past max_values distinct values
 * the group with the most loses its lists, until the slot is within it.
 */
static void
slot_compact(struct rr *rr, struct rr_slot *s)
{
    uint64_t distinct = 0;

    for (size_t j = 0; j < s->n_groups; j++) {
        struct rr_group *g = &s->g[j];

        if (g->over)
            continue;
        for (int m = 0; m < 3; m++) {
            vlist_compact(&g->list[m], &s->arena, scratch_for(rr, g->list[m].n));
            distinct += vlist_held(&g->list[m]);
        }
    }
    while (distinct > rr->max_values) {
        struct rr_group *big = NULL;
        uint64_t most = 0;

        for (size_t j = 0; j < s->n_groups; j++) {
            uint64_t n = 0;

            if (s->g[j].over)
                continue;
            for (int m = 0; m < 3; m++)
                n += vlist_held(&s->g[j].list[m]);
            if (big == NULL || n > most) {
                big = &s->g[j];
                most = n;
            }
        }
        distinct -= most;
        group_over(s, big);
    }
    s->values = distinct;
    s->compact_at = 2 * distinct > rr->max_values ? 2 * distinct : rr->max_values;
}

/* The shown group of slot s whose key is an->key, or NULL. */
static struct rr_group *
group_of(struct rr_an *an, struct rr_slot *s)
{
    size_t size = an->job->layout->size;
    uint64_t head;

    memcpy(&head, an->key, sizeof(head));
    for (size_t i = 0; i < s->n_groups; i++)
        if (s->head[i] == head &&
            (size <= sizeof(head) ||
             memcmp(s->g[i].key + sizeof(head), an->key + sizeof(head), size - sizeof(head)) == 0))
            return &s->g[i];
    return NULL;
}

/* 3. a flow's packets (or its share) for the slot starting at start */
static void
count_part(void *ctx, int64_t start, int64_t end, uint64_t packets)
{
    struct rr_an *an = ctx;
    struct rr_slot *s = slot_of(an, start);
    const struct flow *f = an->rr->f;
    struct rr_group *g;
    int64_t m;

    (void)end;
    if (s == NULL || packets == 0)
        return;
    if (s->done) {
        /* later than the margin: the lists are made, and would miss it */
        s->x->missed = true;
        return;
    }
    s->x->packets += packets;
    key_extract(an->job->layout, f, an->key);
    g = group_of(an, s);
    if (g == NULL)
        return;
    /* the minute of its start, clamped into the slot, as detail_series_minute() */
    m = (f->start_ms / 1000 - s->start) / 60;
    if (f->start_ms / 1000 < s->start)
        m = 0;
    if (m >= (int64_t)s->x->n_min)
        m = (int64_t)s->x->n_min - 1;
    if (m >= 0)
        g->minutes[m] += packets;
    if (g->over)
        return;
    vlist_add(&g->list[0], &s->arena, f->src_value, &f->src, packets);
    s->values++;
    if (proto_has_ports(f->proto)) {
        vlist_add(&g->list[1], &s->arena, f->src_port, NULL, packets);
        s->values++;
    }
    vlist_add(&g->list[2], &s->arena, f->dst_value, &f->dst, packets);
    s->values++;
    if (s->values >= s->compact_at)
        slot_compact(an->rr, s);
}

static void list_of(const struct vlist *l, bool ports, size_t max, struct explain_list *out);

/* 5. a slot the reader is well past: its lists now, and its arrays freed */
static void
slot_done(struct rr *rr, struct rr_slot *s)
{
    slot_compact(rr, s);
    for (size_t j = 0; j < s->n_groups; j++) {
        struct explain_exact_group *xg = &s->x->groups[j];

        if (!s->g[j].over) {
            xg->lists = true;
            list_of(&s->g[j].list[0], false, EXPLAIN_SOURCES, &xg->src);
            list_of(&s->g[j].list[1], true, EXPLAIN_SPORTS, &xg->sport);
            list_of(&s->g[j].list[2], false, EXPLAIN_DSTS, &xg->dst);
        }
        for (int m = 0; m < 3; m++)
            vlist_fini(&s->g[j].list[m], NULL);
    }
    tarena_reset(&s->arena);
    s->values = 0;
    s->done = true;
}

/*
 * Memory: slots that end settle_ms before the latest flow start of the
 * file being read are done (what agg does with input.lateness, with a slot
 * of margin, an hour at most), unless a file still to read starts before their end
 * (two exporters' files of the same day), so that a run over many days
 * holds the maps of a few slots at a time.
 */
static void
settle(struct rr_an *an, int64_t max_start_ms)
{
    while (an->first_open < an->n &&
           an->s[an->first_open].end * 1000 + an->settle_ms <= max_start_ms &&
           an->s[an->first_open].end * 1000 <= an->horizon_ms) {
        slot_done(an->rr, &an->s[an->first_open++]);
    }
}

static void
on_record(void *ctx, const struct ipfix_record *rec)
{
    struct rr *rr = ctx;
    struct flow f;
    int64_t s, e;

    /* stopping: a file without chunks is read to its end, counting nothing */
    if (cancelled(rr) || norm_record(rr->norm, rec, &f) != NORM_FLOW)
        return;
    if (prefix_set_classify(rr->dark, &f.dst) != PREFIX_DARK)
        return;
    rr->f = &f;
    if (f.start_ms > rr->max_start_ms) {
        rr->max_start_ms = f.start_ms;
        for (size_t i = 0; i < rr->n_an; i++)
            if (rr->an[i].active)
                settle(&rr->an[i], f.start_ms);
    }
    for (size_t i = 0; i < rr->n_an; i++) {
        struct rr_an *an = &rr->an[i];

        if (!an->active)
            continue;
        if (an->job->a->attribution == CFG_ATTR_SPREAD) {
            agg_split(&an->cal, &f, count_part, an);
        } else {
            slotcal_find(&an->cal, f.start_ms / 1000, &s, &e);
            count_part(an, s, e, f.packets);
        }
    }
    rr->f = NULL;
}

/* Does (packets a, key ka) come before (b, kb): most packets first, ties to the lower key. */
static bool
before(uint64_t a, uint64_t ka, uint64_t b, uint64_t kb)
{
    return a != b ? a > b : ka < kb;
}

/* 5. the list (compacted) as a list of its max largest values (max <= EXPLAIN_SOURCES), exact */
static void
list_of(const struct vlist *l, bool ports, size_t max, struct explain_list *out)
{
    uint64_t top_p[EXPLAIN_SOURCES], top_k[EXPLAIN_SOURCES];
    size_t k = 0;

    memset(out, 0, sizeof(*out));
    out->exact = true;
    out->distinct = vlist_held(l);
    /* insertion into a short sorted array: max is 10 at most */
    for (uint32_t i = 0; i < l->n + l->n_w; i++) {
        uint64_t packets, key;
        size_t at;

        if (i < l->n) {
            packets = l->e[i] >> 32;
            key = l->high | (uint32_t)l->e[i];
        } else {
            packets = l->w[i - l->n].packets;
            key = l->w[i - l->n].key;
        }
        if (k == max && !before(packets, key, top_p[k - 1], top_k[k - 1]))
            continue;
        at = k < max ? k++ : max - 1;
        while (at > 0 && before(packets, key, top_p[at - 1], top_k[at - 1])) {
            top_p[at] = top_p[at - 1];
            top_k[at] = top_k[at - 1];
            at--;
        }
        top_p[at] = packets;
        top_k[at] = key;
    }
    for (size_t i = 0; i < k; i++) {
        const struct addr *a6;

        out->v[i].packets = top_p[i];
        if (ports)
            out->v[i].port = (uint16_t)top_k[i];
        else if (!topk_is_v6_key(top_k[i]))
            addr_from_v4(&out->v[i].addr, (uint32_t)top_k[i]);
        else if (l->v6 != NULL && (a6 = g_hash_table_lookup(l->v6, &top_k[i])) != NULL)
            out->v[i].addr = *a6;
    }
    out->n = (uint32_t)k;
}

/*
 * Can flows that start in [first_ms, last_ms] count in slot s of analysis
 * a?  Spread: also flows that started up to a slot earlier (a longer one
 * is missed, and the slot's total says so).
 */
static bool
span_touches(const struct cfg_analysis *a, int64_t first_ms, int64_t last_ms,
             const struct rr_slot *s)
{
    int64_t from = a->attribution == CFG_ATTR_SPREAD ? s->start - a->slot_s : s->start;

    return first_ms <= last_ms && first_ms < s->end * 1000 && last_ms >= from * 1000;
}

static bool
an_touches(const struct rr_an *an, int64_t first_ms, int64_t last_ms)
{
    for (size_t k = 0; k < an->n; k++)
        if (span_touches(an->job->a, first_ms, last_ms, &an->s[k]))
            return true;
    return false;
}

/* ingest_file()'s filter: is the message at offset in a chunk that can hold our slots? */
static bool
want_message(void *ctx, uint64_t offset)
{
    struct rr *rr = ctx;
    const struct explain_file *f = rr->file;

    if (cancelled(rr))
        return false;
    while (rr->chunk + 1 < f->n_chunks && f->chunks[rr->chunk + 1].offset <= offset)
        rr->chunk++;
    /* before the first chunk, or offsets gone back: read it */
    if (f->chunks[rr->chunk].offset > offset)
        return true;
    return rr->want[rr->chunk];
}

/*
 * ingest_file()'s seek, after want_message() said no at offset: the next
 * chunk that is wanted or holds templates.  Inside a chunk with templates
 * the messages are read one by one (offset: no seek), so that none of its
 * templates is missed.
 */
static uint64_t
next_message(void *ctx, uint64_t offset)
{
    struct rr *rr = ctx;
    const struct explain_file *f = rr->file;

    if (cancelled(rr))
        return UINT64_MAX;
    if (f->chunks[rr->chunk].offset > offset || f->chunks[rr->chunk].templates)
        return offset;
    for (size_t c = rr->chunk + 1; c < f->n_chunks; c++)
        if (rr->want[c] || f->chunks[c].templates)
            return f->chunks[c].offset;
    return UINT64_MAX;
}

/* Is the file as it was when its chunks were recorded? */
static enum ds_rc
check_identity(const struct explain_file *f, struct ds_error *err)
{
    struct stat sb;

    if (stat(f->path, &sb) != 0)
        return ds_error_set(err, DS_ERR_IO, "%s: cannot be read back: %s", f->path,
                            strerror(errno));
    if ((int64_t)sb.st_size != f->size ||
        (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec != f->mtime_ns)
        return ds_error_set(err, DS_ERR_IO, "%s: changed since it was counted", f->path);
    return DS_OK;
}

/*
 * File f could not be read back whole, or not as it was counted (err says
 * why): the slots of the active analyses that it touches are not to be
 * trusted, the others are, and reading goes on with the next file.
 */
static enum ds_rc
file_failed(struct rr *rr, const struct explain_file *f, const struct ds_error *err)
{
    size_t n = 0;

    for (size_t i = 0; i < rr->n_an; i++) {
        struct rr_an *an = &rr->an[i];

        for (size_t k = 0; an->active && k < an->n; k++) {
            if (span_touches(an->job->a, f->first_ms, f->last_ms, &an->s[k])) {
                an->s[k].x->missed = true;
                n++;
            }
        }
    }
    log_warnx("reread: %s; the lists of %zu slots it holds stay what memory kept", err->msg,
              n);
    return DS_OK;
}

/* 2. one file, for the analyses of the reader that count it and have a slot in it */
static enum ds_rc
read_file(struct rr *rr, size_t fi, bool **want, struct ds_error *err)
{
    const struct rr_file *rf = &rr->files[fi];
    const struct explain_file *f = rf->f;
    struct ingest_file_opts opts = {.fn = on_record, .ctx = rr};
    struct ingest_stats stats;
    char digest[33] = "";
    bool any = false, seek;
    size_t nw = 0;
    enum ds_rc rc;

    for (size_t i = 0; i < rr->n_an; i++) {
        struct rr_an *an = &rr->an[i];

        an->active = (rf->jobs & an->bit) && an_touches(an, f->first_ms, f->last_ms);
        any |= an->active;
        an->horizon_ms = INT64_MAX;
        for (size_t j = fi + 1; an->active && j < rr->n_files; j++)
            if ((rr->files[j].jobs & an->bit) && rr->files[j].f->first_ms < an->horizon_ms &&
                an_touches(an, rr->files[j].f->first_ms, rr->files[j].f->last_ms))
                an->horizon_ms = rr->files[j].f->first_ms;
    }
    if (!any)
        return DS_OK;
    *want = xreallocarray(*want, f->n_chunks + 1, sizeof(**want));
    for (size_t c = 0; c < f->n_chunks; c++) {
        const struct explain_chunk *ch = &f->chunks[c];

        (*want)[c] = false;
        for (size_t i = 0; i < rr->n_an && !(*want)[c]; i++)
            (*want)[c] = rr->an[i].active && an_touches(&rr->an[i], ch->first_ms, ch->last_ms);
        nw += (*want)[c];
    }
    /* skipping by seeks leaves the digest unknown: the size and time say the file is the same */
    seek = f->n_chunks > 0 && f->size > 0;
    if (seek && (rc = check_identity(f, err)) != DS_OK)
        return file_failed(rr, f, err);
    log_debug("reread: %s: %zu of %zu chunks", f->path, nw, f->n_chunks);
    memset(&stats, 0, sizeof(stats));
    norm_begin_source(rr->norm, NULL);
    rr->max_start_ms = INT64_MIN;
    rr->file = f;
    rr->want = *want;
    rr->chunk = 0;
    opts.want = f->n_chunks > 0 ? want_message : NULL;
    opts.next = seek ? next_message : NULL;
    opts.growing = f->growing;
    rc = ingest_file(f->path, &opts, &stats, seek ? NULL : digest, err);
    if (cancelled(rr))
        return ds_error_set(err, DS_ERR_IO, "reading back stopped");
    if (rc == DS_OK && !seek && f->digest != NULL && f->digest[0] != '\0' &&
        strcmp(f->digest, digest) != 0)
        rc = ds_error_set(err, DS_ERR_IO, "%s: changed since it was counted", f->path);
    return rc == DS_OK ? DS_OK : file_failed(rr, f, err);
}

/* A reader's work: its files in order, then its slots' lists. */
static void *
reader_run(void *arg)
{
    struct rr *rr = arg;
    bool *want = NULL;

    rr->rc = DS_OK;
    for (size_t fi = 0; fi < rr->n_files && rr->rc == DS_OK; fi++)
        rr->rc = read_file(rr, fi, &want, &rr->err);
    free(want);
    for (size_t i = 0; i < rr->n_an && rr->rc == DS_OK; i++)
        for (size_t k = 0; k < rr->an[i].n; k++)
            if (!rr->an[i].s[k].done)
                slot_done(rr, &rr->an[i].s[k]);
    return NULL;
}

/* 1. slot ex (job's ex[idx]) with a table of its shown groups, appended to an */
static void
slot_add(struct rr_an *an, uint64_t max_values, size_t idx)
{
    const struct slot_explain *e = an->job->ex[idx];
    const struct key_layout *layout = an->job->layout;
    struct rr_slot *s = &an->s[an->n++];
    struct explain_exact *x = xcalloc(1, sizeof(*x));

    s->idx = idx;
    tarena_init(&s->arena, &an->rr->pool);
    s->start = x->start = e->start;
    s->end = x->end = e->end;
    x->n_min = (uint32_t)((e->end - e->start + 59) / 60);
    x->n_groups = s->n_groups = e->n_groups;
    x->groups = xcalloc(e->n_groups + 1, sizeof(*x->groups));
    x->minutes = xcalloc((size_t)x->n_min * e->n_groups + 1, sizeof(*x->minutes));
    s->g = xcalloc(e->n_groups + 1, sizeof(*s->g));
    s->head = xcalloc(e->n_groups + 1, sizeof(*s->head));
    s->x = x;
    s->compact_at = max_values;
    for (size_t j = 0; j < e->n_groups; j++) {
        memcpy(x->groups[j].key, e->groups[j].key, layout->size);
        memcpy(&s->head[j], x->groups[j].key, sizeof(s->head[j]));
        x->groups[j].minutes = x->minutes + j * (size_t)x->n_min;
        s->g[j].key = x->groups[j].key;
        s->g[j].minutes = x->groups[j].minutes;
        vlist_init(&s->g[j].list[0], V4_VALUES);
        vlist_init(&s->g[j].list[1], 0);
        vlist_init(&s->g[j].list[2], V4_VALUES);
    }
}

static void
reader_fini(struct rr *rr)
{
    for (size_t i = 0; i < rr->n_an; i++) {
        struct rr_an *an = &rr->an[i];

        for (size_t k = 0; k < an->n; k++) {
            for (size_t j = 0; j < an->s[k].n_groups; j++)
                for (int m = 0; m < 3; m++)
                    vlist_fini(&an->s[k].g[j].list[m], NULL);
            tarena_reset(&an->s[k].arena);
            free(an->s[k].g);
            free(an->s[k].head);
            explain_exact_free(an->s[k].x);
        }
        free(an->s);
    }
    free(rr->an);
    norm_free(rr->norm);
    prefix_set_free(rr->dark);
    tarena_pool_fini(&rr->pool);
    free(rr->scratch);
}

/* A slot to read back, and the reader it goes to. */
struct rr_entry {
    size_t job, idx;
    int64_t start;
    uint64_t weight;            /* stretches of input it needs read */
};

static int
cmp_entry(const void *x, const void *y)
{
    const struct rr_entry *a = x, *b = y;

    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return a->job < b->job ? -1 : a->job > b->job;
}

static int
cmp_file_first(const void *x, const void *y)
{
    const struct rr_file *a = x, *b = y;

    return a->f->first_ms < b->f->first_ms ? -1 : a->f->first_ms > b->f->first_ms;
}

static bool
same_file(const struct explain_file *a, const struct explain_file *b)
{
    const char *da = a->digest != NULL ? a->digest : "", *db = b->digest != NULL ? b->digest : "";

    return strcmp(a->path, b->path) == 0 && strcmp(da, db) == 0;
}

/* How many chunks of the job's files (a file without chunks: one) slot s needs read. */
static uint64_t
slot_weight(const struct explain_reread_job *job, const struct rr_slot *s)
{
    uint64_t w = 1;

    for (size_t i = 0; i < job->n_files; i++) {
        const struct explain_file *f = &job->files[i];

        if (!span_touches(job->a, f->first_ms, f->last_ms, s))
            continue;
        if (f->n_chunks == 0)
            w++;
        for (size_t c = 0; c < f->n_chunks; c++)
            w += span_touches(job->a, f->chunks[c].first_ms, f->chunks[c].last_ms, s);
    }
    return w;
}

enum ds_rc
explain_reread_jobs(const struct ds_cfg *cfg, const struct explain_reread_job *jobs,
                    size_t n_jobs, unsigned threads, const int *cancel, struct ds_error *err)
{
    struct rr_file *files = NULL;
    struct rr_entry *ent = NULL;
    struct rr *rr;
    size_t n_files = 0, n_ent = 0, n_rr;
    uint64_t total = 0, cum = 0;
    uint64_t max_values = cfg->drilldown.reread_values > 0
                              ? (uint64_t)cfg->drilldown.reread_values
                              : 1000000;
    enum ds_rc rc = DS_OK;

    if (n_jobs > CFG_ANALYSES_MAX)
        return ds_error_set(err, DS_ERR_CONFIG, "reread: %zu analyses, at most %d", n_jobs,
                            CFG_ANALYSES_MAX);
    for (size_t j = 0; j < n_jobs; j++)
        for (size_t i = 0; i < jobs[j].n_ex; i++)
            jobs[j].out[i] = NULL;
    /* the inputs of every job, each once, oldest first */
    for (size_t j = 0; j < n_jobs; j++) {
        for (size_t i = 0; i < jobs[j].n_files; i++) {
            size_t k = 0;

            while (k < n_files && !same_file(files[k].f, &jobs[j].files[i]))
                k++;
            if (k == n_files) {
                files = xreallocarray(files, n_files + 1, sizeof(*files));
                files[n_files++] = (struct rr_file){&jobs[j].files[i], 0};
            }
            files[k].jobs |= UINT32_C(1) << j;
        }
    }
    if (n_files > 1)
        qsort(files, n_files, sizeof(*files), cmp_file_first);
    /* the slots, in time order, weighed by what they need read */
    for (size_t j = 0; j < n_jobs; j++)
        n_ent += jobs[j].n_ex;
    ent = xcalloc(n_ent + 1, sizeof(*ent));
    n_ent = 0;
    for (size_t j = 0; j < n_jobs; j++) {
        for (size_t i = 0; i < jobs[j].n_ex; i++) {
            struct rr_slot probe = {.start = jobs[j].ex[i]->start, .end = jobs[j].ex[i]->end};

            ent[n_ent] = (struct rr_entry){j, i, probe.start, slot_weight(&jobs[j], &probe)};
            total += ent[n_ent++].weight;
        }
    }
    qsort(ent, n_ent, sizeof(*ent), cmp_entry);
    /* 2. the readers: consecutive slots of about equal weight each */
    n_rr = threads < 1 ? 1 : threads > READERS_MAX ? READERS_MAX : threads;
    if (n_rr > n_ent)
        n_rr = n_ent > 0 ? n_ent : 1;
    rr = xcalloc(n_rr, sizeof(*rr));
    for (size_t r = 0; r < n_rr; r++) {
        rr[r].cfg = cfg;
        rr[r].files = files;
        rr[r].n_files = n_files;
        rr[r].max_values = max_values;
        rr[r].cancel = cancel;
        rr[r].norm = norm_new();
        rr[r].dark = prefix_set_new(cfg->prefixes.v, cfg->prefixes.n, cfg->exclude.v,
                                    cfg->exclude.n);
        rr[r].n_an = n_jobs;
        rr[r].an = xcalloc(n_jobs + 1, sizeof(*rr[r].an));
        for (size_t j = 0; j < n_jobs; j++) {
            struct rr_an *an = &rr[r].an[j];

            an->rr = &rr[r];
            an->job = &jobs[j];
            an->bit = UINT32_C(1) << j;
            slotcal_init(&an->cal, jobs[j].a->slot_s);
            /*
             * The lateness (input's, or the job's if larger: the
             * collector's), and a slot more (an hour at most: a daily
             * slot's maps are the largest, and two of them held at once
             * double the peak); a flow later than that makes the slot's
             * total disagree, and its lists stay what memory kept.
             */
            an->settle_ms = ((jobs[j].lateness_s > cfg->input_lateness_s
                                  ? jobs[j].lateness_s
                                  : cfg->input_lateness_s) +
                             (jobs[j].a->slot_s < 3600 ? jobs[j].a->slot_s : 3600)) * 1000;
            an->s = xcalloc(jobs[j].n_ex + 1, sizeof(*an->s));
        }
    }
    for (size_t i = 0; i < n_ent; i++) {
        size_t r = total > 0 ? (size_t)((unsigned __int128)cum * n_rr / total) : 0;

        slot_add(&rr[r < n_rr ? r : n_rr - 1].an[ent[i].job], max_values, ent[i].idx);
        cum += ent[i].weight;
    }
    free(ent);
    /* the first reader runs here, the others beside it */
    for (size_t r = 1; r < n_rr; r++)
        rr[r].started = pthread_create(&rr[r].thread, NULL, reader_run, &rr[r]) == 0;
    for (size_t r = 0; r < n_rr; r++)
        if (!rr[r].started)
            reader_run(&rr[r]);
    for (size_t r = 1; r < n_rr; r++)
        if (rr[r].started)
            pthread_join(rr[r].thread, NULL);
    /* 5. the lists, handed over: all of them, or none if a reader failed */
    for (size_t r = 0; r < n_rr && rc == DS_OK; r++) {
        if (rr[r].rc != DS_OK) {
            rc = rr[r].rc;
            *err = rr[r].err;
        }
    }
    for (size_t r = 0; r < n_rr; r++) {
        for (size_t j = 0; j < n_jobs && rc == DS_OK; j++) {
            for (size_t k = 0; k < rr[r].an[j].n; k++) {
                struct rr_slot *s = &rr[r].an[j].s[k];

                jobs[j].out[s->idx] = s->x;
                s->x = NULL;
            }
        }
        reader_fini(&rr[r]);
    }
    free(rr);
    free(files);
    return rc;
}

enum ds_rc
explain_reread(const struct ds_cfg *cfg, const struct cfg_analysis *a,
               const struct key_layout *layout, const struct slot_explain *const *ex,
               size_t n_ex, const struct explain_file *files, size_t n_files,
               struct explain_exact **out, struct ds_error *err)
{
    struct explain_reread_job job = {a, layout, ex, n_ex, files, n_files, out, 0};

    return explain_reread_jobs(cfg, &job, 1, 1, NULL, err);
}
