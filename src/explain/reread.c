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
#include "ds/norm.h"
#include "ds/prefix.h"
#include "ds/proto.h"
#include "ds/slotcal.h"
#include "ds/xmem.h"

/* A value of a map: its key (first, for g_int64_hash) and the address it stands for. */
struct rr_value {
    uint64_t key;               /* port, or addr_value() */
    struct addr a;
    uint64_t packets;
};

struct rr_group {
    const uint8_t *key;         /* borrowed from the explanation */
    GHashTable *map[3];         /* sources, source ports, destinations; NULL once over */
    uint64_t *minutes;          /* inside the slot's x->minutes */
};

struct rr_slot {
    int64_t start, end;
    struct explain_exact *x;    /* the result, being filled */
    struct rr_group *g;
    size_t n_groups;
    uint64_t values;            /* distinct values held by the maps */
};

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
group_over(struct rr_group *g)
{
    for (int m = 0; m < 3; m++) {
        if (g->map[m] != NULL)
            g->map[m] = (g_hash_table_destroy(g->map[m]), NULL);
    }
}

/* Adds packets to value key of map m of g; false if the slot is at its bound. */
static bool
map_add(struct rr *rr, struct rr_slot *s, GHashTable *map, uint64_t key, const struct addr *a,
        uint64_t packets)
{
    struct rr_value *v = g_hash_table_lookup(map, &key);

    if (v == NULL) {
        if (s->values >= rr->max_values)
            return false;
        v = xcalloc(1, sizeof(*v));
        v->key = key;
        if (a != NULL)
            v->a = *a;
        g_hash_table_insert(map, &v->key, v);
        s->values++;
    }
    v->packets += packets;
    return true;
}

/* 3. a flow's packets (or its share) for the slot starting at start */
static void
count_part(void *ctx, int64_t start, int64_t end, uint64_t packets)
{
    struct rr *rr = ctx;
    struct rr_slot *s = slot_of(rr, start);
    const struct flow *f = rr->f;
    struct rr_group *g = NULL;
    int64_t m;

    (void)end;
    if (s == NULL || packets == 0)
        return;
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
    if (g->map[0] == NULL)
        return;
    /* 4. past the bound this group's maps go: a list either exact or as it was */
    if (!map_add(rr, s, g->map[0], f->src_value, &f->src, packets) ||
        (proto_has_ports(f->proto) && !map_add(rr, s, g->map[1], f->src_port, NULL, packets)) ||
        !map_add(rr, s, g->map[2], f->dst_value, &f->dst, packets)) {
        for (int k = 0; k < 3; k++)
            s->values -= g_hash_table_size(g->map[k]);
        group_over(g);
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
    if (rr->a->attribution == CFG_ATTR_SPREAD) {
        agg_split(&rr->cal, &f, count_part, rr);
    } else {
        slotcal_find(&rr->cal, f.start_ms / 1000, &s, &e);
        count_part(rr, s, e, f.packets);
    }
    rr->f = NULL;
}

static int
cmp_value(const void *x, const void *y)
{
    const struct rr_value *a = *(const struct rr_value *const *)x;
    const struct rr_value *b = *(const struct rr_value *const *)y;

    if (a->packets != b->packets)
        return a->packets > b->packets ? -1 : 1;
    return a->key < b->key ? -1 : a->key > b->key;
}

/* 5. map as a list of at most max entries, exact */
static void
list_of(GHashTable *map, bool ports, size_t max, struct explain_list *l)
{
    size_t n = g_hash_table_size(map), k = 0;
    struct rr_value **v = xcalloc(n + 1, sizeof(*v));
    GHashTableIter it;
    gpointer key, val;

    g_hash_table_iter_init(&it, map);
    while (g_hash_table_iter_next(&it, &key, &val))
        v[k++] = val;
    qsort(v, n, sizeof(*v), cmp_value);
    memset(l, 0, sizeof(*l));
    l->exact = true;
    l->distinct = n;
    for (k = 0; k < n && k < max; k++) {
        if (ports)
            l->v[k].port = (uint16_t)v[k]->key;
        else
            l->v[k].addr = v[k]->a;
        l->v[k].packets = v[k]->packets;
    }
    l->n = (uint32_t)k;
    free(v);
}

/* Can file f hold records of slot s?  Spread: any flow that started before its end. */
static bool
file_touches(const struct rr *rr, const struct explain_file *f, const struct rr_slot *s)
{
    if (f->first_ms > s->end * 1000 - 1)
        return false;
    return rr->a->attribution == CFG_ATTR_SPREAD || f->last_ms >= s->start * 1000;
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
            group_over(&rr->s[i].g[j]);
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
            for (int m = 0; m < 3; m++)
                s->g[j].map[m] = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, free);
        }
    }
    qsort(rr.s, rr.n, sizeof(*rr.s), cmp_slot);
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
        rc = ingest_file(files[i].path, &opts, &stats, digest, err);
        if (rc == DS_OK && files[i].digest != NULL && files[i].digest[0] != '\0' &&
            strcmp(files[i].digest, digest) != 0)
            rc = ds_error_set(err, DS_ERR_IO, "%s: changed since it was counted",
                              files[i].path);
    }
    if (rc != DS_OK) {
        rr_fini(&rr);
        return rc;
    }
    /* 5. the lists, handed over in the order of ex */
    for (size_t k = 0; k < rr.n; k++) {
        struct rr_slot *s = &rr.s[k];

        for (size_t j = 0; j < s->n_groups; j++) {
            struct explain_exact_group *xg = &s->x->groups[j];

            if (s->g[j].map[0] == NULL)
                continue;
            xg->lists = true;
            list_of(s->g[j].map[0], false, EXPLAIN_SOURCES, &xg->src);
            list_of(s->g[j].map[1], true, EXPLAIN_SPORTS, &xg->sport);
            list_of(s->g[j].map[2], false, EXPLAIN_DSTS, &xg->dst);
        }
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
