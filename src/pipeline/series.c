/*
 * One analysis' slots against the store (see ds/pipeline.h).
 *
 * The store holds the truth; a run only adds to it:
 *   1. every slot of the run is merged with the stored slot of the same
 *      start (another file of the same day, an earlier run of the same
 *      hour), details included where both sides kept them;
 *   2. TopN of each merged slot is computed for every threshold, and the
 *      TopN groups of the lowest threshold get their detail (METHOD 6);
 *   3. stability is judged from the first slot of the run onward, the
 *      window reaching back into stored slots, and forward through stored
 *      slots after the run, whose windows may have changed;
 *   4. slots, group counts and results are saved;
 *   5. every slot judged unstable gets its drill-down (src/explain): the
 *      slot as stored (details of the groups that can be shown) against
 *      the group counts of the window's slots, the same slots the
 *      judgement used; a slot no longer unstable loses its drill-down.
 */
#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ds/explain.h"
#include "ds/log.h"
#include "ds/pipeline.h"
#include "ds/slotcal.h"
#include "ds/xmem.h"


/* What the judgement needs of a slot saved by this run. */
struct run_slot {
    int64_t start;
    int64_t end;
    uint64_t packets;
    uint32_t topn[CFG_THRESHOLDS_MAX];
};

struct series {
    const struct cfg_analysis *a;
    const struct cfg_causes *causes;
    const struct key_layout *layout;
    int64_t aid;
    struct store *st;           /* borrowed */
    struct slotcal cal;
    struct run_slot *run;       /* owned, in order of closing */
    size_t n_run, cap_run;
    GHashTable *late;           /* gint64 start -> struct late_slot * (owned): slots reopened */
    uint64_t late_clock;        /* for evicting the slot least recently reopened */
    int64_t from, to;           /* reported range; from == to: empty */
    enum ds_rc error;           /* first store error met while closing slots */
    struct ds_error err;
    unsigned changed;           /* STORE_CHANGED_*: judge every stored slot again */
    unsigned changed_committed; /* changed as of the last commit: series_reset() */
    uint32_t max_groups;        /* limits.groups, for reopened slots */
    series_completeness_fn completeness;
    void *completeness_ctx;
    series_judged_fn on_judged;
    void *on_judged_ctx;
    /* series_keep_unstable(): the unstable slots judged, with their drill-downs (owned) */
    bool keep_unstable;
    struct slot_result *unstable;
    struct series_shown *shown;         /* beside unstable */
    size_t n_unstable, cap_unstable;
};

/*
 * Slots reopened by late flows, at most LATE_SLOTS_MAX at once: input read
 * out of order (files given newest first) reopens one slot after another,
 * and each goes back to the store when it has not been used for longest.
 */
#define LATE_SLOTS_MAX 4

struct late_slot {
    struct agg_slot *slot;      /* owned */
    uint64_t used;
};

static void
late_destroy(gpointer p)
{
    struct late_slot *l = p;

    agg_slot_free(l->slot);
    free(l);
}

struct series *
series_new(const struct cfg_analysis *a, const struct cfg_causes *causes,
           const struct key_layout *layout, int64_t store_id, struct store *st, unsigned changed)
{
    struct series *s = xcalloc(1, sizeof(*s));

    s->changed = changed;
    s->changed_committed = changed;
    s->a = a;
    s->causes = causes;
    s->layout = layout;
    s->aid = store_id;
    s->st = st;
    slotcal_init(&s->cal, a->slot_s);
    s->late = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, late_destroy);
    s->from = s->to = 0;
    s->error = DS_OK;
    return s;
}

void
series_reset(struct series *s)
{
    g_hash_table_remove_all(s->late);
    s->n_run = 0;
    s->from = s->to = 0;
    s->error = DS_OK;
    s->changed = s->changed_committed;
    for (size_t i = 0; i < s->n_unstable; i++)
        slot_result_fini(&s->unstable[i]);
    s->n_unstable = 0;
}

void
series_committed(struct series *s)
{
    s->changed_committed = s->changed;
}

void
series_limit_groups(struct series *s, uint32_t max_groups)
{
    s->max_groups = max_groups;
}

void
series_free(struct series *s)
{
    if (s == NULL)
        return;
    g_hash_table_destroy(s->late);
    free(s->run);
    for (size_t i = 0; i < s->n_unstable; i++)
        slot_result_fini(&s->unstable[i]);
    free(s->unstable);
    free(s->shown);
    free(s);
}


void
series_keep_unstable(struct series *s, bool keep)
{
    s->keep_unstable = keep;
}

size_t
series_take_unstable(struct series *s, struct slot_result **v, struct series_shown **shown)
{
    size_t n = s->n_unstable;

    *v = s->unstable;
    if (shown != NULL)
        *shown = s->shown;
    else
        free(s->shown);
    s->unstable = NULL;
    s->shown = NULL;
    s->n_unstable = s->cap_unstable = 0;
    return n;
}

/* What the drill-down e of stored slot (loaded, trimmed) needs of it to be applied later. */
static void
shown_of(const struct agg_slot *slot, const struct slot_explain *e, struct series_shown *out)
{
    explain_group_stats(slot, e, out->stats);
    out->kept = true;
}

/* r, unstable with its drill-down, and shown into s->unstable: both are left empty */
static void
keep_unstable(struct series *s, struct slot_result *r, struct series_shown *shown)
{
    if (s->n_unstable == s->cap_unstable) {
        s->cap_unstable = s->cap_unstable ? 2 * s->cap_unstable : 16;
        s->unstable = xreallocarray(s->unstable, s->cap_unstable, sizeof(*s->unstable));
        s->shown = xreallocarray(s->shown, s->cap_unstable, sizeof(*s->shown));
    }
    s->shown[s->n_unstable] = *shown;
    memset(shown, 0, sizeof(*shown));
    s->unstable[s->n_unstable++] = *r;
    memset(r, 0, sizeof(*r));
}

static void
widen(struct series *s, int64_t start, int64_t end)
{
    if (s->from == s->to) {
        s->from = start;
        s->to = end;
        return;
    }
    if (start < s->from)
        s->from = start;
    if (end > s->to)
        s->to = end;
}

static void
remember(struct series *s, const struct slot_result *r)
{
    struct run_slot *x = NULL;

    for (size_t i = s->n_run; i > 0; i--) {
        if (s->run[i - 1].start == r->start) {
            x = &s->run[i - 1];
            break;
        }
    }
    if (x == NULL) {
        if (s->n_run == s->cap_run) {
            s->cap_run = s->cap_run ? s->cap_run * 2 : 64;
            s->run = xreallocarray(s->run, s->cap_run, sizeof(*s->run));
        }
        x = &s->run[s->n_run++];
    }
    x->start = r->start;
    x->end = r->end;
    x->packets = r->packets;
    for (size_t t = 0; t < r->n_th; t++)
        x->topn[t] = r->th[t].topn;
}

/*
 * 1, 2 and 4 for one slot: merge with the stored slot (unless it was loaded
 * from the store already), trim, save the slot and its result.  slot
 * stays the caller's: trimmed, but whole enough to be saved again should
 * the transaction fail.
 */
static enum ds_rc
save_slot(struct series *s, struct agg_slot *slot, bool merge, struct ds_error *err)
{
    struct agg_slot *stored = NULL;
    struct slot_result r;
    enum ds_rc rc;

    if (merge) {
        rc = store_slot_load(s->st, s->aid, s->layout, slot->start, &stored, err);
        if (rc != DS_OK)
            return rc;
        if (stored != NULL) {
            agg_slot_merge(stored, slot);
            slot = stored;
        }
    }
    /*
     * A complete slot keeps detail only for the groups that can be shown;
     * one the input ended inside keeps all, for the next run.
     */
    if (slot->complete)
        agg_slot_trim(slot, cfg_lowest_threshold(s->a), AGG_TRIM_MARGIN);
    rc = store_slot_save(s->st, s->aid, slot, err);
    if (rc == DS_OK) {
        series_slot_result(s->a, slot, &r);
        if (s->completeness != NULL)
            s->completeness(s->completeness_ctx, &r);
        rc = store_result_save(s->st, s->aid, s->layout, &r, true, err);
        if (rc == DS_OK)
            remember(s, &r);
        slot_result_fini(&r);
    }
    if (slot->packets > 0 || slot->flows > 0)
        widen(s, slot->start, slot->end);
    agg_slot_free(stored);
    return rc;
}

void
series_set_completeness(struct series *s, series_completeness_fn fn, void *ctx)
{
    s->completeness = fn;
    s->completeness_ctx = ctx;
}

void
series_set_on_judged(struct series *s, series_judged_fn fn, void *ctx)
{
    s->on_judged = fn;
    s->on_judged_ctx = ctx;
}

/* save_slot(), its error kept for series_commit(). */
static void
keep_slot(struct series *s, struct agg_slot *slot, bool merge)
{
    enum ds_rc rc;

    if (s->error != DS_OK)
        return;
    rc = save_slot(s, slot, merge, &s->err);
    if (rc != DS_OK)
        s->error = rc;
}

void
series_add_slot(struct series *s, struct agg_slot *slot)
{
    keep_slot(s, slot, true);
}

void
series_replace_slot(struct series *s, struct agg_slot *slot)
{
    keep_slot(s, slot, false);
}

/* Saves and forgets the reopened slot used least recently. */
static void
evict_late(struct series *s)
{
    GHashTableIter it;
    gpointer k, v;
    gint64 oldest_key = 0;
    uint64_t oldest = UINT64_MAX;
    struct late_slot *l;
    enum ds_rc rc;

    g_hash_table_iter_init(&it, s->late);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (((struct late_slot *)v)->used < oldest) {
            oldest = ((struct late_slot *)v)->used;
            oldest_key = *(gint64 *)k;
        }
    }
    l = g_hash_table_lookup(s->late, &oldest_key);
    rc = save_slot(s, l->slot, false, &s->err);
    g_hash_table_remove(s->late, &oldest_key);
    if (rc != DS_OK)
        s->error = rc;
}

void
series_add_late(struct series *s, int64_t start, int64_t end, const struct flow *f,
                uint64_t packets)
{
    gint64 key = start;
    struct late_slot *l;

    if (s->error != DS_OK)
        return;
    l = g_hash_table_lookup(s->late, &key);
    if (l == NULL) {
        struct agg_slot *slot = NULL;
        gint64 *k;
        enum ds_rc rc;

        if (g_hash_table_size(s->late) >= LATE_SLOTS_MAX) {
            evict_late(s);
            if (s->error != DS_OK)
                return;
        }
        rc = store_slot_load(s->st, s->aid, s->layout, start, &slot, &s->err);
        if (rc != DS_OK) {
            s->error = rc;
            return;
        }
        if (slot == NULL) {
            /* Closed before any of its flows came: every group starts now. */
            slot = agg_slot_new(s->layout, start, end);
            slot->complete = true;
        }
        slot->max_groups = s->max_groups;
        l = xcalloc(1, sizeof(*l));
        l->slot = slot;
        k = g_new(gint64, 1);
        *k = start;
        g_hash_table_insert(s->late, k, l);
    }
    l->used = ++s->late_clock;
    agg_slot_add(l->slot, f, packets);
    l->slot->late_flows++;
    l->slot->late_packets += packets;
}

void
series_cover(struct series *s, int64_t first_ms, int64_t last_ms)
{
    int64_t a0, a1, b0, b1;

    if (first_ms <= 0 || last_ms < first_ms)
        return;
    slotcal_find(&s->cal, first_ms / 1000, &a0, &a1);
    slotcal_find(&s->cal, last_ms / 1000, &b0, &b1);
    widen(s, a0, b1);
}

void
series_range(const struct series *s, int64_t *from, int64_t *to)
{
    *from = s->from;
    *to = s->to;
}

/* Sorts top groups: packets descending, then key bytes, for a stable order. */
static size_t sort_key_size;

static int
cmp_top(const void *x, const void *y)
{
    const struct top_group *a = x, *b = y;

    if (a->packets != b->packets)
        return a->packets > b->packets ? -1 : 1;
    return memcmp(a->key, b->key, sort_key_size);
}

void
series_slot_result(const struct cfg_analysis *a, const struct agg_slot *slot,
                   struct slot_result *r)
{
    const struct decimal *low = cfg_lowest_threshold(a);
    size_t n_top = 0;

    memset(r, 0, sizeof(*r));
    r->start = slot->start;
    r->end = slot->end;
    r->packets = slot->packets;
    r->flows = slot->flows;
    r->groups = slot->n_groups;
    r->late_flows = slot->late_flows;
    r->late_packets = slot->late_packets;
    r->folded_packets = slot->folded_packets;
    r->folded_flows = slot->folded_flows;
    r->complete = slot->complete;
    r->n_th = a->n_thresholds;
    for (size_t t = 0; t < a->n_thresholds; t++) {
        r->th[t].th = a->thresholds[t];
        r->th[t].topn = 0;
        r->th[t].r.status = STAB_NO_DATA;
    }
    if (slot->packets == 0)
        return;
    /* 2. TopN, one pass for every threshold */
    for (uint32_t i = 0; i < slot->n_groups; i++) {
        const struct agg_group *g = agg_slot_group(slot, i);

        for (size_t t = 0; t < a->n_thresholds; t++)
            if (topn_above(g->packets, slot->packets, &a->thresholds[t]))
                r->th[t].topn++;
        if (topn_above(g->packets, slot->packets, low))
            n_top++;
    }
    if (n_top == 0)
        return;
    r->top = xcalloc(n_top, sizeof(*r->top));
    for (uint32_t i = 0; i < slot->n_groups; i++) {
        const struct agg_group *g = agg_slot_group(slot, i);
        struct top_group *tg;

        if (!topn_above(g->packets, slot->packets, low))
            continue;
        tg = &r->top[r->n_top++];
        memcpy(tg->key, g->key, slot->layout->size);
        tg->packets = g->packets;
        tg->flows = g->flows;
        tg->share = 100.0 * (double)g->packets / (double)slot->packets;
        tg->partial = (g->flags & AGG_GROUP_PARTIAL) != 0;
        tg->has_detail = g->detail != NULL;
        if (g->detail != NULL) {
            tg->src_addrs = distinct_count(&g->detail->src);
            tg->src_estimated = distinct_is_estimate(&g->detail->src);
            tg->dst_addrs = distinct_count(&g->detail->dst);
            tg->dst_estimated = distinct_is_estimate(&g->detail->dst);
            tg->dst_ports = distinct_count(&g->detail->dport);
            tg->type = detail_dominant_type(g->detail);
            tg->first_ms = g->detail->first_ms;
            tg->last_ms = g->detail->last_ms;
        }
    }
    sort_key_size = slot->layout->size;
    qsort(r->top, r->n_top, sizeof(*r->top), cmp_top);
}

static int
cmp_run_start(const void *x, const void *y)
{
    const struct run_slot *a = x, *b = y;

    return a->start < b->start ? -1 : a->start > b->start;
}

static const struct run_slot *
run_find(const struct series *s, int64_t start)
{
    size_t lo = 0, hi = s->n_run;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (s->run[mid].start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n_run && s->run[lo].start == start ? &s->run[lo] : NULL;
}

/* TopN of a stored slot for threshold t: stored, or recomputed from its groups. */
static enum ds_rc
stored_topn(struct series *s, const struct store_slot_summary *sum, size_t t, uint32_t *topn,
            bool *recomputed, struct ds_error *err)
{
    const struct decimal *th = &s->a->thresholds[t];
    bool found;
    uint64_t *packets;
    size_t n;
    enum ds_rc rc;

    rc = store_topn_get(s->st, s->aid, sum->start, th->text, topn, &found, err);
    if (rc != DS_OK || found)
        return rc;
    /* Groups above th number at most 100/th: fetch that many, largest first. */
    rc = store_top_packets(s->st, s->aid, s->layout, sum->start,
                           (size_t)(100 * th->den / th->num) + 2, &packets, &n, err);
    if (rc != DS_OK)
        return rc;
    topn_compute(packets, n, sum->packets, th, 1, topn);
    free(packets);
    *recomputed = true;
    return DS_OK;
}

/*
 * The slots of the judgement's window, loaded for the drill-down only when
 * a slot is unstable, and each once: consecutive unstable slots share most
 * of their window.  start[i] is the i-th slot with data, oldest first, as
 * in the judgement's history; row[i] its group counts as stored once
 * loaded (have[i]).
 */
struct window_slots {
    int64_t *start;
    struct store_slot_row *row;
    bool *have;                 /* row[i] read from the store */
    bool *stored;               /* ... and found there */
    /*
     * row[i]'s groups above the lowest threshold (keys only), once walked:
     * a busy row joins the windows of several unstable slots in a row, and
     * walking its tens of thousands of groups for the same few is most of
     * judging them.  NULL: not yet.
     */
    struct agg_slot **set;
    size_t forgotten;           /* row[0..forgotten) are freed */
};

/* Frees the loaded rows before index upto: no later window reaches them. */
static void
window_forget(struct window_slots *w, size_t upto)
{
    for (; w->forgotten < upto; w->forgotten++) {
        store_slot_row_fini(&w->row[w->forgotten]);
        w->have[w->forgotten] = false;
        agg_slot_free(w->set[w->forgotten]);
        w->set[w->forgotten] = NULL;
    }
}

/*
 * A slot the input ended inside keeps the detail of every group, for the
 * next run to merge; the drill-down uses only what a complete slot keeps
 * (the groups above the lowest threshold), so that it does not depend on
 * where the input ended: "collect" and "analyze" of the same records
 * agree, and so does a later run that completes the slot.
 */
static void
explain_trim(const struct cfg_analysis *a, struct agg_slot *slot)
{
    if (!slot->complete)
        agg_slot_trim(slot, cfg_lowest_threshold(a), AGG_TRIM_MARGIN);
}

struct set_walk {
    struct agg_slot *keys;
    uint64_t total;
    const struct decimal *th;
};

static void
add_if_in_set(void *ctx, const uint8_t *key, uint64_t packets, uint64_t flows, uint64_t flags)
{
    struct set_walk *w = ctx;

    (void)flows;
    (void)flags;
    if (topn_above(packets, w->total, w->th))
        agg_slot_group_get(w->keys, key, false);
}

static enum ds_rc
damaged(const struct cfg_analysis *a, int64_t start, struct ds_error *err)
{
    return ds_error_set(err, DS_ERR_DB, "%s: stored slot at %lld: group counts are damaged",
                        a->name, (long long)start);
}

/* row's groups above the lowest threshold of a (keys only, in the row's order): *out owned */
static enum ds_rc
row_set_walk(const struct cfg_analysis *a, const struct key_layout *layout,
             const struct store_slot_row *row, struct agg_slot **out, struct ds_error *err)
{
    struct set_walk set = {agg_slot_new(layout, 0, 0), row->packets, cfg_lowest_threshold(a)};

    *out = NULL;
    if (store_walk_groups(row->counts, row->counts_len, layout, add_if_in_set, &set) != 0) {
        agg_slot_free(set.keys);
        return damaged(a, row->start, err);
    }
    *out = set.keys;
    return DS_OK;
}

/*
 * The drill-down of the slot of row against the slots of win (the window
 * as the judgement saw it), with x's exact lists if not NULL.  sets[0] is
 * row's set (row_set_walk()), sets[1 + i] win[i]'s.
 * explain_slot() compares only the groups of the lowest threshold's set of
 * the slot or of a window slot: so the stored counts are walked for those
 * keys and only their groups decoded, not the tens of thousands of groups
 * of a busy slot.  *slot receives the slot with those groups and their
 * details (owned), for explain_group_stats().
 */
static enum ds_rc
explain_rows(const struct cfg_analysis *a, const struct cfg_causes *causes,
             const struct key_layout *layout, const struct slot_result *r,
             const struct store_slot_row *row, const struct store_slot_row *const *win,
             size_t n_win, const struct agg_slot *const *sets, const struct explain_exact *x,
             struct slot_explain **out, struct agg_slot **slot, struct ds_error *err)
{
    struct agg_slot *keys = agg_slot_new(layout, 0, 0);
    struct agg_slot **ws = xcalloc(n_win + 1, sizeof(*ws));
    enum ds_rc rc = DS_OK;

    *out = NULL;
    *slot = NULL;
    /* the union of the sets, each row's keys in its order */
    for (size_t i = 0; i <= n_win; i++)
        for (uint32_t g = 0; g < sets[i]->n_groups; g++)
            agg_slot_group_get(keys, agg_slot_group(sets[i], g)->key, false);
    if (store_slot_row_decode(row, layout, keys, slot) != 0)
        rc = damaged(a, row->start, err);
    for (size_t i = 0; i < n_win && rc == DS_OK; i++)
        if (store_slot_row_decode(win[i], layout, keys, &ws[i]) != 0)
            rc = damaged(a, win[i]->start, err);
    if (rc == DS_OK) {
        explain_trim(a, *slot);
        *out = explain_slot_exact(a, causes, *slot, r, (const struct agg_slot *const *)ws,
                                  n_win, x);
    } else {
        agg_slot_free(*slot);
        *slot = NULL;
    }
    for (size_t i = 0; i < n_win; i++)
        agg_slot_free(ws[i]);
    free(ws);
    agg_slot_free(keys);
    return rc;
}

/* w->set[i], row i's groups above the lowest threshold, walked the first time only */
static enum ds_rc
row_set(struct series *s, struct window_slots *w, size_t i, struct ds_error *err)
{
    return w->set[i] != NULL ? DS_OK : row_set_walk(s->a, s->layout, &w->row[i], &w->set[i], err);
}

/*
 * 5. The drill-down of the unstable slot r, against the last T of the
 * n_window slots of w: computed, saved with the judgement, and handed to r
 * (r->explain, owned by r).  An unstable slot has data and joins the
 * window: its stored counts become w's row n_window, for the slots after
 * it.  *slot receives the slot with the groups compared (owned).
 */
static enum ds_rc
explain_unstable(struct series *s, struct slot_result *r, struct window_slots *w,
                 size_t n_window, struct agg_slot **slot, struct ds_error *err)
{
    size_t first = n_window > (size_t)s->a->window ? n_window - (size_t)s->a->window : 0;
    struct store_slot_row *row = &w->row[n_window];
    const struct store_slot_row **win;
    struct agg_slot **sets;
    size_t n_win = 0, len;
    struct slot_explain *e;
    uint8_t *blob;
    enum ds_rc rc;

    *slot = NULL;
    rc = store_slot_row(s->st, s->aid, r->start, true, row, &w->stored[n_window], err);
    w->have[n_window] = true;
    if (rc != DS_OK)
        return rc;
    if (!w->stored[n_window])
        return store_explain_save(s->st, s->aid, r->start, NULL, 0, err);
    win = xcalloc(n_window - first + 1, sizeof(*win));
    sets = xcalloc(n_window - first + 2, sizeof(*sets));
    rc = row_set(s, w, n_window, err);
    sets[0] = w->set[n_window];
    for (size_t i = first; i < n_window && rc == DS_OK; i++) {
        if (!w->have[i]) {
            rc = store_slot_row(s->st, s->aid, w->start[i], false, &w->row[i], &w->stored[i],
                                err);
            if (rc != DS_OK)
                break;
            w->have[i] = true;
        }
        if (!w->stored[i])
            continue;
        rc = row_set(s, w, i, err);
        win[n_win++] = &w->row[i];
        sets[n_win] = w->set[i];
    }
    if (rc == DS_OK)
        rc = explain_rows(s->a, s->causes, s->layout, r, row, win, n_win,
                          (const struct agg_slot *const *)sets, NULL, &e, slot, err);
    free(win);
    free(sets);
    /* the details were for this slot's groups; a later window needs its counts only */
    free(row->details);
    row->details = NULL;
    row->details_len = 0;
    if (rc != DS_OK)
        return rc;
    blob = explain_encode(e, &len);
    rc = store_explain_save(s->st, s->aid, r->start, blob, len, err);
    free(blob);
    explain_free(r->explain);
    r->explain = e;
    return rc;
}

enum ds_rc
series_explain_stored(const struct cfg_analysis *a, const struct cfg_causes *causes,
                      const struct key_layout *layout, struct store *st, int64_t aid,
                      const struct slot_result *r, const struct explain_exact *x,
                      struct slot_explain **out, struct ds_error *err)
{
    struct store_slot_summary *sums = NULL;
    struct store_slot_row row, *rows = NULL;
    const struct store_slot_row **win = NULL;
    struct agg_slot *slot = NULL, **sets = NULL;
    size_t n = 0, n_win = 0;
    bool found;
    enum ds_rc rc;

    *out = NULL;
    rc = store_slot_row(st, aid, r->start, true, &row, &found, err);
    if (rc != DS_OK || !found)
        return rc;
    /* the window as the judgement saw it: the last T earlier slots with data */
    rc = store_slot_last_with_data(st, aid, r->start, (size_t)a->window, &sums, &n, err);
    if (rc != DS_OK)
        goto out;
    rows = xcalloc(n + 1, sizeof(*rows));
    win = xcalloc(n + 1, sizeof(*win));
    sets = xcalloc(n + 2, sizeof(*sets));
    rc = row_set_walk(a, layout, &row, &sets[0], err);
    for (size_t i = 0; i < n && rc == DS_OK; i++) {
        rc = store_slot_row(st, aid, sums[i].start, false, &rows[n_win], &found, err);
        if (rc != DS_OK || !found)
            continue;
        win[n_win] = &rows[n_win];
        n_win++;
        rc = row_set_walk(a, layout, win[n_win - 1], &sets[n_win], err);
    }
    if (rc == DS_OK)
        rc = explain_rows(a, causes, layout, r, &row, win, n_win,
                          (const struct agg_slot *const *)sets, x, out, &slot, err);
    agg_slot_free(slot);
out:
    for (size_t i = 0; sets != NULL && i <= n_win; i++)
        agg_slot_free(sets[i]);
    free(sets);
    for (size_t i = 0; i < n_win; i++)
        store_slot_row_fini(&rows[i]);
    free(rows);
    free(win);
    free(sums);
    store_slot_row_fini(&row);
    return rc;
}

static int
cmp_input_first(const void *x, const void *y)
{
    const struct store_input *a = x, *b = y;

    return a->first_ms < b->first_ms ? -1 : a->first_ms > b->first_ms;
}

/* The stored inputs that can hold records of slot r; false (logged) if one cannot be read. */
static bool
reread_files(const struct cfg_analysis *a, struct store *st, int64_t aid,
             const struct slot_result *r, struct store_input **all, size_t *n_all,
             enum ds_rc *rc, struct ds_error *err)
{
    struct store_input *in = NULL;
    size_t n = 0;
    /* spread: a flow that started a slot earlier may reach in (the totals catch longer ones) */
    int64_t from = a->attribution == CFG_ATTR_SPREAD ? r->start - a->slot_s : r->start;
    bool ok = true;

    *rc = store_inputs_overlap(st, aid, from * 1000, r->end * 1000, &in, &n, err);
    if (*rc != DS_OK)
        return false;
    for (size_t i = 0; i < n && ok; i++) {
        struct stat sb;
        bool known = false;

        if (stat(in[i].name, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            log_info("%s: slot at %lld: %s cannot be read back; its lists are what memory "
                     "kept", a->name, (long long)r->start, in[i].name);
            ok = false;
            break;
        }
        for (size_t j = 0; j < *n_all && !known; j++)
            known = strcmp((*all)[j].digest, in[i].digest) == 0;
        if (known)
            continue;
        *all = xreallocarray(*all, *n_all + 1, sizeof(**all));
        (*all)[(*n_all)++] = in[i];
    }
    free(in);
    return ok;
}

/* One analysis' part of a read-back: its files and slots, and the jobs' arrays. */
struct reread_part {
    struct store_input *in;     /* the stored inputs of its slots, oldest first */
    size_t n_in;
    struct explain_file *files;
    const struct slot_explain **ex;
    struct explain_exact **out;
    size_t *idx;                /* ex[k] is v[idx[k]] */
    size_t n_ex;
};

static void
part_fini(struct reread_part *p)
{
    for (size_t k = 0; k < p->n_ex; k++)
        explain_exact_free(p->out[k]);
    free(p->out);
    free(p->ex);
    free(p->idx);
    free(p->files);
    free(p->in);
}

/* The slots of set that can be read back, and the files that hold them. */
static enum ds_rc
part_prepare(const struct series_reread_set *set, struct store *st,
             const struct explain_file *known, size_t n_known, struct reread_part *p,
             struct ds_error *err)
{
    enum ds_rc rc = DS_OK;

    memset(p, 0, sizeof(*p));
    p->ex = xcalloc(set->n + 1, sizeof(*p->ex));
    p->out = xcalloc(set->n + 1, sizeof(*p->out));
    p->idx = xcalloc(set->n + 1, sizeof(*p->idx));
    for (size_t i = 0; i < set->n; i++) {
        if (set->v[i].explain == NULL)
            continue;
        if (!reread_files(set->a, st, set->aid, &set->v[i], &p->in, &p->n_in, &rc, err)) {
            if (rc != DS_OK)
                return rc;
            continue;
        }
        p->idx[p->n_ex] = i;
        p->ex[p->n_ex++] = set->v[i].explain;
    }
    /* oldest first: the reader can be done with a slot before the next file */
    if (p->n_in > 1)
        qsort(p->in, p->n_in, sizeof(*p->in), cmp_input_first);
    p->files = xcalloc(p->n_in + 1, sizeof(*p->files));
    for (size_t i = 0; i < p->n_in; i++) {
        struct explain_file *f = &p->files[i];

        f->path = p->in[i].name;
        f->digest = p->in[i].digest;
        f->first_ms = p->in[i].first_ms;
        f->last_ms = p->in[i].last_ms;
        for (size_t k = 0; k < n_known; k++) {
            if (strcmp(known[k].digest, p->in[i].digest) == 0) {
                f->chunks = known[k].chunks;
                f->n_chunks = known[k].n_chunks;
                f->size = known[k].size;
                f->mtime_ns = known[k].mtime_ns;
            }
        }
    }
    return DS_OK;
}

enum ds_rc
series_apply_exact(const struct ds_cfg *cfg, const struct cfg_analysis *a,
                   const struct key_layout *layout, struct store *st, int64_t aid,
                   struct slot_result *r, const struct series_shown *shown,
                   const struct explain_exact *x, bool save, bool *applied,
                   struct ds_error *err)
{
    struct explain_group_stats loaded[EXPLAIN_GROUPS_MAX];
    const struct explain_group_stats *stats = loaded;
    struct slot_explain *e;
    enum ds_rc rc = DS_OK;

    *applied = false;
    if (x->missed || x->packets != r->packets) {
        log_info("%s: slot at %lld: %llu of its %llu packets are in the files read back; "
                 "its lists are what memory kept",
                 a->name, (long long)r->start, (unsigned long long)x->packets,
                 (unsigned long long)r->packets);
        return DS_OK;
    }
    if (shown != NULL && shown->kept) {
        stats = shown->stats;
    } else {
        /* the slot's details (not the window's: the changes stay as they were) */
        struct agg_slot *slot = NULL;

        rc = store_slot_load(st, aid, layout, r->start, &slot, err);
        if (rc != DS_OK || slot == NULL)
            return rc;
        if (slot->packets != r->packets) {
            /* revised since (late flows): its new judgement reads it back again */
            agg_slot_free(slot);
            return DS_OK;
        }
        explain_trim(a, slot);
        explain_group_stats(slot, r->explain, loaded);
        agg_slot_free(slot);
    }
    e = explain_exact_apply(r->explain, &cfg->causes, layout, stats, x);
    if (save) {
        size_t len;
        uint8_t *blob = explain_encode(e, &len);

        rc = store_explain_save(st, aid, r->start, blob, len, err);
        free(blob);
    }
    explain_free(r->explain);
    r->explain = e;
    *applied = rc == DS_OK;
    return rc;
}

/* The read-back lists into set's drill-downs (and the store if save). */
static enum ds_rc
part_apply(const struct ds_cfg *cfg, const struct series_reread_set *set, struct store *st,
           struct reread_part *p, bool save, struct ds_error *err)
{
    enum ds_rc rc = DS_OK;

    for (size_t k = 0; k < p->n_ex && rc == DS_OK; k++) {
        bool applied;

        rc = series_apply_exact(cfg, set->a, set->layout, st, set->aid, &set->v[p->idx[k]],
                                set->shown != NULL ? &set->shown[p->idx[k]] : NULL, p->out[k],
                                save, &applied, err);
    }
    return rc;
}

struct series_reread {
    const struct ds_cfg *cfg;
    const struct series_reread_set *sets;   /* borrowed */
    size_t n_sets;
    struct reread_part *parts;
    struct explain_reread_job *jobs;
    size_t n_jobs, n_slots;
    bool read;                  /* series_reread_run() read them all back */
};

void
series_reread_free(struct series_reread *rr)
{
    if (rr == NULL)
        return;
    for (size_t i = 0; i < rr->n_sets; i++)
        part_fini(&rr->parts[i]);
    free(rr->parts);
    free(rr->jobs);
    free(rr);
}

enum ds_rc
series_reread_prepare(const struct ds_cfg *cfg, struct store *st,
                      const struct series_reread_set *sets, size_t n_sets,
                      const struct explain_file *known, size_t n_known,
                      struct series_reread **out, struct ds_error *err)
{
    struct series_reread *rr = xcalloc(1, sizeof(*rr));
    enum ds_rc rc = DS_OK;

    rr->cfg = cfg;
    rr->sets = sets;
    rr->n_sets = n_sets;
    rr->parts = xcalloc(n_sets + 1, sizeof(*rr->parts));
    rr->jobs = xcalloc(n_sets + 1, sizeof(*rr->jobs));
    for (size_t i = 0; i < n_sets && rc == DS_OK; i++)
        rc = part_prepare(&sets[i], st, known, n_known, &rr->parts[i], err);
    for (size_t i = 0; i < n_sets && rc == DS_OK; i++) {
        if (rr->parts[i].n_ex == 0)
            continue;
        rr->jobs[rr->n_jobs++] = (struct explain_reread_job){
            .a = sets[i].a, .layout = sets[i].layout, .ex = rr->parts[i].ex,
            .n_ex = rr->parts[i].n_ex, .files = rr->parts[i].files, .n_files = rr->parts[i].n_in,
            .out = rr->parts[i].out};
        rr->n_slots += rr->parts[i].n_ex;
    }
    if (rc != DS_OK) {
        series_reread_free(rr);
        rr = NULL;
    }
    *out = rr;
    return rc;
}

void
series_reread_run(struct series_reread *rr, unsigned threads, const int *cancel)
{
    struct timespec t0, t1;
    struct ds_error why;

    if (rr->n_jobs == 0)
        return;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (explain_reread_jobs(rr->cfg, rr->jobs, rr->n_jobs, threads, cancel, &why) != DS_OK) {
        log_warnx("the unstable slots' lists are not read back: %s", why.msg);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    rr->read = true;
    log_debug("%zu unstable slots of %zu analyses read back in %.3f s", rr->n_slots,
              rr->n_jobs,
              (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

enum ds_rc
series_reread_apply(struct series_reread *rr, struct store *st, bool save, struct ds_error *err)
{
    enum ds_rc rc = DS_OK;

    for (size_t i = 0; i < rr->n_sets && rc == DS_OK && rr->read; i++)
        rc = part_apply(rr->cfg, &rr->sets[i], st, &rr->parts[i], save, err);
    return rc;
}

enum ds_rc
series_reread(const struct ds_cfg *cfg, const struct cfg_analysis *a,
              const struct key_layout *layout, struct store *st, int64_t aid,
              struct slot_result *v, size_t n, const struct explain_file *known,
              size_t n_known, bool save, struct ds_error *err)
{
    struct series_reread_set set = {a, layout, aid, NULL, v, n};
    struct series_reread *rr;
    enum ds_rc rc;

    rc = series_reread_prepare(cfg, st, &set, 1, known, n_known, &rr, err);
    if (rc != DS_OK)
        return rc;
    series_reread_run(rr, 1, NULL);
    rc = series_reread_apply(rr, st, save, err);
    series_reread_free(rr);
    return rc;
}

enum ds_rc
series_commit(struct series *s, struct ds_error *err)
{
    struct window_slots wins = {NULL, NULL, NULL, NULL, NULL, 0};
    struct store_slot_summary *hist = NULL, *later = NULL;
    size_t n_hist = 0, n_later = 0, n_window = 0;
    uint32_t *window[CFG_THRESHOLDS_MAX] = {0};
    struct stab_params params;
    GHashTableIter it;
    gpointer k, v;
    int64_t from;
    enum ds_rc rc = DS_OK;

    if (s->error != DS_OK) {
        *err = s->err;
        return s->error;
    }
    /* Slots reopened by late flows were loaded whole: save them as they are. */
    g_hash_table_iter_init(&it, s->late);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct late_slot *l = v;
        struct agg_slot *slot = l->slot;

        g_hash_table_iter_steal(&it);
        g_free(k);
        free(l);
        rc = save_slot(s, slot, false, err);
        agg_slot_free(slot);
        if (rc != DS_OK)
            return rc;
    }
    if (s->n_run == 0 && !(s->changed & STORE_CHANGED_JUDGEMENT))
        return DS_OK;
    /* no run slot (every input counted before, judgement changed): s->run is NULL */
    if (s->n_run > 0)
        qsort(s->run, s->n_run, sizeof(*s->run), cmp_run_start);

    /*
     * 3. the history before the run, and every stored slot from its start
     * on; when the judgement changed (window, k, thresholds), every stored
     * slot from the first.
     */
    if (s->changed & STORE_CHANGED_JUDGEMENT) {
        from = INT64_MIN;
    } else {
        from = s->run[0].start;
        rc = store_slot_last_with_data(s->st, s->aid, from, (size_t)s->a->window, &hist, &n_hist,
                                       err);
        if (rc != DS_OK)
            goto out;
    }
    rc = store_slot_summaries(s->st, s->aid, from, INT64_MAX, &later, &n_later, err);
    if (rc != DS_OK)
        goto out;
    params.window = s->a->window;
    params.k = s->a->k_sigma;
    params.sample = s->a->stddev == CFG_STDDEV_SAMPLE;
    params.min_stddev = s->a->min_stddev;
    for (size_t t = 0; t < s->a->n_thresholds; t++)
        window[t] = xcalloc(n_hist + n_later + 1, sizeof(uint32_t));
    wins.start = xcalloc(n_hist + n_later + 1, sizeof(*wins.start));
    wins.row = xcalloc(n_hist + n_later + 1, sizeof(*wins.row));
    wins.have = xcalloc(n_hist + n_later + 1, sizeof(*wins.have));
    wins.stored = xcalloc(n_hist + n_later + 1, sizeof(*wins.stored));
    wins.set = xcalloc(n_hist + n_later + 1, sizeof(*wins.set));
    for (size_t i = 0; i < n_hist; i++) {
        wins.start[n_window] = hist[i].start;
        for (size_t t = 0; t < s->a->n_thresholds; t++) {
            bool recomputed = false;

            rc = stored_topn(s, &hist[i], t, &window[t][n_window], &recomputed, err);
            if (rc != DS_OK)
                goto out;
        }
        n_window++;
    }

    for (size_t i = 0; i < n_later; i++) {
        const struct store_slot_summary *sum = &later[i];
        const struct run_slot *x = run_find(s, sum->start);
        struct slot_result r;
        struct series_shown shown = {.kept = false};
        struct agg_slot *compared = NULL;
        bool recomputed = false, with_top = false;

        memset(&r, 0, sizeof(r));
        r.start = sum->start;
        r.end = sum->end;
        r.packets = sum->packets;
        r.folded_packets = sum->folded_packets;
        r.folded_flows = sum->folded_flows;
        r.n_th = s->a->n_thresholds;
        for (size_t t = 0; t < s->a->n_thresholds; t++) {
            r.th[t].th = s->a->thresholds[t];
            if (x != NULL)
                r.th[t].topn = x->topn[t];
            else if (sum->packets > 0) {
                rc = stored_topn(s, sum, t, &r.th[t].topn, &recomputed, err);
                if (rc != DS_OK)
                    goto out;
            }
        }
        if (x == NULL && (recomputed || (s->changed & STORE_CHANGED_LOWEST))) {
            /* Thresholds changed since it was stored: redo its top groups too. */
            struct agg_slot *full = NULL;

            rc = store_slot_load(s->st, s->aid, s->layout, sum->start, &full, err);
            if (rc != DS_OK)
                goto out;
            if (full != NULL) {
                series_slot_result(s->a, full, &r);
                agg_slot_free(full);
                with_top = true;
            }
        }
        /* 3. judge against the window, then let the slot join it */
        for (size_t t = 0; t < s->a->n_thresholds; t++) {
            struct th_result *tr = &r.th[t];

            if (sum->incomplete) {
                /* too lossy to judge: out of the window, like a slot without data */
                tr->r.status = STAB_INCOMPLETE;
                tr->r.dir = STAB_DIR_NONE;
                tr->r.mean = tr->r.stddev = tr->r.lower = tr->r.upper = NAN;
                continue;
            }
            if (r.packets == 0) {
                tr->r.status = STAB_NO_DATA;
                tr->r.dir = STAB_DIR_NONE;
                tr->r.mean = tr->r.stddev = tr->r.lower = tr->r.upper = NAN;
                continue;
            }
            stability_judge(window[t], n_window, tr->topn, &params, &tr->r);
        }
        /* 4. save the judgement (top groups were saved with the slot) */
        rc = store_result_save(s->st, s->aid, s->layout, &r, with_top, err);
        /* 5. its drill-down, or none if it is not unstable (any more) */
        if (rc == DS_OK && slot_result_unstable(&r)) {
            rc = explain_unstable(s, &r, &wins, n_window, &compared, err);
            if (rc == DS_OK && s->keep_unstable && compared != NULL && r.explain != NULL)
                shown_of(compared, r.explain, &shown);
            agg_slot_free(compared);
        } else if (rc == DS_OK)
            rc = store_explain_save(s->st, s->aid, r.start, NULL, 0, err);
        if (r.packets > 0 && !sum->incomplete) {
            for (size_t t = 0; t < s->a->n_thresholds; t++)
                window[t][n_window] = r.th[t].topn;
            wins.start[n_window] = r.start;
            n_window++;
            if (n_window > (size_t)s->a->window)
                window_forget(&wins, n_window - (size_t)s->a->window);
        }
        if (rc == DS_OK && x != NULL && s->on_judged != NULL) {
            r.late_flows = sum->late_flows;
            r.late_packets = sum->late_packets;
            r.incomplete = sum->incomplete;
            s->on_judged(s->on_judged_ctx, s->a, &r);
        }
        if (rc == DS_OK && s->keep_unstable && r.explain != NULL && slot_result_unstable(&r))
            keep_unstable(s, &r, &shown);
        slot_result_fini(&r);
        if (rc != DS_OK)
            goto out;
    }
out:
    if (wins.row != NULL)
        window_forget(&wins, n_window);
    free(wins.row);
    free(wins.have);
    free(wins.stored);
    free(wins.set);
    free(wins.start);
    for (size_t t = 0; t < CFG_THRESHOLDS_MAX; t++)
        free(window[t]);
    free(hist);
    free(later);
    if (rc == DS_OK) {
        /* judged: the next commit (a collector's next closed slot) starts afresh */
        s->n_run = 0;
        s->changed = 0;
    }
    return rc;
}
