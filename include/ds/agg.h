/*
 * Aggregation: flows in, time slots of group counts out (METHOD sections
 * 2 and 3).  One struct agg per analysis.
 *
 * A flow's packets go to the group of its key in the slot of its start
 * time (attribution "start"), or are divided over the slots it spans in
 * proportion to time ("spread").  Every group keeps its packet and flow
 * counts and, while its slot is open, a struct detail.
 *
 * A group's detail also keeps its top sources, source ports and
 * destinations and its packets per minute (ds/detail.h).  The series of an
 * analysis's open slots share drilldown.series_memory bytes: past it, the
 * groups with fewest packets lose theirs (agg_series_memory()).
 *
 * Slots close on event time, never on the wall clock: agg_advance(w)
 * closes every open slot that ends at or before w, keeps the detail of the
 * groups that can be shown (a share above the lowest threshold) and
 * hands the slot to the on_close callback, which takes ownership.  A flow
 * that arrives later for a closed slot is not dropped: it goes to on_late
 * with the slot's bounds and its packets, for the owner of the closed slot
 * to add.  agg_flush() closes what is still open, untrimmed and marked
 * incomplete, at the end of the input.
 *
 * limits.groups bounds the groups of a slot (agg_opts.max_groups): the
 * flows of a group that would be created past it are folded, counted in the
 * slot's packets (so that every share stays exact) and in folded_packets
 * and folded_flows, but in no group.  TopN can then only be too low, by at
 * most what folded_packets could hold (ds/result.h says how much).
 *
 * Not thread safe: one thread adds, advances and flushes.
 */
#ifndef DS_AGG_H
#define DS_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds/cfg.h"
#include "ds/detail.h"
#include "ds/flow.h"
#include "ds/key.h"
#include "ds/slotcal.h"

#define AGG_GROUP_PARTIAL 0x1   /* packets counted where no detail was kept */

/*
 * A closed slot keeps the detail of the groups above the lowest threshold
 * divided by this: the groups a report shows.  A later run that adds to the
 * slot merges their distinct counts exactly; others it marks partial.
 */
#define AGG_TRIM_MARGIN 1

struct agg_group {
    uint64_t packets;
    uint64_t flows;
    struct detail *detail;      /* owned; NULL once trimmed */
    uint32_t hash;
    uint32_t flags;             /* AGG_GROUP_* */
    uint8_t key[];              /* key_layout.size bytes */
};

struct agg_slot {
    int64_t start;              /* Unix seconds, inclusive */
    int64_t end;                /* exclusive */
    uint64_t packets;           /* S: every counted packet of the slot */
    uint64_t flows;
    uint64_t late_flows;        /* arrived after the slot was closed */
    uint64_t late_packets;
    bool complete;              /* closed by the watermark, not by the end of input */
    uint64_t folded_packets;    /* counted in packets, but in no group: limits.groups */
    uint64_t folded_flows;
    uint32_t max_groups;        /* limits.groups; 0: no limit */
    const struct key_layout *layout;    /* borrowed; outlives the slot */
    /* groups: entries in insertion order, and an open-addressing index */
    uint8_t *entries;           /* owned */
    size_t stride;
    uint32_t n_groups;
    uint32_t cap_groups;
    uint32_t *index;            /* owned; entry number + 1, 0 empty */
    uint32_t index_mask;
    /* drill-down: list capacities (borrowed, NULL: the defaults) and series */
    const struct cfg_drilldown *drilldown;
    size_t series_bytes;        /* held by the groups' series */
    uint64_t series_floor;      /* a dropped series is kept again above this many packets */
    /*
     * Details deferred (agg_opts.defer_details): while defer is set the
     * groups have none, and each flow counted is kept here, to be counted
     * at the close into the details of the groups kept then (agg.c).
     */
    bool defer;
    struct agg_deferred *deferred;      /* owned; n_deferred of cap_deferred */
    uint32_t n_deferred, cap_deferred;
    bool deferred_mapped;               /* deferred is mapped, else from the heap */
    /* with lists: the addresses of the deferred IPv6 flows, in their order */
    struct agg_deferred_v6 *deferred_v6;    /* owned; n_deferred_v6 of cap_deferred_v6 */
    uint32_t n_deferred_v6, cap_deferred_v6;
    struct agg_defer_spare *spare;      /* borrowed: the aggregator's buffer between slots */
    const struct decimal *defer_th;     /* borrowed: the lowest threshold, to keep groups by */
    bool defer_gave_up;                 /* the buffer filled with groups below it */
};

struct agg_opts {
    /* Takes ownership of slot. */
    void (*on_close)(void *ctx, struct agg_slot *slot);
    /* A flow (or its share, packets) for the closed slot [start, end). */
    void (*on_late)(void *ctx, int64_t start, int64_t end, const struct flow *f,
                    uint64_t packets);
    void *ctx;
    /* Top list capacities and series memory (copied; NULL: the defaults). */
    const struct cfg_drilldown *drilldown;
    /* Groups per open slot (limits.groups); past it flows are folded.  0: none. */
    uint32_t max_groups;
    /*
     * Count the details of an open slot's flows when it closes, and only
     * for the groups it keeps then (those above the lowest threshold),
     * rather than for every group as each flow comes: the same details, in
     * the same order, for far less work where most groups end below it.
     * With lists and series (drilldown.lists memory) a deferred flow also
     * keeps its source port, and an IPv6 flow its two addresses beside it,
     * so that the lists and the series are those of counting each flow as
     * it came; drilldown.series_memory then holds the series of the groups
     * that have a detail, and with fewer series it drops fewer.  A slot keeps
     * its flows up to AGG_DEFER_BYTES; then the groups above the lowest
     * threshold now get their details (and their flows leave the buffer).
     * If that frees less than half, the buffer doubles as long as it stays
     * within what the details of the groups still without one would take
     * (sizeof(struct detail) each); past that every group gets its
     * detail, and the slot counts details as flows come again, as do the
     * next AGG_DEFER_REST slots opened.  The buffer comes from the heap up
     * to AGG_DEFER_BYTES and is mapped beyond; a mapped one is kept from a
     * closed slot for the next until agg_flush().  A checkpoint
     * sees an open slot with every detail (agg_each_open()).
     */
    bool defer_details;
};

/* The flows an open slot keeps for its deferred details, at most (bytes). */
#define AGG_DEFER_BYTES ((size_t)2 << 20)
#define AGG_DEFER_REST 8

struct agg;

/* Returns an owned aggregator; a and opts are copied as needed. */
struct agg *agg_new(const struct cfg_analysis *a, const struct agg_opts *opts);
void agg_free(struct agg *agg);
const struct key_layout *agg_layout(const struct agg *agg);

void agg_add(struct agg *agg, const struct flow *f);
/* agg_add() of flows[0..n) in order, faster: prefetches ahead. */
void agg_add_batch(struct agg *agg, const struct flow *flows, size_t n);
/* Closes every open slot ending at or before watermark_s (Unix seconds). */
void agg_advance(struct agg *agg, int64_t watermark_s);
/* Closes every open slot, untrimmed, complete = false. */
void agg_flush(struct agg *agg);
/* The watermark of the last agg_advance(), INT64_MIN before any. */
int64_t agg_closed_upto(const struct agg *agg);
size_t agg_open_slots(const struct agg *agg);
/* The end of the latest open slot, INT64_MIN if none. */
int64_t agg_open_end(const struct agg *agg);
/*
 * fn for every open slot, oldest first (borrowed: for checkpoints).  A slot
 * whose details are deferred is shown with every group's detail, counted
 * from its deferred flows for the call and freed after it: what counting
 * each flow as it came would show while drilldown.series_memory is not
 * reached (the lent details' series are not counted in it; past it the
 * two ways drop different series).  The slot goes on deferring.
 */
void agg_each_open(struct agg *agg, void (*fn)(void *ctx, const struct agg_slot *slot),
                   void *ctx);
/*
 * Restarting from a checkpoint: takes slot (may be NULL) as an open slot,
 * and raises the watermark to closed_upto.  The slot's layout must equal
 * the aggregator's (agg_layout()).
 */
void agg_restore(struct agg *agg, struct agg_slot *slot, int64_t closed_upto);
/* Heap bytes held by open slots, series and top lists included (approximate). */
size_t agg_memory(const struct agg *agg);
/* Bytes of the open slots' per-minute series (bounded by drilldown.series_memory). */
size_t agg_series_memory(const struct agg *agg);

/*
 * Attribution "spread": the parts of flow f's packets that go to each slot
 * its [start, end] overlaps, as agg_add() counts them (fn may get a part of
 * 0 packets for the first slot).  cal is the analysis' calendar; its cache
 * changes.  For those who count a flow again (src/explain/reread.c).
 */
typedef void (*agg_part_fn)(void *ctx, int64_t start, int64_t end, uint64_t packets);
void agg_split(struct slotcal *cal, const struct flow *f, agg_part_fn fn, void *ctx);

/* ---- slots, also used by the owners of closed slots ---- */

struct agg_slot *agg_slot_new(const struct key_layout *layout, int64_t start, int64_t end);
void agg_slot_free(struct agg_slot *slot);
/*
 * Counts flow f with the given packets in slot: its group's counts, and its
 * detail if the group still has one (else the group is marked partial).
 */
void agg_slot_add(struct agg_slot *slot, const struct flow *f, uint64_t packets);

static inline struct agg_group *
agg_slot_group(const struct agg_slot *slot, uint32_t i)
{
    return (struct agg_group *)(void *)(slot->entries + (size_t)i * slot->stride);
}

/* The number of group g of slot: agg_slot_group(slot, number) is g. */
static inline uint32_t
agg_slot_group_index(const struct agg_slot *slot, const struct agg_group *g)
{
    return (uint32_t)(((const uint8_t *)g - slot->entries) / slot->stride);
}

/* Counts flows and packets that no group can take (limits.groups) in slot's fold. */
void agg_slot_fold(struct agg_slot *slot, uint64_t flows, uint64_t packets);
/*
 * The group with packed key k, creating it (with a detail if want_detail);
 * NULL when the slot holds max_groups groups and k is not one of them.
 */
struct agg_group *agg_slot_group_get(struct agg_slot *slot, const uint8_t *k, bool want_detail);
/* The group with packed key k, or NULL. */
struct agg_group *agg_slot_group_find(const struct agg_slot *slot, const uint8_t *k);
/*
 * Does group g of slot keep its detail when the slot closes: is its share
 * above th/margin percent (exact integer comparison)?
 */
static inline bool
agg_group_kept(const struct agg_slot *slot, const struct agg_group *g, const struct decimal *th,
               unsigned margin)
{
    return (unsigned __int128)g->packets * 100u * (uint64_t)th->den * margin >
           (unsigned __int128)slot->packets * (uint64_t)th->num;
}
/* Frees the detail of every group not agg_group_kept(). */
void agg_slot_trim(struct agg_slot *slot, const struct decimal *th, unsigned margin);
/* Adds src's counts and details into dst (same layout and bounds). */
void agg_slot_merge(struct agg_slot *dst, const struct agg_slot *src);

#endif
