/*
 * Exact drill-down lists by reading a slot back (see ds/explain.h).
 *
 * Keeping top lists and minutes for every group of every open slot costs
 * the aggregation a quarter of its rate, and Space-Saving lists of bounded
 * size are not exact for a group of a thousand sources.  Only the groups
 * shown for unstable slots need them, and those are known once the slot is
 * judged: so the files holding such a slot are read again, and only the
 * flows of its shown groups are counted, in hash maps (exact).
 *
 * Our implementation:
 *   1. every explained slot gets a table of its shown groups' keys;
 *   2. each file that can hold one of the slots (its first and last flow
 *      start, widened for attribution spread) is read once through
 *      ingest_file(), norm_record() and the darknet filter, as analyze
 *      reads it;
 *   3. a flow's packets go to the slot of its start, or are divided as
 *      agg_split() divides them (spread); a part in an explained slot
 *      counts in the slot's total, and, if its key is a shown group's, in
 *      that group's maps and minutes;
 *   4. a slot whose maps reach drilldown.reread_values distinct values
 *      stops growing them: the group that would pass it loses its maps
 *      (lists = false) so memory stays bounded;
 *   5. the maps become lists sorted as topk_top() sorts (most packets
 *      first, ties: the lower value), exact.
 * The caller compares each slot's total with the stored one: a difference
 * means some records of the slot were not in the files read (standard
 * input, an earlier run's file gone), and the lists are not trusted.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "ds/explain.h"
#include "ds/ingest.h"
#include "ds/log.h"
#include "ds/norm.h"
#include "ds/prefix.h"
#include "ds/proto.h"
#include "ds/slotcal.h"
#include "ds/topk.h"
#include "ds/xmem.h"

/*
 * Packets per value (a port, or addr_value() of an address): open
 * addressing, 16 bytes a value, for reread_values of them per slot.  A
 * slot with packets is taken (no flow of 0 packets is counted).  IPv6 keys
 * are hashes: their addresses are kept beside, in v6.
 */
struct ventry {
    uint64_t key;
    uint64_t packets;           /* 0: free */
};

struct vmap {
    struct ventry *e;           /* key and count side by side: one cache line a probe */
    uint32_t n, mask;           /* mask + 1 slots */
    GHashTable *v6;             /* uint64 key -> struct addr (owned), NULL until one */
};

struct rr_group {
    const uint8_t *key;         /* borrowed from the explanation */
    struct vmap map[3];         /* sources, source ports, destinations */
    bool over;                  /* maps freed: past drilldown.reread_values */
    uint64_t hint[3];           /* values expected: the first allocation, once a flow comes */
    uint64_t *minutes;          /* inside the slot's x->minutes */
};

struct rr_slot {
    int64_t start, end;
    struct explain_exact *x;    /* the result, being filled */
    struct rr_group *g;
    size_t n_groups;
    uint64_t values;            /* distinct values held by the maps */
    bool done;                  /* lists made, maps freed: the reader has passed it */
};

/*
 * The maps of a big group are far larger than the cache: each flow's three
 * additions wait in a short queue while their lines are fetched, so that
 * the misses of several flows overlap.
 */
#define RR_PENDING 16

struct rr {
    const struct ds_cfg *cfg;
    const struct cfg_analysis *a;
    const struct key_layout *layout;
    struct norm *norm;
    struct prefix_set *dark;
    struct slotcal cal;
    struct rr_slot *s;          /* sorted by start */
    size_t n;
    uint64_t max_values;
    const struct flow *f;       /* the flow being counted */
    uint8_t key[KEY_BYTES_MAX]; /* its packed key */
    int64_t max_start_ms;       /* latest flow start read from the current file */
    int64_t settle_ms;          /* a slot ending this long before it is done */
    int64_t horizon_ms;         /* earliest flow start of the files still to read */
    size_t first_open;          /* slots before it are done */
    /* flows of shown groups waiting for their maps, whose lines are being fetched */
    struct rr_pending {
        struct rr_slot *s;
        struct rr_group *g;
        uint64_t src, dst, packets;
        struct addr src_a, dst_a;
        uint16_t sport;
        bool ports;
    } pend[RR_PENDING];
    size_t n_pend;
    /* the file being read: its chunks, and which to read */
    const struct explain_file *file;
    const bool *want;
    size_t chunk;
};

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
slot_of(struct rr *rr, int64_t start)
{
    size_t lo = 0, hi = rr->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (rr->s[mid].start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < rr->n && rr->s[lo].start == start ? &rr->s[lo] : NULL;
}

static void
vmap_fini(struct vmap *m)
{
    free(m->e);
    if (m->v6 != NULL)
        g_hash_table_destroy(m->v6);
    memset(m, 0, sizeof(*m));
}

static inline uint32_t
vmap_home(const struct vmap *m, uint64_t key)
{
    return (uint32_t)((key * 0x9E3779B97F4A7C15ULL) >> 32) & m->mask;
}

static inline void
vmap_prefetch(const struct vmap *m, uint64_t key)
{
    if (m->mask != 0)
        __builtin_prefetch(&m->e[vmap_home(m, key)], 1);
}

static uint32_t
vmap_slot(const struct vmap *m, uint64_t key)
{
    uint32_t i = vmap_home(m, key);

    while (m->e[i].packets != 0 && m->e[i].key != key)
        i = (i + 1) & m->mask;
    return i;
}

/* Room for at least want values (the first time: sized from the distinct count known). */
static void
vmap_grow(struct vmap *m, uint64_t want)
{
    struct vmap old = *m;
    uint32_t cap = old.mask ? 2 * (old.mask + 1) : 8;

    while ((uint64_t)cap * 3 < want * 4 && cap < (UINT32_C(1) << 30))
        cap *= 2;
    m->e = xcalloc(cap, sizeof(*m->e));
    m->mask = cap - 1;
    for (uint32_t i = 0; old.mask != 0 && i <= old.mask; i++)
        if (old.e[i].packets != 0)
            m->e[vmap_slot(m, old.e[i].key)] = old.e[i];
    free(old.e);
}

static void
group_over(struct rr_group *g)
{
    for (int m = 0; m < 3; m++)
        vmap_fini(&g->map[m]);
    g->over = true;
}

/* Adds packets (> 0) to value key of map m; false if the slot is at its bound. */
static bool
map_add(struct rr *rr, struct rr_slot *s, struct vmap *m, uint64_t hint, uint64_t key,
        const struct addr *a, uint64_t packets)
{
    uint32_t i;

    if (m->mask == 0)
        vmap_grow(m, hint);
    else if ((m->n + 1) * 4 > (m->mask + 1) * 3)
        vmap_grow(m, m->n + 1);
    i = vmap_slot(m, key);
    if (m->e[i].packets == 0) {
        if (s->values >= rr->max_values)
            return false;
        m->e[i].key = key;
        m->n++;
        s->values++;
        if (a != NULL && topk_is_v6_key(key)) {
            if (m->v6 == NULL)
                m->v6 = g_hash_table_new_full(g_int64_hash, g_int64_equal, free, free);
            g_hash_table_insert(m->v6, g_memdup2(&key, sizeof(key)),
                                g_memdup2(a, sizeof(*a)));
        }
    }
    m->e[i].packets += packets;
    return true;
}

/* The queued flows into their groups' maps, in order. */
static void
flush(struct rr *rr)
{
    for (size_t i = 0; i < rr->n_pend; i++) {
        const struct rr_pending *p = &rr->pend[i];
        struct rr_group *g = p->g;

        if (g->over)
            continue;
        /* 4. past the bound this group's maps go: a list either exact or as it was */
        if (!map_add(rr, p->s, &g->map[0], g->hint[0], p->src, &p->src_a, p->packets) ||
            (p->ports && !map_add(rr, p->s, &g->map[1], g->hint[1], p->sport, NULL, p->packets)) ||
            !map_add(rr, p->s, &g->map[2], g->hint[2], p->dst, &p->dst_a, p->packets)) {
            for (int k = 0; k < 3; k++)
                p->s->values -= g->map[k].n;
            group_over(g);
        }
    }
    rr->n_pend = 0;
}

/* 3. a flow's packets (or its share) for the slot starting at start */
static void
count_part(void *ctx, int64_t start, int64_t end, uint64_t packets)
{
    struct rr *rr = ctx;
    struct rr_slot *s = slot_of(rr, start);
    const struct flow *f = rr->f;
    struct rr_group *g = NULL;
    struct rr_pending *p;
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
    key_extract(rr->layout, f, rr->key);
    for (size_t i = 0; i < s->n_groups && g == NULL; i++)
        if (memcmp(s->g[i].key, rr->key, rr->layout->size) == 0)
            g = &s->g[i];
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
    if (rr->n_pend == RR_PENDING)
        flush(rr);
    p = &rr->pend[rr->n_pend++];
    p->s = s;
    p->g = g;
    p->src = f->src_value;
    p->dst = f->dst_value;
    p->src_a = f->src;
    p->dst_a = f->dst;
    p->sport = f->src_port;
    p->ports = proto_has_ports(f->proto);
    p->packets = packets;
    vmap_prefetch(&g->map[0], p->src);
    if (p->ports)
        vmap_prefetch(&g->map[1], p->sport);
    vmap_prefetch(&g->map[2], p->dst);
}

static void list_of(const struct vmap *m, bool ports, size_t max, struct explain_list *l);

/* 5. a slot the reader is well past: its lists now, and its maps freed */
static void
slot_done(struct rr_slot *s)
{
    for (size_t j = 0; j < s->n_groups; j++) {
        struct explain_exact_group *xg = &s->x->groups[j];

        if (!s->g[j].over) {
            xg->lists = true;
            list_of(&s->g[j].map[0], false, EXPLAIN_SOURCES, &xg->src);
            list_of(&s->g[j].map[1], true, EXPLAIN_SPORTS, &xg->sport);
            list_of(&s->g[j].map[2], false, EXPLAIN_DSTS, &xg->dst);
        }
        for (int m = 0; m < 3; m++)
            vmap_fini(&s->g[j].map[m]);
    }
    s->values = 0;
    s->done = true;
}

/*
 * Memory: slots that end settle_ms before the latest flow start of the
 * file being read are done (what agg does with input.lateness, with a slot
 * more of margin), unless a file still to read starts before their end
 * (two exporters' files of the same day), so that a run over many days
 * holds the maps of a few slots at a time.
 */
static void
settle(struct rr *rr)
{
    while (rr->first_open < rr->n &&
           rr->s[rr->first_open].end * 1000 + rr->settle_ms <= rr->max_start_ms &&
           rr->s[rr->first_open].end * 1000 <= rr->horizon_ms) {
        flush(rr);
        slot_done(&rr->s[rr->first_open++]);
    }
}

static void
on_record(void *ctx, const struct ipfix_record *rec)
{
    struct rr *rr = ctx;
    struct flow f;
    int64_t s, e;

    if (norm_record(rr->norm, rec, &f) != NORM_FLOW)
        return;
    if (prefix_set_classify(rr->dark, &f.dst) != PREFIX_DARK)
        return;
    rr->f = &f;
    if (f.start_ms > rr->max_start_ms) {
        rr->max_start_ms = f.start_ms;
        settle(rr);
    }
    if (rr->a->attribution == CFG_ATTR_SPREAD) {
        agg_split(&rr->cal, &f, count_part, rr);
    } else {
        slotcal_find(&rr->cal, f.start_ms / 1000, &s, &e);
        count_part(rr, s, e, f.packets);
    }
    rr->f = NULL;
}

/* Does (packets a, key ka) come before (b, kb): most packets first, ties to the lower key. */
static bool
before(uint64_t a, uint64_t ka, uint64_t b, uint64_t kb)
{
    return a != b ? a > b : ka < kb;
}

/* 5. the map as a list of its max largest values (max <= EXPLAIN_SOURCES), exact */
static void
list_of(const struct vmap *m, bool ports, size_t max, struct explain_list *l)
{
    uint64_t top_p[EXPLAIN_SOURCES], top_k[EXPLAIN_SOURCES];
    size_t k = 0;

    memset(l, 0, sizeof(*l));
    l->exact = true;
    l->distinct = m->n;
    /* insertion into a short sorted array: max is 10 at most */
    for (uint32_t i = 0; m->mask != 0 && i <= m->mask; i++) {
        size_t at;

        const struct ventry *v = &m->e[i];

        if (v->packets == 0)
            continue;
        if (k == max && !before(v->packets, v->key, top_p[k - 1], top_k[k - 1]))
            continue;
        at = k < max ? k++ : max - 1;
        while (at > 0 && before(v->packets, v->key, top_p[at - 1], top_k[at - 1])) {
            top_p[at] = top_p[at - 1];
            top_k[at] = top_k[at - 1];
            at--;
        }
        top_p[at] = v->packets;
        top_k[at] = v->key;
    }
    for (size_t i = 0; i < k; i++) {
        const struct addr *a6;

        l->v[i].packets = top_p[i];
        if (ports)
            l->v[i].port = (uint16_t)top_k[i];
        else if (!topk_is_v6_key(top_k[i]))
            addr_from_v4(&l->v[i].addr, (uint32_t)top_k[i]);
        else if (m->v6 != NULL && (a6 = g_hash_table_lookup(m->v6, &top_k[i])) != NULL)
            l->v[i].addr = *a6;
    }
    l->n = (uint32_t)k;
}

/*
 * Can file f hold records of slot s?  Spread: also flows that started up
 * to a slot earlier (a longer one is missed, and the slot's total says so).
 */
static bool
file_touches(const struct rr *rr, const struct explain_file *f, const struct rr_slot *s)
{
    int64_t from = rr->a->attribution == CFG_ATTR_SPREAD ? s->start - rr->a->slot_s : s->start;

    return f->first_ms < s->end * 1000 && f->last_ms >= from * 1000;
}

/* ingest_file()'s filter: is the message at offset in a chunk that can hold our slots? */
static bool
want_message(void *ctx, uint64_t offset)
{
    struct rr *rr = ctx;
    const struct explain_file *f = rr->file;

    while (rr->chunk + 1 < f->n_chunks && f->chunks[rr->chunk + 1].offset <= offset)
        rr->chunk++;
    /* before the first chunk, or offsets gone back: read it */
    if (f->chunks[rr->chunk].offset > offset)
        return true;
    return rr->want[rr->chunk];
}

static int
cmp_slot(const void *x, const void *y)
{
    const struct rr_slot *a = x, *b = y;

    return a->start < b->start ? -1 : a->start > b->start;
}

static void
rr_fini(struct rr *rr)
{
    for (size_t i = 0; i < rr->n; i++) {
        for (size_t j = 0; j < rr->s[i].n_groups; j++)
            for (int m = 0; m < 3; m++)
                vmap_fini(&rr->s[i].g[j].map[m]);
        free(rr->s[i].g);
        explain_exact_free(rr->s[i].x);
    }
    free(rr->s);
    norm_free(rr->norm);
    prefix_set_free(rr->dark);
}

enum ds_rc
explain_reread(const struct ds_cfg *cfg, const struct cfg_analysis *a,
               const struct key_layout *layout, const struct slot_explain *const *ex,
               size_t n_ex, const struct explain_file *files, size_t n_files,
               struct explain_exact **out, struct ds_error *err)
{
    struct rr rr;
    struct ingest_file_opts opts = {.fn = on_record, .ctx = &rr};
    bool *want = NULL;
    enum ds_rc rc = DS_OK;

    memset(&rr, 0, sizeof(rr));
    for (size_t i = 0; i < n_ex; i++)
        out[i] = NULL;
    rr.cfg = cfg;
    rr.a = a;
    rr.layout = layout;
    rr.max_values = cfg->drilldown.reread_values > 0 ? (uint64_t)cfg->drilldown.reread_values
                                                     : 1000000;
    slotcal_init(&rr.cal, a->slot_s);
    rr.norm = norm_new();
    rr.dark = prefix_set_new(cfg->prefixes.v, cfg->prefixes.n, cfg->exclude.v, cfg->exclude.n);
    /* 1. the slots and their shown groups */
    rr.s = xcalloc(n_ex + 1, sizeof(*rr.s));
    for (size_t i = 0; i < n_ex; i++) {
        const struct slot_explain *e = ex[i];
        struct rr_slot *s = &rr.s[rr.n++];
        struct explain_exact *x = xcalloc(1, sizeof(*x));

        s->start = x->start = e->start;
        s->end = x->end = e->end;
        x->n_min = (uint32_t)((e->end - e->start + 59) / 60);
        x->n_groups = s->n_groups = e->n_groups;
        x->groups = xcalloc(e->n_groups + 1, sizeof(*x->groups));
        x->minutes = xcalloc((size_t)x->n_min * e->n_groups + 1, sizeof(*x->minutes));
        s->g = xcalloc(e->n_groups + 1, sizeof(*s->g));
        s->x = x;
        for (size_t j = 0; j < e->n_groups; j++) {
            memcpy(x->groups[j].key, e->groups[j].key, layout->size);
            x->groups[j].minutes = x->minutes + j * (size_t)x->n_min;
            s->g[j].key = x->groups[j].key;
            s->g[j].minutes = x->groups[j].minutes;
            /*
             * Sized from the distinct counts the aggregator kept (no source
             * port count: a quarter of the sources), within the bound.
             */
            {
                uint64_t ds = e->groups[j].src.distinct, dd = e->groups[j].dst.distinct;
                uint64_t cap = rr.max_values / 8;

                s->g[j].hint[0] = ds < cap ? ds : cap;
                s->g[j].hint[1] = ds / 4 < cap ? ds / 4 : cap;
                s->g[j].hint[2] = dd < cap ? dd : cap;
            }
        }
    }
    qsort(rr.s, rr.n, sizeof(*rr.s), cmp_slot);
    rr.max_start_ms = INT64_MIN;
    rr.settle_ms = (cfg->input_lateness_s + a->slot_s) * 1000;
    /* 2. every file that can hold one of them, once */
    for (size_t i = 0; i < n_files && rc == DS_OK; i++) {
        struct ingest_stats stats;
        char digest[33] = "";
        bool wanted = false;

        for (size_t k = 0; k < rr.n && !wanted; k++)
            wanted = file_touches(&rr, &files[i], &rr.s[k]);
        if (!wanted)
            continue;
        memset(&stats, 0, sizeof(stats));
        norm_begin_source(rr.norm, NULL);
        rr.max_start_ms = INT64_MIN;
        rr.horizon_ms = INT64_MAX;
        for (size_t j = i + 1; j < n_files; j++)
            for (size_t k = 0; k < rr.n; k++)
                if (file_touches(&rr, &files[j], &rr.s[k]) && files[j].first_ms < rr.horizon_ms)
                    rr.horizon_ms = files[j].first_ms;
        rr.file = &files[i];
        rr.chunk = 0;
        want = xreallocarray(want, files[i].n_chunks + 1, sizeof(*want));
        for (size_t c = 0; c < files[i].n_chunks; c++) {
            const struct explain_chunk *ch = &files[i].chunks[c];
            struct explain_file span = {NULL, NULL, ch->first_ms, ch->last_ms, NULL, 0};

            want[c] = false;
            for (size_t k = 0; k < rr.n && !want[c]; k++)
                want[c] = ch->first_ms <= ch->last_ms && file_touches(&rr, &span, &rr.s[k]);
        }
        rr.want = want;
        {
            size_t nw = 0;

            for (size_t c = 0; c < files[i].n_chunks; c++)
                nw += want[c];
            log_debug("reread: %s: %zu of %zu chunks", files[i].path, nw, files[i].n_chunks);
        }
        opts.want = files[i].n_chunks > 0 ? want_message : NULL;
        rc = ingest_file(files[i].path, &opts, &stats, digest, err);
        flush(&rr);
        if (rc == DS_OK && files[i].digest != NULL && files[i].digest[0] != '\0' &&
            strcmp(files[i].digest, digest) != 0)
            rc = ds_error_set(err, DS_ERR_IO, "%s: changed since it was counted",
                              files[i].path);
    }
    if (rc != DS_OK) {
        free(want);
        rr_fini(&rr);
        return rc;
    }
    free(want);
    /* 5. the lists, handed over in the order of ex */
    for (size_t k = 0; k < rr.n; k++) {
        struct rr_slot *s = &rr.s[k];

        if (!s->done)
            slot_done(s);
        for (size_t i = 0; i < n_ex; i++) {
            if (out[i] == NULL && ex[i]->start == s->start) {
                out[i] = s->x;
                s->x = NULL;
                break;
            }
        }
    }
    rr_fini(&rr);
    return DS_OK;
}
