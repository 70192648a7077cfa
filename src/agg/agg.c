/*
 * Aggregation of flows into slots and groups (see ds/agg.h).
 *
 * The hot path is agg_add(): one slot lookup (cached), one key extraction,
 * one hash and probe of the slot's group table, and the group's detail.
 * The group table is our own open-addressing table over a dense entry
 * array rather than GLib's GHashTable: it stores keys inline and probes
 * without pointer chasing (bench/hashtable.c measures the difference).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ds/agg.h"
#include "ds/hash.h"
#include "ds/log.h"
#include "ds/proto.h"
#include "ds/xmem.h"

#define SPREAD_SLOTS_MAX 10000
#define AGG_SERIES_MEMORY_DEFAULT (INT64_C(32) << 20)

struct agg {
    struct cfg_analysis cfg;            /* copy; name and strings borrowed */
    struct cfg_drilldown drilldown;     /* copy; the open slots point to it */
    struct decimal th_min;
    struct key_layout layout;
    struct slotcal cal;
    struct agg_opts opts;
    struct agg_slot **open;             /* owned, sorted by start */
    size_t n_open;
    struct agg_slot *last;              /* cache: slot of the previous flow */
    int64_t closed_upto;
    uint32_t defer_rest;                /* slots to open without deferred details */
    struct agg_defer_spare {
        struct agg_deferred *buf;       /* owned, mapped: a closed slot's, for the next */
        uint32_t cap;
    } spare;
};

/*
 * A flow of an open slot whose details are deferred: what detail_add()
 * reads of it, in 40 bytes (the buffer is memory per open slot), but the
 * addresses of an IPv6 flow, which the lists need whole (struct
 * agg_deferred_v6, beside).  A flow whose start, duration or packets do
 * not fit ends the deferral.
 */
struct agg_deferred {
    uint64_t src_value;
    uint64_t dst_value;
    uint64_t start_sport;       /* start_ms << 16 | src_port: a start within 2^47 ms */
    uint32_t duration_ms;       /* end_ms - start_ms */
    uint32_t packets;           /* its share in the slot */
    uint32_t gi;                /* its group */
    uint16_t dst_port;
    uint8_t proto;
    uint8_t type_bits;          /* the ICMP type, or the TCP flags: what ptype_of() reads */
};

#define DEFERRED_START_MAX (INT64_C(1) << 47)

/* The addresses of a deferred IPv6 flow whose group keeps lists. */
struct agg_deferred_v6 {
    struct addr src;
    struct addr dst;
};

/* Does deferred flow r have its addresses in the slot's deferred_v6 (its lists need them)? */
static inline bool
deferred_is_v6(const struct agg_slot *slot, const struct agg_deferred *r)
{
    return (topk_is_v6_key(r->src_value) || topk_is_v6_key(r->dst_value)) &&
           detail_keeps_lists(slot->drilldown);
}

/* The flow r keeps (v6: its addresses, if it has them), for detail_add(). */
static void
deferred_flow(const struct agg_deferred *r, const struct agg_deferred_v6 *v6, struct flow *f)
{
    memset(f, 0, sizeof(*f));
    f->src_value = r->src_value;
    f->dst_value = r->dst_value;
    /* an arithmetic shift, as gcc and clang do, gives the signed start back */
    f->start_ms = (int64_t)r->start_sport >> 16;
    f->end_ms = f->start_ms + r->duration_ms;
    f->src_port = (uint16_t)r->start_sport;
    f->dst_port = r->dst_port;
    f->proto = r->proto;
    f->tcp_flags = r->type_bits;
    f->icmp_type = r->type_bits;
    if (v6 != NULL) {
        f->src = v6->src;
        f->dst = v6->dst;
    }
}

/* ---- slots ---------------------------------------------------------------- */

/*
 * Keys of one word (proto and port, say) hash with one multiply-mix.  Their
 * size is a whole number of words (key_layout_init): a copy of a constant 8
 * bytes is a load, where one of size bytes was a call to memcpy per flow.
 */
static inline uint32_t
key_hash(const uint8_t *k, size_t size)
{
    uint64_t v = 0;

    if (size == 8)
        memcpy(&v, k, 8);
    else if (size > 8)
        return (uint32_t)hash_bytes(k, size);
    return (uint32_t)hash_mix64(v ^ size);
}

static size_t
entry_stride(const struct key_layout *l)
{
    return (sizeof(struct agg_group) + l->size + 7) & ~(size_t)7;
}

struct agg_slot *
agg_slot_new(const struct key_layout *layout, int64_t start, int64_t end)
{
    struct agg_slot *s = xcalloc(1, sizeof(*s));

    s->start = start;
    s->end = end;
    s->layout = layout;
    s->stride = entry_stride(layout);
    s->cap_groups = 64;
    s->entries = xcalloc(s->cap_groups, s->stride);
    s->index_mask = 127;
    s->index = xcalloc(s->index_mask + 1, sizeof(uint32_t));
    return s;
}

/*
 * The deferred flows' buffer: up to AGG_DEFER_BYTES from the heap, whose
 * pages the next slot's buffer takes again already faulted in (many hourly
 * slots close together when a backlog is replayed: each mapping its own
 * buffer cost page faults by the hundred and, unmapped, a TLB shootdown on
 * the other cores).  Beyond, mapped (megabytes for a daily slot): it grows
 * with mremap(), without a copy, and its pages go back to the system when
 * it is unmapped.  A closed slot leaves a mapped buffer to the next (a
 * page fault costs microseconds on a virtual machine), and agg_flush()
 * unmaps it.
 */
static void
deferred_release(struct agg_slot *slot)
{
    struct agg_defer_spare *spare = slot->spare;

    if (slot->deferred == NULL)
        return;
    if (!slot->deferred_mapped)
        free(slot->deferred);
    else if (spare != NULL && spare->buf == NULL) {
        spare->buf = slot->deferred;
        spare->cap = slot->cap_deferred;
    } else {
        munmap(slot->deferred, (size_t)slot->cap_deferred * sizeof(*slot->deferred));
    }
    slot->deferred = NULL;
    slot->cap_deferred = 0;
    slot->deferred_mapped = false;
}

static void
deferred_resize(struct agg_slot *slot, uint32_t cap)
{
    struct agg_defer_spare *spare = slot->spare;
    size_t want = (size_t)cap * sizeof(*slot->deferred);
    void *p;

    if (cap == 0) {
        deferred_release(slot);
        free(slot->deferred_v6);
        slot->deferred_v6 = NULL;
        slot->n_deferred_v6 = 0;
        slot->cap_deferred_v6 = 0;
        return;
    }
    if (slot->deferred_mapped) {
        p = mremap(slot->deferred, (size_t)slot->cap_deferred * sizeof(*slot->deferred), want,
                   MREMAP_MAYMOVE);
    } else if (want <= AGG_DEFER_BYTES) {
        slot->deferred = xreallocarray(slot->deferred, cap, sizeof(*slot->deferred));
        slot->cap_deferred = cap;
        return;
    } else {
        /*
         * From the heap to a mapping: the spare, if a slot left one (every
         * buffer is mapped at the same size, the first past AGG_DEFER_BYTES,
         * so a spare is large enough).
         */
        p = MAP_FAILED;
        if (spare != NULL && spare->buf != NULL) {
            if (spare->cap >= cap) {
                p = spare->buf;
                cap = spare->cap;
            } else {
                munmap(spare->buf, (size_t)spare->cap * sizeof(*slot->deferred));
            }
            spare->buf = NULL;
            spare->cap = 0;
        }
        if (p == MAP_FAILED)
            p = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) {
            memcpy(p, slot->deferred, (size_t)slot->n_deferred * sizeof(*slot->deferred));
            free(slot->deferred);
        }
    }
    if (p == MAP_FAILED)
        fatalx("agg: out of memory for %u deferred flows", cap);
    slot->deferred = p;
    slot->cap_deferred = cap;
    slot->deferred_mapped = true;
}

void
agg_slot_free(struct agg_slot *slot)
{
    if (slot == NULL)
        return;
    for (uint32_t i = 0; i < slot->n_groups; i++)
        detail_free(agg_slot_group(slot, i)->detail);
    deferred_resize(slot, 0);
    free(slot->entries);
    free(slot->index);
    free(slot);
}

static void
index_grow(struct agg_slot *s)
{
    uint32_t mask = s->index_mask * 2 + 1;
    uint32_t *index = xcalloc((size_t)mask + 1, sizeof(uint32_t));

    for (uint32_t i = 0; i < s->n_groups; i++) {
        uint32_t h = agg_slot_group(s, i)->hash & mask;

        while (index[h] != 0)
            h = (h + 1) & mask;
        index[h] = i + 1;
    }
    free(s->index);
    s->index = index;
    s->index_mask = mask;
}

/* Keys are whole 8-byte words (key_layout_init). */
static inline bool
key_equal(const uint8_t *a, const uint8_t *b, size_t size)
{
    for (size_t i = 0; i < size; i += 8) {
        uint64_t x, y;

        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return false;
    }
    return true;
}

static struct agg_group *
group_lookup(struct agg_slot *s, const uint8_t *k, uint32_t hash, bool create, bool want_detail)
{
    size_t ksize = s->layout->size;
    uint32_t i = hash & s->index_mask;
    struct agg_group *g;

    for (;;) {
        uint32_t e = s->index[i];

        if (e == 0)
            break;
        g = agg_slot_group(s, e - 1);
        if (g->hash == hash && key_equal(g->key, k, ksize))
            return g;
        i = (i + 1) & s->index_mask;
    }
    if (!create)
        return NULL;
    /* limits.groups: the caller folds the flow (agg_slot_fold) */
    if (s->max_groups != 0 && s->n_groups >= s->max_groups)
        return NULL;
    if (s->n_groups == s->cap_groups) {
        s->cap_groups *= 2;
        s->entries = xreallocarray(s->entries, s->cap_groups, s->stride);
    }
    g = agg_slot_group(s, s->n_groups);
    memset(g, 0, s->stride);
    g->hash = hash;
    memcpy(g->key, k, ksize);
    if (want_detail && !s->defer)
        g->detail = detail_new_in(s->drilldown, s->start, s->end);
    s->n_groups++;
    s->index[i] = s->n_groups;
    /* Keep the index at most half full. */
    if (s->n_groups * 2 > s->index_mask)
        index_grow(s);
    return g;
}

struct agg_group *
agg_slot_group_get(struct agg_slot *slot, const uint8_t *k, bool want_detail)
{
    return group_lookup(slot, k, key_hash(k, slot->layout->size), true, want_detail);
}

struct agg_group *
agg_slot_group_find(const struct agg_slot *slot, const uint8_t *k)
{
    return group_lookup((struct agg_slot *)(uintptr_t)slot, k,
                        key_hash(k, slot->layout->size), false, false);
}

void
agg_slot_fold(struct agg_slot *slot, uint64_t flows, uint64_t packets)
{
    slot->folded_packets += packets;
    slot->folded_flows += flows;
    slot->packets += packets;
    slot->flows += flows;
}

/*
 * Counts the deferred flows of the groups of slot that have a detail into
 * it, in the order they came (their details are those of flows counted as
 * they came), and keeps the others' flows, in order.
 */
static void
replay_deferred(struct agg_slot *slot)
{
    uint32_t kept = 0, v6 = 0, kept_v6 = 0;

    for (uint32_t i = 0; i < slot->n_deferred; i++) {
        const struct agg_deferred *r = &slot->deferred[i];
        struct agg_group *g = agg_slot_group(slot, r->gi);
        const struct agg_deferred_v6 *a = deferred_is_v6(slot, r) ? &slot->deferred_v6[v6++] : NULL;
        struct flow f;

        if (g->detail == NULL) {
            slot->deferred[kept++] = *r;
            if (a != NULL)
                slot->deferred_v6[kept_v6++] = *a;
            continue;
        }
        deferred_flow(r, a, &f);
        slot->series_bytes += detail_add(g->detail, &f, r->packets);
    }
    slot->n_deferred = kept;
    slot->n_deferred_v6 = kept_v6;
}

/*
 * Gives a detail to the groups of slot without one that keep it (all, or
 * with th those above th / margin), counted from their deferred flows.
 */
static uint32_t
promote(struct agg_slot *slot, const struct decimal *th, unsigned margin)
{
    uint32_t left = 0;

    for (uint32_t i = 0; i < slot->n_groups; i++) {
        struct agg_group *g = agg_slot_group(slot, i);

        if (g->detail == NULL && (th == NULL || agg_group_kept(slot, g, th, margin)))
            g->detail = detail_new_in(slot->drilldown, slot->start, slot->end);
        else if (g->detail == NULL)
            left++;
    }
    replay_deferred(slot);
    return left;
}

/* Ends the deferral: with th (the slot closes) the groups kept get their details, else all. */
static void
settle_deferred(struct agg_slot *slot, const struct decimal *th, unsigned margin)
{
    if (!slot->defer)
        return;
    promote(slot, th, margin);
    deferred_resize(slot, 0);
    slot->n_deferred = 0;
    slot->defer = false;
}

/*
 * Keeps f (packets, in group g, which has no detail yet) for slot's
 * deferred details.  At AGG_DEFER_BYTES the groups above the lowest
 * threshold get theirs.  If that leaves more than half, the buffer doubles
 * while it stays within what the details of the groups still without one
 * would take (a daily slot of a few heavy groups and tens of thousands of
 * light ones: the light ones' flows, 40 bytes each, rather than 544-byte
 * details that are freed at the close), else every group gets its detail.
 */
static void
defer_flow(struct agg_slot *slot, struct agg_group *g, const struct flow *f, uint64_t packets)
{
    struct agg_deferred *r;

    /* the start first: within 2^47, start + UINT32_MAX cannot overflow */
    if (f->start_ms >= DEFERRED_START_MAX || f->start_ms < -DEFERRED_START_MAX ||
        f->end_ms < f->start_ms || f->end_ms > f->start_ms + (int64_t)UINT32_MAX ||
        packets > UINT32_MAX) {
        /* not in 40 bytes: every group's detail from here on */
        settle_deferred(slot, NULL, 0);
        slot->series_bytes += detail_add(g->detail, f, packets);
        return;
    }
    if (slot->n_deferred == slot->cap_deferred) {
        uint32_t cap = slot->cap_deferred ? 2 * slot->cap_deferred : 1024;

        if ((size_t)cap * sizeof(*r) > AGG_DEFER_BYTES) {
            uint32_t left = promote(slot, slot->defer_th, AGG_TRIM_MARGIN);

            if (slot->n_deferred <= slot->cap_deferred / 2) {
                cap = slot->cap_deferred;       /* room enough again */
            } else if ((size_t)cap * sizeof(*r) +
                               (size_t)slot->n_deferred_v6 * sizeof(struct agg_deferred_v6) >
                           (size_t)left * sizeof(struct detail) ||
                       cap > UINT32_MAX / 2) {
                settle_deferred(slot, NULL, 0);
                slot->defer_gave_up = true;
            }
            if (g->detail != NULL) {
                slot->series_bytes += detail_add(g->detail, f, packets);
                return;
            }
            if (cap != slot->cap_deferred)
                deferred_resize(slot, cap);
        } else {
            deferred_resize(slot, cap);
        }
    }
    r = &slot->deferred[slot->n_deferred++];
    r->src_value = f->src_value;
    r->dst_value = f->dst_value;
    r->start_sport = (uint64_t)f->start_ms << 16 | f->src_port;
    r->duration_ms = (uint32_t)(f->end_ms - f->start_ms);
    r->packets = (uint32_t)packets;
    r->gi = agg_slot_group_index(slot, g);
    r->dst_port = f->dst_port;
    r->proto = f->proto;
    r->type_bits = proto_is_icmp(f->proto) ? f->icmp_type : f->tcp_flags;
    if (deferred_is_v6(slot, r)) {
        if (slot->n_deferred_v6 == slot->cap_deferred_v6) {
            slot->cap_deferred_v6 = slot->cap_deferred_v6 ? 2 * slot->cap_deferred_v6 : 256;
            slot->deferred_v6 = xreallocarray(slot->deferred_v6, slot->cap_deferred_v6,
                                              sizeof(*slot->deferred_v6));
        }
        slot->deferred_v6[slot->n_deferred_v6++] = (struct agg_deferred_v6){f->src, f->dst};
    }
}

/* Counts f's packets in group g of slot. */
static inline void
count_group(struct agg_slot *slot, struct agg_group *g, const struct flow *f, uint64_t packets)
{
    g->packets += packets;
    g->flows++;
#if defined(DS_CEILING) && DS_CEILING >= 1
    /*
     * bench/ceiling.sh only: how fast darkstab would go if a group's
     * details (its exact distinct counts, types, lists and minutes) cost
     * nothing.  Its output is wrong; no real build defines DS_CEILING.
     */
    slot->packets += packets;
    slot->flows++;
    return;
#endif
    if (slot->defer && g->detail == NULL) {
        defer_flow(slot, g, f, packets);
    } else if (g->detail != NULL) {
        /*
         * A group whose series was dropped and has grown past the dropped ones
         * keeps one again.  series_floor is 0 until a slot drops one: test it
         * first, so that the common flow does not touch another line of detail.
         */
        if (slot->series_floor != 0 && g->packets > slot->series_floor &&
            g->detail->series.dropped)
            detail_series_restart(g->detail);
        slot->series_bytes += detail_add(g->detail, f, packets);
    } else {
        g->flags |= AGG_GROUP_PARTIAL;
    }
    slot->packets += packets;
    slot->flows++;
}

void
agg_slot_add(struct agg_slot *slot, const struct flow *f, uint64_t packets)
{
    uint8_t k[KEY_BYTES_MAX];

    struct agg_group *g;

    key_extract(slot->layout, f, k);
    /*
     * A new group gets a detail even in a closed slot: none of its packets
     * went uncounted.  A group whose detail was trimmed becomes partial.
     */
    g = group_lookup(slot, k, key_hash(k, slot->layout->size), true, true);
    if (g != NULL)
        count_group(slot, g, f, packets);
    else
        agg_slot_fold(slot, 1, packets);
}

void
agg_slot_trim(struct agg_slot *slot, const struct decimal *th, unsigned margin)
{
    for (uint32_t i = 0; i < slot->n_groups; i++) {
        struct agg_group *g = agg_slot_group(slot, i);

        if (g->detail != NULL && !agg_group_kept(slot, g, th, margin)) {
            size_t b = detail_series_bytes(g->detail);

            slot->series_bytes -= b < slot->series_bytes ? b : slot->series_bytes;
            detail_free(g->detail);
            g->detail = NULL;
        }
    }
}

void
agg_slot_merge(struct agg_slot *dst, const struct agg_slot *src)
{
    for (uint32_t i = 0; i < src->n_groups; i++) {
        const struct agg_group *sg = agg_slot_group(src, i);
        struct agg_group *dg = group_lookup(dst, sg->key, sg->hash, true, false);
        bool dst_had;

        if (dg == NULL) {
            /* agg_slot_fold without the slot's totals: added below */
            dst->folded_packets += sg->packets;
            dst->folded_flows += sg->flows;
            continue;
        }
        dst_had = dg->packets > 0 || dg->flows > 0;

        dg->packets += sg->packets;
        dg->flows += sg->flows;
        dg->flags |= sg->flags;
        if (sg->detail != NULL && dg->detail != NULL) {
            detail_merge(dg->detail, sg->detail);
        } else if (sg->detail != NULL && !dst_had) {
            dg->detail = detail_new_in(dst->drilldown, dst->start, dst->end);
            detail_merge(dg->detail, sg->detail);
        } else if (sg->detail != NULL || dg->detail != NULL) {
            /* One side's packets have no detail behind them. */
            dg->flags |= AGG_GROUP_PARTIAL;
            if (dg->detail == NULL) {
                dg->detail = detail_new_in(dst->drilldown, dst->start, dst->end);
                detail_merge(dg->detail, sg->detail);
            }
        }
    }
    dst->packets += src->packets;
    dst->flows += src->flows;
    dst->folded_packets += src->folded_packets;
    dst->folded_flows += src->folded_flows;
    dst->late_flows += src->late_flows;
    dst->late_packets += src->late_packets;
    dst->complete = dst->complete || src->complete;
}

/* ---- the aggregator -------------------------------------------------------- */

struct agg *
agg_new(const struct cfg_analysis *a, const struct agg_opts *opts)
{
    struct agg *agg = xcalloc(1, sizeof(*agg));

    agg->cfg = *a;
    if (opts->drilldown != NULL) {
        agg->drilldown = *opts->drilldown;
    } else {
        agg->drilldown.sources = DETAIL_SOURCES_DEFAULT;
        agg->drilldown.ports = DETAIL_PORTS_DEFAULT;
        agg->drilldown.destinations = DETAIL_DSTS_DEFAULT;
        agg->drilldown.series_memory = AGG_SERIES_MEMORY_DEFAULT;
    }
    agg->th_min = *cfg_lowest_threshold(a);
    key_layout_init(&agg->layout, a->keys, a->n_keys);
    slotcal_init(&agg->cal, a->slot_s);
    agg->opts = *opts;
    agg->opts.drilldown = &agg->drilldown;
    agg->opts.defer_details = opts->defer_details;
    agg->closed_upto = INT64_MIN;
    return agg;
}

static void
agg_spare_free(struct agg *agg)
{
    if (agg->spare.buf != NULL)
        munmap(agg->spare.buf, (size_t)agg->spare.cap * sizeof(*agg->spare.buf));
    agg->spare.buf = NULL;
    agg->spare.cap = 0;
}

void
agg_free(struct agg *agg)
{
    if (agg == NULL)
        return;
    for (size_t i = 0; i < agg->n_open; i++)
        agg_slot_free(agg->open[i]);
    agg_spare_free(agg);
    free(agg->open);
    free(agg);
}

const struct key_layout *
agg_layout(const struct agg *agg)
{
    return &agg->layout;
}

int64_t
agg_closed_upto(const struct agg *agg)
{
    return agg->closed_upto;
}

size_t
agg_open_slots(const struct agg *agg)
{
    return agg->n_open;
}

/* Takes slot into the open slots at position i (they stay sorted by start). */
static void
insert_open(struct agg *agg, size_t i, struct agg_slot *slot)
{
    agg->open = xreallocarray(agg->open, agg->n_open + 1, sizeof(*agg->open));
    memmove(&agg->open[i + 1], &agg->open[i], (agg->n_open - i) * sizeof(*agg->open));
    agg->open[i] = slot;
    agg->n_open++;
}

/* The open slot [start, end), created in order if new. */
static struct agg_slot *
open_slot(struct agg *agg, int64_t start, int64_t end)
{
    size_t i;

    if (agg->last != NULL && agg->last->start == start)
        return agg->last;
    for (i = 0; i < agg->n_open; i++) {
        if (agg->open[i]->start == start) {
            agg->last = agg->open[i];
            return agg->last;
        }
        if (agg->open[i]->start > start)
            break;
    }
    insert_open(agg, i, agg_slot_new(&agg->layout, start, end));
    agg->open[i]->drilldown = &agg->drilldown;
    agg->open[i]->max_groups = agg->opts.max_groups;
    agg->open[i]->defer = agg->opts.defer_details && agg->defer_rest == 0;
    agg->open[i]->defer_th = &agg->th_min;
    agg->open[i]->spare = &agg->spare;
    if (agg->defer_rest > 0)
        agg->defer_rest--;
    agg->last = agg->open[i];
    return agg->last;
}

static void
count_in(struct agg *agg, int64_t start, int64_t end, const struct flow *f, uint64_t packets)
{
    if (end <= agg->closed_upto) {
        if (agg->opts.on_late)
            agg->opts.on_late(agg->opts.ctx, start, end, f, packets);
        return;
    }
    agg_slot_add(open_slot(agg, start, end), f, packets);
}

/*
 * Attribution "spread": the flow's packets are divided over the slots its
 * [start, end] interval overlaps, in proportion to the overlap, with the
 * remainders given to the slots with the largest fractions so that the
 * total is kept exactly.
 */
void
agg_split(struct slotcal *cal, const struct flow *f, agg_part_fn fn, void *ctx)
{
    int64_t dur = f->end_ms - f->start_ms;
    int64_t s, e, t;
    struct {
        int64_t start, end;
        uint64_t share;
        uint64_t rem;
    } part[64];
    size_t n = 0, total_parts = 0;
    uint64_t given = 0;

    slotcal_find(cal, f->start_ms / 1000, &s, &e);
    if (dur <= 0 || f->end_ms <= e * 1000) {
        fn(ctx, s, e, f->packets);
        return;
    }
    /*
     * Count the slots first, so a very long flow is bounded.  Only slots
     * that start before the flow ends overlap it.
     */
    for (t = s; t * 1000 < f->end_ms && total_parts < SPREAD_SLOTS_MAX; total_parts++)
        t = slotcal_next(cal, t);
    if (total_parts > 64) {
        /*
         * Too many to balance remainders in place: a slot gets the rounded
         * down share of the time up to its end, less what the slots before
         * it got, which is within one packet of its exact share.
         */
        int64_t cur = s;

        for (size_t i = 0; i < total_parts && given < f->packets; i++) {
            int64_t next = slotcal_next(cal, cur);
            int64_t b = f->end_ms < next * 1000 ? f->end_ms : next * 1000;
            uint64_t upto = (i + 1 == total_parts)
                                ? f->packets
                                : (uint64_t)((unsigned __int128)f->packets *
                                             (uint64_t)(b - f->start_ms) / (uint64_t)dur);

            if (upto > given)
                fn(ctx, cur, next, upto - given);
            given = upto;
            cur = next;
        }
        return;
    }
    for (t = s; n < total_parts; n++) {
        int64_t next = slotcal_next(cal, t);
        int64_t a = f->start_ms > t * 1000 ? f->start_ms : t * 1000;
        int64_t b = f->end_ms < next * 1000 ? f->end_ms : next * 1000;
        unsigned __int128 num = (unsigned __int128)f->packets * (uint64_t)(b > a ? b - a : 0);

        part[n].start = t;
        part[n].end = next;
        part[n].share = (uint64_t)(num / (uint64_t)dur);
        part[n].rem = (uint64_t)(num % (uint64_t)dur);
        given += part[n].share;
        t = next;
    }
    /* Largest remainder first; ties to the earlier slot. */
    while (given < f->packets) {
        size_t best = 0;

        for (size_t i = 1; i < n; i++)
            if (part[i].rem > part[best].rem)
                best = i;
        part[best].share++;
        part[best].rem = 0;
        given++;
    }
    for (size_t i = 0; i < n; i++)
        if (part[i].share > 0 || i == 0)
            fn(ctx, part[i].start, part[i].end, part[i].share);
}

struct spread_ctx {
    struct agg *agg;
    const struct flow *f;
};

static void
spread_part(void *ctx, int64_t start, int64_t end, uint64_t packets)
{
    struct spread_ctx *c = ctx;

    count_in(c->agg, start, end, c->f, packets);
}

static void
add_spread(struct agg *agg, const struct flow *f)
{
    struct spread_ctx c = {agg, f};

    agg_split(&agg->cal, f, spread_part, &c);
}

/* ---- the series budget (drilldown.series_memory) ---------------------------- */

size_t
agg_series_memory(const struct agg *agg)
{
    size_t total = 0;

    for (size_t i = 0; i < agg->n_open; i++)
        total += agg->open[i]->series_bytes;
    return total;
}

struct series_victim {
    uint64_t packets;
    struct agg_slot *slot;
    uint32_t gi;
};

static int
cmp_victim(const void *x, const void *y)
{
    const struct series_victim *a = x, *b = y;

    return a->packets < b->packets ? -1 : a->packets > b->packets;
}

/*
 * Over budget: the series of the groups with fewest packets go, down to
 * three quarters of the budget so that this runs rarely.  A dropped group
 * keeps one again (partial) once it has twice the packets of the largest
 * dropped: a late burst in a quiet group is what the drill-down is for.
 */
static void
series_evict(struct agg *agg, size_t total)
{
    size_t budget = (size_t)agg->drilldown.series_memory, target = budget - budget / 4;
    struct series_victim *v;
    size_t n = 0, cap = 0;
    uint64_t floor = 0;

    for (size_t i = 0; i < agg->n_open; i++)
        cap += agg->open[i]->n_groups;
    v = xcalloc(cap ? cap : 1, sizeof(*v));
    /* counted afresh: the running counts are the trigger, these the truth */
    total = 0;
    for (size_t i = 0; i < agg->n_open; i++) {
        struct agg_slot *s = agg->open[i];

        s->series_bytes = 0;
        for (uint32_t j = 0; j < s->n_groups; j++) {
            const struct agg_group *g = agg_slot_group(s, j);

            if (g->detail != NULL && detail_series_bytes(g->detail) > 0) {
                v[n++] = (struct series_victim){g->packets, s, j};
                s->series_bytes += detail_series_bytes(g->detail);
            }
        }
        total += s->series_bytes;
    }
    qsort(v, n, sizeof(*v), cmp_victim);
    for (size_t i = 0; i < n && total > target; i++) {
        size_t freed = detail_series_drop(agg_slot_group(v[i].slot, v[i].gi)->detail);

        v[i].slot->series_bytes -= freed;
        total -= freed;
        floor = v[i].packets;
    }
    free(v);
    for (size_t i = 0; i < agg->n_open; i++)
        if (agg->open[i]->series_floor < 2 * floor)
            agg->open[i]->series_floor = 2 * floor;
}

static inline void
series_check(struct agg *agg)
{
    size_t total = agg_series_memory(agg);

    if (total > (size_t)agg->drilldown.series_memory)
        series_evict(agg, total);
}

/* Does f start in the slot of the previous flow? */
static inline bool
in_last_slot(const struct agg *agg, const struct flow *f)
{
    return agg->last != NULL && f->start_ms >= agg->last->start * 1000 &&
           f->start_ms < agg->last->end * 1000;
}

void
agg_add(struct agg *agg, const struct flow *f)
{
    int64_t s, e;

    if (agg->cfg.attribution == CFG_ATTR_SPREAD) {
        add_spread(agg, f);
    } else if (in_last_slot(agg, f)) {
        agg_slot_add(agg->last, f, f->packets);
    } else {
        slotcal_find(&agg->cal, f->start_ms / 1000, &s, &e);
        count_in(agg, s, e, f, f->packets);
    }
    series_check(agg);
}

/*
 * The batch path of agg_add() for attribution "start", software pipelined
 * because the time goes to cache misses on random groups and counters:
 *   A.  (flow i + 15) find the slot, pack the key;
 *   H.  (flow i + 13) hash the key, prefetch the index bucket;
 *   A2. (flow i + 10) prefetch the entry the bucket points to;
 *   B.  (flow i + 7)  find or create the group, prefetch its detail;
 *   C.  (flow i + 4)  prefetch the counters' table slots for its addresses;
 *   D.  (flow i)      count it.
 * Groups are kept as entry numbers between stages: creating one may move
 * the entry array.  Results are those of agg_add() flow by flow.
 */
#define PIPE 16
#define PIPE_MASK (PIPE - 1)
/* How many flows behind stage A each later stage runs (DIST_D < PIPE). */
#define DIST_H 2
#define DIST_A2 5
#define DIST_B 8
#define DIST_C 11
#define DIST_D 15

#define GI_FOLDED UINT32_MAX    /* past limits.groups: counted in the slot's fold */

struct pipe_item {
    struct agg_slot *slot;      /* NULL: late, already handed to on_late */
    uint32_t hash;
    uint32_t gi;
    uint8_t key[KEY_BYTES_MAX];
};

static inline void
prefetch_counter(const struct distinct *d, uint64_t v)
{
    if (d->mode == DISTINCT_EXACT && d->cap > 0 && d->narrow)
        __builtin_prefetch((const uint32_t *)(const void *)d->tab +
                               distinct_slot((uint32_t)v, d->cap),
                           1);
    else if (d->mode == DISTINCT_EXACT && d->cap > 0)
        __builtin_prefetch(&d->tab[distinct_slot(v, d->cap)], 1);
    else if (d->mode == DISTINCT_HLL)
        __builtin_prefetch((const uint8_t *)(const void *)d->tab + (hash_mix64(v) >> 48), 1);
}

static void
stage_a(struct agg *agg, const struct flow *f, struct pipe_item *it)
{
    int64_t s, e;

    if (in_last_slot(agg, f)) {
        it->slot = agg->last;
    } else {
        slotcal_find(&agg->cal, f->start_ms / 1000, &s, &e);
        if (e <= agg->closed_upto) {
            if (agg->opts.on_late)
                agg->opts.on_late(agg->opts.ctx, s, e, f, f->packets);
            it->slot = NULL;
            return;
        }
        it->slot = open_slot(agg, s, e);
    }
    key_extract(&agg->layout, f, it->key);
}

/*
 * H: the key, read as words.  key_extract() has just written it a byte or
 * a field at a time, and read back at once each word would wait for those
 * stores to drain (no store forwards to a wider load): a few flows later
 * they are in the cache.
 */
static void
stage_h(const struct agg *agg, struct pipe_item *it)
{
    if (it->slot == NULL)
        return;
    it->hash = key_hash(it->key, agg->layout.size);
    __builtin_prefetch(&it->slot->index[it->hash & it->slot->index_mask]);
}

/* A2: the index bucket is in cache by now: prefetch the entry it points to. */
static void
stage_a2(const struct pipe_item *it)
{
    uint32_t e;

    if (it->slot == NULL)
        return;
    e = it->slot->index[it->hash & it->slot->index_mask];
    if (e != 0)
        __builtin_prefetch(it->slot->entries + (size_t)(e - 1) * it->slot->stride);
}

static void
stage_b(struct pipe_item *it)
{
    struct agg_group *g;

    if (it->slot == NULL)
        return;
    g = group_lookup(it->slot, it->key, it->hash, true, true);
    if (g == NULL) {
        it->gi = GI_FOLDED;
        return;
    }
    it->gi = agg_slot_group_index(it->slot, g);
    if (g->detail != NULL) {
        /*
         * the lines a logging group's flow touches: the three counters, the
         * types, the log and the series (the lists: stage C, if needed)
         */
        const uint8_t *d = (const uint8_t *)g->detail;

        for (size_t off = 0; off < offsetof(struct detail, src_top); off += 64)
            __builtin_prefetch(d + off, 1);
    }
}

static void
stage_c(const struct flow *f, const struct pipe_item *it)
{
    const struct agg_group *g;

    if (it->slot == NULL || it->gi == GI_FOLDED)
        return;
    g = agg_slot_group(it->slot, it->gi);
    if (g->detail == NULL)
        return;
    prefetch_counter(&g->detail->src, f->src_value);
    prefetch_counter(&g->detail->dst, f->dst_value);
    if (g->detail->logging) {
        if (g->detail->n_log < g->detail->cap_log)
            __builtin_prefetch(&g->detail->log[g->detail->n_log], 1);
        return;
    }
    if (!g->detail->has_lists)
        return;
    /* the lists' headers; their arrays are hot in the groups that get this far */
    for (size_t off = offsetof(struct detail, src_top); off < sizeof(struct detail); off += 64)
        __builtin_prefetch((const uint8_t *)g->detail + off, 1);
    if (g->detail->series.n > 0)
        __builtin_prefetch(&g->detail->series.e[g->detail->series.n - 1], 1);
}

static void
stage_d(const struct flow *f, const struct pipe_item *it)
{
    if (it->slot != NULL && it->gi == GI_FOLDED)
        agg_slot_fold(it->slot, 1, f->packets);
    else if (it->slot != NULL)
        count_group(it->slot, agg_slot_group(it->slot, it->gi), f, f->packets);
}

void
agg_add_batch(struct agg *agg, const struct flow *flows, size_t n)
{
    struct pipe_item ring[PIPE];

    if (agg->cfg.attribution == CFG_ATTR_SPREAD) {
        for (size_t i = 0; i < n; i++)
            add_spread(agg, &flows[i]);
        series_check(agg);
        return;
    }
    for (size_t i = 0; i < n + DIST_D; i++) {
        if (i < n)
            stage_a(agg, &flows[i], &ring[i & PIPE_MASK]);
        if (i >= DIST_H && i - DIST_H < n)
            stage_h(agg, &ring[(i - DIST_H) & PIPE_MASK]);
        if (i >= DIST_A2 && i - DIST_A2 < n)
            stage_a2(&ring[(i - DIST_A2) & PIPE_MASK]);
        if (i >= DIST_B && i - DIST_B < n)
            stage_b(&ring[(i - DIST_B) & PIPE_MASK]);
        if (i >= DIST_C && i - DIST_C < n)
            stage_c(&flows[i - DIST_C], &ring[(i - DIST_C) & PIPE_MASK]);
        if (i >= DIST_D)
            stage_d(&flows[i - DIST_D], &ring[(i - DIST_D) & PIPE_MASK]);
    }
    series_check(agg);
}

static void
close_slot(struct agg *agg, struct agg_slot *slot, bool complete)
{
    slot->complete = complete;
    /* the groups agg_slot_trim() keeps below get their details, the others none */
    settle_deferred(slot, complete ? &agg->th_min : NULL, AGG_TRIM_MARGIN);
    slot->spare = NULL;         /* the slot may outlive the aggregator */
    if (slot->defer_gave_up)
        agg->defer_rest = AGG_DEFER_REST;
    if (complete)
        agg_slot_trim(slot, &agg->th_min, AGG_TRIM_MARGIN);
    if (agg->last == slot)
        agg->last = NULL;
    if (agg->opts.on_close)
        agg->opts.on_close(agg->opts.ctx, slot);
    else
        agg_slot_free(slot);
}

void
agg_advance(struct agg *agg, int64_t watermark_s)
{
    size_t closed = 0;

    if (watermark_s <= agg->closed_upto)
        return;
    while (closed < agg->n_open && agg->open[closed]->end <= watermark_s)
        closed++;
    for (size_t i = 0; i < closed; i++)
        close_slot(agg, agg->open[i], true);
    /* no slot open yet: open is NULL, and memmove(NULL, ...) is undefined even for 0 bytes */
    if (closed > 0) {
        memmove(agg->open, agg->open + closed, (agg->n_open - closed) * sizeof(*agg->open));
        agg->n_open -= closed;
    }
    agg->closed_upto = watermark_s;
}

void
agg_flush(struct agg *agg)
{
    for (size_t i = 0; i < agg->n_open; i++)
        close_slot(agg, agg->open[i], false);
    agg->n_open = 0;
    agg->last = NULL;
    /* the end of the input: what comes after (the reread) needs the memory more */
    agg_spare_free(agg);
}

size_t
agg_memory(const struct agg *agg)
{
    size_t total = (size_t)agg->spare.cap * sizeof(struct agg_deferred);

    for (size_t i = 0; i < agg->n_open; i++) {
        const struct agg_slot *s = agg->open[i];

        total += (size_t)s->cap_groups * s->stride + ((size_t)s->index_mask + 1) * 4 +
                 (size_t)s->cap_deferred * sizeof(struct agg_deferred) +
                 (size_t)s->cap_deferred_v6 * sizeof(struct agg_deferred_v6);
        for (uint32_t j = 0; j < s->n_groups; j++) {
            const struct agg_group *g = agg_slot_group(s, j);

            if (g->detail)
                total += detail_memory(g->detail);
        }
    }
    return total;
}

/*
 * fn(ctx, slot) with every group's detail: the groups still without one
 * get one for the call, counted from the deferred flows (which are all
 * theirs), and lose it after.  The buffer is read, not consumed.
 */
static void
with_every_detail(struct agg_slot *slot, void (*fn)(void *ctx, const struct agg_slot *slot),
                  void *ctx)
{
    uint32_t *lent, n_lent = 0, v6 = 0;

    if (!slot->defer) {
        fn(ctx, slot);
        return;
    }
    lent = xcalloc(slot->n_groups ? slot->n_groups : 1, sizeof(*lent));
    for (uint32_t i = 0; i < slot->n_groups; i++) {
        struct agg_group *g = agg_slot_group(slot, i);

        if (g->detail == NULL) {
            g->detail = detail_new_in(slot->drilldown, slot->start, slot->end);
            lent[n_lent++] = i;
        }
    }
    for (uint32_t i = 0; i < slot->n_deferred; i++) {
        const struct agg_deferred *r = &slot->deferred[i];
        const struct agg_deferred_v6 *a = deferred_is_v6(slot, r) ? &slot->deferred_v6[v6++] : NULL;
        struct flow f;

        deferred_flow(r, a, &f);
        detail_add(agg_slot_group(slot, r->gi)->detail, &f, r->packets);
    }
    fn(ctx, slot);
    for (uint32_t i = 0; i < n_lent; i++) {
        struct agg_group *g = agg_slot_group(slot, lent[i]);

        detail_free(g->detail);
        g->detail = NULL;
    }
    free(lent);
}

void
agg_each_open(struct agg *agg, void (*fn)(void *ctx, const struct agg_slot *slot), void *ctx)
{
    for (size_t i = 0; i < agg->n_open; i++)
        with_every_detail(agg->open[i], fn, ctx);
}

void
agg_restore(struct agg *agg, struct agg_slot *slot, int64_t closed_upto)
{
    size_t i;

    if (closed_upto > agg->closed_upto)
        agg->closed_upto = closed_upto;
    if (slot == NULL)
        return;
    /* decoded against an equal layout: the slot must point to ours */
    slot->layout = &agg->layout;
    slot->drilldown = &agg->drilldown;
    slot->max_groups = agg->opts.max_groups;
    slot->series_bytes = 0;
    for (uint32_t j = 0; j < slot->n_groups; j++) {
        const struct agg_group *g = agg_slot_group(slot, j);

        if (g->detail != NULL)
            slot->series_bytes += detail_series_bytes(g->detail);
    }
    for (i = 0; i < agg->n_open; i++)
        if (agg->open[i]->start > slot->start)
            break;
    insert_open(agg, i, slot);
    agg->last = NULL;
}

int64_t
agg_open_end(const struct agg *agg)
{
    return agg->n_open > 0 ? agg->open[agg->n_open - 1]->end : INT64_MIN;
}
