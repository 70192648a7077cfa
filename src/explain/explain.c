/*
 * Explain: what changed in a judged slot, against its window, and what the
 * groups shown looked like (issue 7, METHOD section 6).  The stage after
 * stability and before the store.
 *
 * Method
 *   The TopN set of a slot at threshold Th is the set of groups with a
 *   share above Th (METHOD section 4).  At the lowest threshold:
 *   1. the window's set: the groups in the set of most (more than half) of
 *      the window's slots;
 *   2. entered: in the slot's set, not the window's; left: the reverse;
 *   3. moved: of the groups of either set, those whose share moved most
 *      against their mean share over the window (0 in a slot without them);
 *   4. shown (at most EXPLAIN_GROUPS_MAX): entered, then moved, then the
 *      rest of the slot's set by share, each with its top sources, source
 *      ports and destinations, and packets per minute for the
 *      EXPLAIN_SERIES that changed most;
 *   5. the probable cause, from the groups shown that entered or grew
 *      (cause.c).
 *
 * Our implementation
 *   Membership uses the exact integer comparison of TopN
 *   (stability/topn.c), so a group is in a set here exactly when TopN
 *   counted it.  The candidate keys (the union of the sets) are few, at
 *   most 100/Th per slot, and are kept in a small open-addressing table.
 *   The result is one allocation, sized before it is filled
 *   (explain_block), so that the store, the reports and slot_result_fini()
 *   handle it as a plain block.
 */
#include <stdlib.h>
#include <string.h>

#include "ds/proto.h"
#include "ds/stability.h"
#include "ds/xmem.h"
#include "explain_int.h"

struct cand {
    const uint8_t *key;         /* borrowed from the slot holding it */
    const struct agg_group *g;  /* in the slot explained; NULL if absent */
    uint64_t packets;
    double share;
    double window_share;
    uint32_t in_window;         /* window slots whose set holds it */
    bool in_slot;               /* in the slot's set */
    bool entered, left, moved;
};

struct cand_tab {
    struct cand *v;
    size_t n, cap;
    uint32_t *index;            /* cand number + 1; 0 empty */
    size_t mask;
    size_t key_size;
};

static uint32_t
key_hash(const uint8_t *k, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 16777619u;
    return h;
}

static void
tab_rehash(struct cand_tab *t, size_t slots)
{
    free(t->index);
    t->index = xcalloc(slots, sizeof(*t->index));
    t->mask = slots - 1;
    for (size_t i = 0; i < t->n; i++) {
        size_t s = key_hash(t->v[i].key, t->key_size) & t->mask;

        while (t->index[s] != 0)
            s = (s + 1) & t->mask;
        t->index[s] = (uint32_t)i + 1;
    }
}

/* The candidate of key k, added if new. */
static struct cand *
tab_get(struct cand_tab *t, const uint8_t *k)
{
    size_t s;

    if (t->index == NULL || (t->n + 1) * 2 > t->mask + 1)
        tab_rehash(t, t->index == NULL ? 64 : (t->mask + 1) * 2);
    s = key_hash(k, t->key_size) & t->mask;
    while (t->index[s] != 0) {
        struct cand *c = &t->v[t->index[s] - 1];

        if (memcmp(c->key, k, t->key_size) == 0)
            return c;
        s = (s + 1) & t->mask;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
    }
    memset(&t->v[t->n], 0, sizeof(t->v[0]));
    t->v[t->n].key = k;
    t->index[s] = (uint32_t)(++t->n);
    return &t->v[t->n - 1];
}

static double
share_of(uint64_t packets, uint64_t total)
{
    return total ? 100.0 * (double)packets / (double)total : 0;
}

bool
explain_share_reaches(uint64_t packets, uint64_t total, const struct decimal *pct)
{
    unsigned __int128 lhs = (unsigned __int128)packets * 100u * (uint64_t)pct->den;
    unsigned __int128 rhs = (unsigned __int128)total * (uint64_t)pct->num;

    return lhs >= rhs;
}

static double
delta_of(const struct cand *c)
{
    double d = c->share - c->window_share;

    return d < 0 ? -d : d;
}

/*
 * The last tie-break of every order below: the packed key, so that the
 * drill-down does not depend on the order the records came in (files,
 * exporters, the nodes of a cluster).
 */
static int
by_key(const uint8_t *a, const uint8_t *b, const void *ks)
{
    return memcmp(a, b, *(const size_t *)ks);
}

static int
cmp_share_desc(const void *x, const void *y, void *ks)
{
    const struct cand *a = *(const struct cand *const *)x, *b = *(const struct cand *const *)y;

    if (a->share != b->share)
        return a->share > b->share ? -1 : 1;
    if (a->window_share != b->window_share)
        return a->window_share > b->window_share ? -1 : 1;
    return by_key(a->key, b->key, ks);
}

static int
cmp_window_desc(const void *x, const void *y, void *ks)
{
    const struct cand *a = *(const struct cand *const *)x, *b = *(const struct cand *const *)y;

    if (a->window_share != b->window_share)
        return a->window_share > b->window_share ? -1 : 1;
    if (a->share != b->share)
        return a->share > b->share ? -1 : 1;
    return by_key(a->key, b->key, ks);
}

static int
cmp_delta_desc(const void *x, const void *y, void *ks)
{
    const struct cand *a = *(const struct cand *const *)x, *b = *(const struct cand *const *)y;
    double da = delta_of(a), db = delta_of(b);

    if (da != db)
        return da > db ? -1 : 1;
    if (a->share != b->share)
        return a->share > b->share ? -1 : 1;
    return by_key(a->key, b->key, ks);
}

struct slot_explain *
explain_block(size_t n_entered, size_t n_left, size_t n_moved, size_t n_groups,
              const uint32_t *minutes)
{
    size_t head = (sizeof(struct slot_explain) + 15) & ~(size_t)15;
    size_t nch = n_entered + n_left + n_moved, total_min = 0, size;
    struct slot_explain *e;
    uint8_t *p;
    uint64_t *m;

    for (size_t g = 0; minutes != NULL && g < n_groups; g++)
        total_min += minutes[g];
    size = head + nch * sizeof(struct explain_change) + n_groups * sizeof(struct explain_group) +
           total_min * sizeof(uint64_t);
    e = xcalloc(1, size);
    p = (uint8_t *)e + head;
    e->n_entered = n_entered;
    e->n_left = n_left;
    e->n_moved = n_moved;
    e->n_groups = n_groups;
    e->entered = (struct explain_change *)(void *)p;
    e->left = e->entered + n_entered;
    e->moved = e->left + n_left;
    e->groups = (struct explain_group *)(void *)(e->moved + n_moved);
    m = (uint64_t *)(void *)(e->groups + n_groups);
    for (size_t g = 0; minutes != NULL && g < n_groups; g++) {
        if (minutes[g] == 0)
            continue;
        e->groups[g].n_minutes = minutes[g];
        e->groups[g].minutes = m;
        m += minutes[g];
    }
    return e;
}

void
explain_free(struct slot_explain *e)
{
    free(e);
}

static void
fill_change(struct explain_change *ch, const struct cand *c, size_t key_size)
{
    memcpy(ch->key, c->key, key_size);
    ch->packets = c->packets;
    ch->share = c->share;
    ch->window_share = c->window_share;
}

static void
fill_list(struct explain_list *l, const struct detail_item *it, size_t n, bool exact,
          uint64_t error, uint64_t distinct)
{
    l->n = (uint32_t)n;
    l->exact = exact;
    l->error = error;
    l->distinct = distinct;
    for (size_t i = 0; i < n; i++) {
        l->v[i].addr = it[i].addr;
        l->v[i].port = it[i].port;
        l->v[i].packets = it[i].packets;
    }
}

static void
fill_lists(struct explain_group *eg, const struct detail *d)
{
    struct detail_item it[EXPLAIN_SOURCES];
    bool exact;
    uint64_t err;
    size_t n;

    n = detail_top_sources(d, it, EXPLAIN_SOURCES, &exact, &err);
    fill_list(&eg->src, it, n, exact, err, distinct_count(&d->src));
    n = detail_top_sports(d, it, EXPLAIN_SPORTS, &exact, &err);
    fill_list(&eg->sport, it, n, exact, err, 0);
    n = detail_top_dsts(d, it, EXPLAIN_DSTS, &exact, &err);
    fill_list(&eg->dst, it, n, exact, err, distinct_count(&d->dst));
    /* drilldown.lists reread, or an older store: nothing to show but what was read back */
    eg->has_lists = detail_has_lists(d);
}

/* The destination port in key k, or -1 if the layout has none (or it is "none"). */
static int32_t
key_dst_port(const struct key_layout *l, const uint8_t *k)
{
    char buf[KEY_VALUE_STRLEN];
    bool num;

    for (size_t i = 0; i < l->n; i++) {
        if (l->keys[i].kind != KEY_DST_PORT || key_is_none(l, k, i))
            continue;
        key_value_format(l, k, i, buf, &num);
        return num ? (int32_t)strtol(buf, NULL, 10) : -1;
    }
    return -1;
}

/* Packets that look like replies: TCP SYN/ACK, RST (METHOD 6, backscatter). */
static uint64_t
reply_type_packets(const struct detail *d)
{
    const struct type_count *t = d->cap_types > 0 ? d->types : d->inl;
    uint64_t n = 0;

    for (uint32_t i = 0; i < d->n_types; i++) {
        uint8_t flags = (uint8_t)t[i].type;

        if (t[i].type >> 8 != PTYPE_TCP)
            continue;
        if ((flags & 0x12) == 0x12 || (flags & 0x04) != 0)
            n += t[i].packets;
    }
    return n;
}

/*
 * The shortest run of minutes of m[0..n) that holds at least pct of its
 * packets (two pointers, exact comparison): its length in minutes and
 * packets.
 */
static void
shortest_burst(const uint64_t *m, uint32_t n, const struct decimal *pct, uint32_t *len,
               uint64_t *packets)
{
    uint64_t total = 0, sum = 0;
    uint32_t lo = 0;

    for (uint32_t i = 0; i < n; i++)
        total += m[i];
    *len = n;
    *packets = total;
    if (total == 0)
        return;
    for (uint32_t hi = 0; hi < n; hi++) {
        sum += m[hi];
        while (lo < hi && explain_share_reaches(sum - m[lo], total, pct))
            sum -= m[lo++];
        if (explain_share_reaches(sum, total, pct) && hi - lo + 1 < *len) {
            *len = hi - lo + 1;
            *packets = sum;
        }
    }
}

/* The true count of item i of l is at least this. */
static uint64_t
count_at_least(const struct explain_list *l, uint32_t i)
{
    if (l->exact)
        return l->v[i].packets;
    return l->v[i].packets > l->error ? l->v[i].packets - l->error : 0;
}

/* What the cause rules need of detail d (NULL: none kept). */
static void
stats_of(const struct detail *d, struct explain_group_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (d == NULL)
        return;
    st->has_detail = true;
    st->sources = distinct_count(&d->src);
    st->dst_addrs = distinct_count(&d->dst);
    st->dst_ports = distinct_count(&d->dport);
    st->reply_packets = reply_type_packets(d);
    st->first_ms = d->first_ms;
    st->last_ms = d->last_ms;
}

void
explain_group_stats(const struct agg_slot *slot, const struct slot_explain *e,
                    struct explain_group_stats *stats)
{
    for (size_t i = 0; i < e->n_groups; i++) {
        const struct agg_group *g = agg_slot_group_find(slot, e->groups[i].key);

        stats_of(g != NULL ? g->detail : NULL, &stats[i]);
    }
}

/*
 * The facts of shown group eg for the cause rules: st what its detail
 * says, its minutes from read_back (n_min of them, may be NULL) or else
 * from d (may be NULL) kept in memory.
 */
static void
group_facts(struct cause_facts *f, const struct explain_group *eg,
            const struct explain_group_stats *st, const struct detail *d,
            const struct key_layout *layout, int64_t slot_start, const struct cfg_causes *c,
            uint64_t *scratch, uint32_t n_min, const uint64_t *read_back)
{
    bool exact;

    f->packets = eg->packets;
    f->share = eg->share;
    f->sources = st->sources;
    f->dst_addrs = st->dst_addrs;
    f->dst_ports = st->dst_ports;
    f->dst_port = key_dst_port(layout, eg->key);
    /*
     * A Space-Saving count may be over by its error: the rules take the
     * lower bound, so that a crowd never passes for one source.
     */
    if (eg->src.n > 0) {
        f->top_src = eg->src.v[0].addr;
        f->top_src_packets = count_at_least(&eg->src, 0);
    }
    f->reply_packets = st->reply_packets;
    for (uint32_t i = 0; i < eg->sport.n; i++)
        if (eg->sport.v[i].port == 53)
            f->reply_packets += count_at_least(&eg->sport, i);
    if (f->reply_packets > f->packets)
        f->reply_packets = f->packets;
    f->burst_s = -1;
    if (read_back != NULL)
        memcpy(scratch, read_back, (size_t)n_min * sizeof(*scratch));
    if (read_back != NULL ||
        (d != NULL && detail_minutes(d, slot_start, n_min, scratch, &exact))) {
        uint32_t len;

        shortest_burst(scratch, n_min, &c->ddos_burst_share, &len, &f->burst_packets);
        f->burst_s = (int64_t)len * 60;
    } else if (st->last_ms >= st->first_ms) {
        /* no minutes: the whole span of the group, every packet in it */
        f->burst_s = (st->last_ms - st->first_ms + 59999) / 60000 * 60;
        f->burst_packets = eg->packets;
    }
}

/* The group of x (may be NULL) with key k, or NULL. */
static const struct explain_exact_group *
exact_group(const struct explain_exact *x, const uint8_t *k, size_t key_size)
{
    for (size_t i = 0; x != NULL && i < x->n_groups; i++)
        if (memcmp(x->groups[i].key, k, key_size) == 0)
            return &x->groups[i];
    return NULL;
}

struct slot_explain *
explain_slot(const struct cfg_analysis *a, const struct cfg_causes *causes,
             const struct agg_slot *slot, const struct slot_result *r,
             const struct agg_slot *const *window, size_t n_window)
{
    return explain_slot_exact(a, causes, slot, r, window, n_window, NULL);
}

struct slot_explain *
explain_slot_exact(const struct cfg_analysis *a, const struct cfg_causes *causes,
                   const struct agg_slot *slot, const struct slot_result *r,
                   const struct agg_slot *const *window, size_t n_window,
                   const struct explain_exact *x)
{
    const struct decimal *th = cfg_lowest_threshold(a);
    struct cand_tab t = {NULL, 0, 0, NULL, 0, slot->layout->size};
    struct cand **ent, **lft, **mov, **top, **shown;
    size_t n_ent = 0, n_lft = 0, n_mov = 0, n_top = 0, n_shown = 0;
    uint32_t minutes[EXPLAIN_GROUPS_MAX] = {0};
    uint32_t n_min = (uint32_t)((slot->end - slot->start + 59) / 60);
    struct cause_facts facts[EXPLAIN_GROUPS_MAX];
    size_t n_facts = 0;
    uint64_t *scratch;
    struct slot_explain *e;

    /* r's TopN came from the same slot: the sets are recomputed from it, exactly */
    (void)r;
    /* 1. the sets: the slot's, and each window slot's, exactly as TopN counts */
    for (uint32_t i = 0; i < slot->n_groups; i++) {
        const struct agg_group *g = agg_slot_group(slot, i);

        if (topn_above(g->packets, slot->packets, th))
            tab_get(&t, g->key)->in_slot = true;
    }
    for (size_t w = 0; w < n_window; w++)
        for (uint32_t i = 0; i < window[w]->n_groups; i++) {
            const struct agg_group *g = agg_slot_group(window[w], i);

            if (topn_above(g->packets, window[w]->packets, th))
                tab_get(&t, g->key)->in_window++;
        }
    for (size_t i = 0; i < t.n; i++) {
        struct cand *c = &t.v[i];
        double sum = 0;

        c->g = agg_slot_group_find(slot, c->key);
        c->packets = c->g ? c->g->packets : 0;
        c->share = share_of(c->packets, slot->packets);
        for (size_t w = 0; w < n_window; w++) {
            const struct agg_group *wg = agg_slot_group_find(window[w], c->key);

            if (wg != NULL)
                sum += share_of(wg->packets, window[w]->packets);
        }
        c->window_share = n_window ? sum / (double)n_window : 0;
    }

    /* 2. entered and left; 3. moved (nothing to compare with without a window) */
    ent = xcalloc(t.n + 1, sizeof(*ent));
    lft = xcalloc(t.n + 1, sizeof(*lft));
    mov = xcalloc(t.n + 1, sizeof(*mov));
    top = xcalloc(t.n + 1, sizeof(*top));
    shown = xcalloc(EXPLAIN_GROUPS_MAX, sizeof(*shown));
    for (size_t i = 0; i < t.n; i++) {
        struct cand *c = &t.v[i];
        bool in_win = (uint64_t)c->in_window * 2 > n_window;

        if (c->in_slot)
            top[n_top++] = c;
        if (n_window == 0)
            continue;
        if (c->in_slot && !in_win)
            ent[n_ent++] = c;
        if (!c->in_slot && in_win)
            lft[n_lft++] = c;
        /* a mean of equal shares may differ from them in the last bits */
        if (delta_of(c) > 1e-9)
            mov[n_mov++] = c;
    }
    qsort_r(ent, n_ent, sizeof(*ent), cmp_share_desc, &t.key_size);
    qsort_r(lft, n_lft, sizeof(*lft), cmp_window_desc, &t.key_size);
    qsort_r(mov, n_mov, sizeof(*mov), cmp_delta_desc, &t.key_size);
    qsort_r(top, n_top, sizeof(*top), cmp_share_desc, &t.key_size);
    if (n_mov > EXPLAIN_MOVED_MAX)
        n_mov = EXPLAIN_MOVED_MAX;
    for (size_t i = 0; i < n_ent; i++)
        ent[i]->entered = true;
    for (size_t i = 0; i < n_lft; i++)
        lft[i]->left = true;
    for (size_t i = 0; i < n_mov; i++)
        mov[i]->moved = true;

    /* 4. shown: entered, moved, then the set; a candidate once */
    {
        struct cand **lists[3] = {ent, mov, top};
        size_t ns[3] = {n_ent, n_mov, n_top};
        bool *taken = xcalloc(t.n + 1, sizeof(*taken));

        for (int l = 0; l < 3; l++)
            for (size_t i = 0; i < ns[l] && n_shown < EXPLAIN_GROUPS_MAX; i++) {
                size_t idx = (size_t)(lists[l][i] - t.v);

                if (taken[idx])
                    continue;
                taken[idx] = true;
                shown[n_shown++] = lists[l][i];
            }
        free(taken);
    }
    /* the series: the changed groups with detail, most moved first */
    {
        struct cand *by[EXPLAIN_GROUPS_MAX];
        size_t nb = 0;

        for (size_t i = 0; i < n_shown; i++)
            if ((shown[i]->entered || shown[i]->left || shown[i]->moved) && shown[i]->g &&
                shown[i]->g->detail)
                by[nb++] = shown[i];
        qsort_r(by, nb, sizeof(*by), cmp_delta_desc, &t.key_size);
        for (size_t j = 0; j < nb && j < EXPLAIN_SERIES; j++)
            for (size_t i = 0; i < n_shown; i++)
                if (by[j] == shown[i])
                    minutes[i] = n_min;
    }

    e = explain_block(n_ent < EXPLAIN_CHANGES_MAX ? n_ent : EXPLAIN_CHANGES_MAX,
                      n_lft < EXPLAIN_CHANGES_MAX ? n_lft : EXPLAIN_CHANGES_MAX, n_mov, n_shown,
                      minutes);
    e->start = slot->start;
    e->end = slot->end;
    e->key_size = (uint32_t)t.key_size;
    e->window_slots = (uint32_t)n_window;
    e->more_entered = n_ent - e->n_entered;
    e->more_left = n_lft - e->n_left;
    for (size_t i = 0; i < e->n_entered; i++)
        fill_change(&e->entered[i], ent[i], t.key_size);
    for (size_t i = 0; i < e->n_left; i++)
        fill_change(&e->left[i], lft[i], t.key_size);
    for (size_t i = 0; i < e->n_moved; i++)
        fill_change(&e->moved[i], mov[i], t.key_size);

    scratch = xcalloc(n_min ? n_min : 1, sizeof(*scratch));
    for (size_t i = 0; i < n_shown; i++) {
        struct explain_group *eg = &e->groups[i];
        const struct cand *c = shown[i];
        const struct explain_exact_group *xg = exact_group(x, c->key, t.key_size);
        const uint64_t *xmin = xg != NULL && x->n_min == n_min ? xg->minutes : NULL;

        memcpy(eg->key, c->key, t.key_size);
        eg->packets = c->packets;
        eg->share = c->share;
        eg->window_share = c->window_share;
        eg->in_top = c->in_slot;
        eg->changed = c->entered || c->left || c->moved;
        if (xg != NULL && xg->lists) {
            eg->src = xg->src;
            eg->sport = xg->sport;
            eg->dst = xg->dst;
            eg->has_lists = true;
        } else if (c->g != NULL && c->g->detail != NULL) {
            fill_lists(eg, c->g->detail);
        }
        if (eg->minutes != NULL && xmin != NULL) {
            memcpy(eg->minutes, xmin, (size_t)n_min * sizeof(*xmin));
            eg->minutes_exact = true;
        } else if (eg->minutes != NULL &&
                   !detail_minutes(c->g->detail, slot->start, eg->n_minutes, eg->minutes,
                                   &eg->minutes_exact)) {
            eg->minutes = NULL;
            eg->n_minutes = 0;
        }
        /* 5. the candidates of a cause: grown (or, without a window, the set) */
        /* the facts need the group's detail (counters, types): a group read back without */
        if (eg->has_lists && c->g != NULL && c->g->detail != NULL &&
            (n_window == 0 ? eg->in_top : eg->changed && c->share > c->window_share)) {
            struct explain_group_stats st;

            memset(&facts[n_facts], 0, sizeof(facts[0]));
            facts[n_facts].group = (uint32_t)i;
            stats_of(c->g->detail, &st);
            group_facts(&facts[n_facts], eg, &st, c->g->detail, slot->layout, slot->start,
                        causes, scratch, n_min, xmin);
            n_facts++;
        }
    }
    cause_classify(causes, slot->end - slot->start, facts, n_facts, e);

    free(scratch);
    free(shown);
    free(top);
    free(mov);
    free(lft);
    free(ent);
    free(t.index);
    free(t.v);
    return e;
}

/* For the series of explain_exact_apply(): the order of explain_slot()'s cmp_delta_desc. */
static int
cmp_group_delta(const void *x, const void *y, void *ks)
{
    const struct explain_group *a = *(const struct explain_group *const *)x;
    const struct explain_group *b = *(const struct explain_group *const *)y;
    double da = a->share - a->window_share, db = b->share - b->window_share;

    da = da < 0 ? -da : da;
    db = db < 0 ? -db : db;
    if (da != db)
        return da > db ? -1 : 1;
    if (a->share != b->share)
        return a->share > b->share ? -1 : 1;
    return by_key(a->key, b->key, ks);
}

struct slot_explain *
explain_exact_apply(const struct slot_explain *e, const struct cfg_causes *causes,
                    const struct key_layout *layout, const struct explain_group_stats *stats,
                    const struct explain_exact *x)
{
    uint32_t n_min = (uint32_t)((e->end - e->start + 59) / 60);
    uint32_t minutes[EXPLAIN_GROUPS_MAX] = {0};
    const struct explain_group *by[EXPLAIN_GROUPS_MAX];
    struct cause_facts facts[EXPLAIN_GROUPS_MAX];
    size_t nb = 0, n_facts = 0, ks = e->key_size;
    struct slot_explain *o;
    uint64_t *scratch;

    /* the series: the changed groups with detail, most moved first, as explain_slot() */
    for (size_t i = 0; i < e->n_groups; i++)
        if (e->groups[i].changed && stats[i].has_detail)
            by[nb++] = &e->groups[i];
    qsort_r(by, nb, sizeof(*by), cmp_group_delta, &ks);
    for (size_t j = 0; j < nb && j < EXPLAIN_SERIES; j++)
        minutes[by[j] - e->groups] = n_min;
    o = explain_block(e->n_entered, e->n_left, e->n_moved, e->n_groups, minutes);
    o->start = e->start;
    o->end = e->end;
    o->key_size = e->key_size;
    o->window_slots = e->window_slots;
    o->more_entered = e->more_entered;
    o->more_left = e->more_left;
    memcpy(o->entered, e->entered, e->n_entered * sizeof(*e->entered));
    memcpy(o->left, e->left, e->n_left * sizeof(*e->left));
    memcpy(o->moved, e->moved, e->n_moved * sizeof(*e->moved));
    scratch = xcalloc(n_min ? n_min : 1, sizeof(*scratch));
    for (size_t i = 0; i < e->n_groups; i++) {
        struct explain_group *eg = &o->groups[i];
        const struct explain_exact_group *xg = exact_group(x, e->groups[i].key, ks);
        const uint64_t *xmin = xg != NULL && x->n_min == n_min ? xg->minutes : NULL;
        uint64_t *m = eg->minutes;
        uint32_t nm = eg->n_minutes;

        *eg = e->groups[i];
        eg->minutes = m;
        eg->n_minutes = nm;
        eg->minutes_exact = false;
        if (xg != NULL && xg->lists) {
            eg->src = xg->src;
            eg->sport = xg->sport;
            eg->dst = xg->dst;
            eg->has_lists = true;
        }
        if (m != NULL && xmin != NULL) {
            memcpy(m, xmin, (size_t)n_min * sizeof(*m));
            eg->minutes_exact = true;
        } else if (m != NULL) {
            /* not read back: the minutes of the drill-down it had, if any */
            if (e->groups[i].minutes != NULL && e->groups[i].n_minutes == nm) {
                memcpy(m, e->groups[i].minutes, (size_t)nm * sizeof(*m));
                eg->minutes_exact = e->groups[i].minutes_exact;
            } else {
                eg->minutes = NULL;
                eg->n_minutes = 0;
            }
        }
        /* the candidates of a cause, as explain_slot() picks them */
        if (eg->has_lists && stats[i].has_detail &&
            (o->window_slots == 0 ? eg->in_top
                                  : eg->changed && eg->share > eg->window_share)) {
            memset(&facts[n_facts], 0, sizeof(facts[0]));
            facts[n_facts].group = (uint32_t)i;
            group_facts(&facts[n_facts], eg, &stats[i], NULL, layout, e->start, causes,
                        scratch, n_min, xmin);
            n_facts++;
        }
    }
    cause_classify(causes, e->end - e->start, facts, n_facts, o);
    free(scratch);
    return o;
}
