/*
 * What a group looked like inside its slot, beyond its packet count
 * (METHOD section 6): distinct sources, destination addresses and
 * destination ports, packets per packet type (for the dominant type), and
 * the first and last time it was seen.  Kept for every group while its slot
 * is open, and afterwards only for the groups that can be shown.
 *
 * For the drill-down (issue 7) it also keeps the group's top source
 * addresses, source ports and destination addresses by packets (ds/topk.h:
 * exact while few, Space-Saving beyond) and its packets per minute of the
 * slot.  Nothing outside the agg module depends on the layout.
 */
#ifndef DS_DETAIL_H
#define DS_DETAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds/cfg.h"
#include "ds/distinct.h"
#include "ds/flow.h"
#include "ds/topk.h"

struct type_count {
    uint16_t type;      /* ptype_of() */
    uint64_t packets;
};

#define DETAIL_TYPES_INLINE 2

/* drilldown.* defaults, for details made without a configuration */
#define DETAIL_SOURCES_DEFAULT 64
#define DETAIL_PORTS_DEFAULT 16
#define DETAIL_DSTS_DEFAULT 16
#define DETAIL_MINUTE_SHIFT 48  /* series entries: minute << 48 | packets */

/*
 * Packets per minute of the slot, sparse: the minutes with packets, in
 * order.  A flow counts in the minute of its start, clamped into the slot.
 */
struct detail_series {
    uint64_t *e;                /* owned; cap entries, minute << 48 | packets */
    int64_t start_s;            /* minute 0: the slot's start */
    uint32_t n;
    uint32_t cap;
    uint32_t n_min;             /* minutes in the slot; 0: no series is kept */
    uint8_t dropped;            /* not kept for now (drilldown.series_memory) */
    uint8_t partial;            /* some packets are not in it */
};

/*
 * A group's first flows, before its lists and series exist: most groups of
 * a darknet's slot see a few flows and are not shown, and appending 32
 * bytes costs far less than three list updates.  Past DETAIL_LOG_MAX flows
 * (or at the first IPv6 address, or when anything reads the detail) the
 * log is replayed, in order, into the lists and the series: the same
 * result as counting each flow as it came.
 */
#define DETAIL_LOG_MAX 64

struct detail_log {
    uint64_t src;               /* addr_value() */
    uint64_t dst;
    uint64_t packets;
    uint16_t sport;
    uint16_t minute;            /* of the series */
    uint8_t ports;              /* a port protocol: sport counts */
};

struct detail {
    struct distinct src;        /* source addresses (addr_value) */
    struct distinct dst;        /* destination addresses */
    struct distinct dport;      /* destination ports, port protocols only */
    int64_t first_ms;           /* earliest flow start */
    int64_t last_ms;            /* latest flow end */
    uint32_t n_types;
    uint32_t cap_types;         /* 0 while inline */
    struct type_count *types;   /* owned when cap_types > 0 */
    struct type_count inl[DETAIL_TYPES_INLINE];
    /* what a flow touches while the group is logging ends here: the lists come last */
    struct detail_log *log;     /* owned; cap_log entries while logging */
    uint16_t n_log;
    uint16_t cap_log;
    uint8_t logging;            /* flows go to log, not yet to the lists and series */
    uint8_t has_lists;          /* 0: read from a store that kept none (DT01) */
    struct detail_series series;
    struct topk src_top;        /* source addresses by packets */
    struct topk sport_top;      /* source ports, port protocols only */
    struct topk dst_top;        /* destination addresses */
};

/* The defaults of drilldown.*, and no series. */
struct detail *detail_new(void);
/*
 * For a group of the slot [start_s, end_s): list capacities from dd (NULL:
 * the defaults), and a series unless dd->series_memory is 0.
 */
struct detail *detail_new_in(const struct cfg_drilldown *dd, int64_t start_s, int64_t end_s);
/*
 * Do the details detail_new_in() makes for dd keep lists and a series?  Not
 * with drilldown.lists reread: the drill-down reads the slot back.
 */
bool detail_keeps_lists(const struct cfg_drilldown *dd);
void detail_free(struct detail *d);
size_t detail_series_add_slow(struct detail_series *s, uint32_t minute, uint64_t packets);

/* The minute of the series start_ms counts in: clamped into the slot. */
static inline uint32_t
detail_series_minute(const struct detail_series *s, int64_t start_ms)
{
    int64_t m = start_ms / 1000 - s->start_s;

    return m < 0 || s->n_min == 0 ? 0 : m / 60 >= s->n_min ? s->n_min - 1 : (uint32_t)(m / 60);
}

/* Adds packets at minute m; returns the bytes the series grew by. */
static inline size_t
detail_series_add(struct detail_series *s, uint32_t m, uint64_t packets)
{
    if (s->n_min == 0 || packets == 0)
        return 0;
    if (s->dropped) {
        s->partial = 1;
        return 0;
    }
    if (s->n > 0 && s->e[s->n - 1] >> DETAIL_MINUTE_SHIFT == (uint64_t)m &&
        (s->e[s->n - 1] & ((UINT64_C(1) << DETAIL_MINUTE_SHIFT) - 1)) + packets <
            (UINT64_C(1) << DETAIL_MINUTE_SHIFT)) {
        s->e[s->n - 1] += packets;
        return 0;
    }
    return detail_series_add_slow(s, m, packets);
}

/*
 * Counts flow f, with packets (its share in this slot), into d.  Returns
 * the bytes its series grew by (for drilldown.series_memory), mostly 0.
 */
size_t detail_add(struct detail *d, const struct flow *f, uint64_t packets);
/*
 * Counts aggregated elsewhere (the shards of a ClickHouse cluster, see
 * ds/cluster.h): calls per distinct value of a group's flows, with the
 * packets of those flows, in any order.  They give the detail that
 * detail_add() of each flow gives.  whole: packets is all of the value's,
 * given once; then top lists with more values than their capacity are
 * exact (topk_add_total()), where detail_add()'s Space-Saving bounds the
 * counts.  A value given in parts (not whole) is counted as detail_add()
 * counts it, part by part.
 */
/* A source address of the group's flows (its distinct count and top list). */
void detail_add_source(struct detail *d, const struct addr *a, uint64_t packets, bool whole);
void detail_add_destination(struct detail *d, const struct addr *a, uint64_t packets,
                            bool whole);
/* A source and a destination port of its flows of port protocols (proto_has_ports()). */
void detail_add_sport(struct detail *d, uint16_t port, uint64_t packets, bool whole);
void detail_add_dport(struct detail *d, uint16_t port);
/* Packets of flows of one protocol, TCP flags and ICMP type (packet types). */
void detail_add_type(struct detail *d, uint8_t proto, uint8_t tcp_flags, uint8_t icmp_type,
                     uint64_t packets);
/* Packets of the flows starting in minute m of the slot (clamped into it). */
size_t detail_add_minute(struct detail *d, uint64_t m, uint64_t packets);
/* The earliest start and latest end of flows. */
void detail_add_span(struct detail *d, int64_t first_ms, int64_t last_ms);
/*
 * Drops d's series (drilldown.series_memory): later packets are not kept
 * until detail_series_restart().  Returns the bytes freed.
 */
size_t detail_series_drop(struct detail *d);
/* Keeps a series again after detail_series_drop(), marked partial. */
void detail_series_restart(struct detail *d);
/* Bytes held by d's series. */
static inline size_t
detail_series_bytes(const struct detail *d)
{
    return (size_t)d->series.cap * sizeof(uint64_t);
}
void detail_merge(struct detail *dst, const struct detail *src);
/* The type with the most packets (ties: the lower type), 0 if none. */
uint16_t detail_dominant_type(const struct detail *d);
size_t detail_memory(const struct detail *d);

/* ---- drill-down (issue 7): top lists and packets per minute ---- */

/* One entry of a top list: an address or a port, and its packets. */
struct detail_item {
    struct addr addr;
    uint16_t port;
    uint64_t packets;
};

/* Did d keep top lists?  Not if it was read from a DT01 blob (an older store). */
bool detail_has_lists(const struct detail *d);

/*
 * The values with most packets, most first (ties: the lower value), at most
 * max of them, into out.  *exact: the counts are true and nothing left out
 * has more; otherwise each count is over by at most *error packets
 * (Space-Saving).  Returns how many; 0 with *exact false if d has no lists.
 * Source ports: of flows of port protocols only.
 */
size_t detail_top_sources(const struct detail *d, struct detail_item *out, size_t max,
                          bool *exact, uint64_t *error);
size_t detail_top_sports(const struct detail *d, struct detail_item *out, size_t max,
                         bool *exact, uint64_t *error);
size_t detail_top_dsts(const struct detail *d, struct detail_item *out, size_t max, bool *exact,
                       uint64_t *error);
/*
 * Packets per minute of [start_s, start_s + 60 * n) into out[0..n).
 * Returns false if the group kept no series; *exact false if some of its
 * packets were counted while its series was not kept.
 */
bool detail_minutes(const struct detail *d, int64_t start_s, uint32_t n, uint64_t *out,
                    bool *exact);

/* At least the size of the serialised form, cheaply. */
size_t detail_serialize_bound(const struct detail *d);
/* Serialised form for the store into buf (detail_serialize_bound() bytes); returns its size. */
size_t detail_serialize(const struct detail *d, uint8_t *buf);
/* Returns an owned detail, or NULL if buf is not a valid serialisation. */
struct detail *detail_deserialize(const uint8_t *buf, size_t len);
/*
 * As detail_deserialize(), its distinct counters read for their counts
 * alone (distinct_deserialize_count()): for a detail that is shown, never
 * added to, merged or written (a drill-down's groups as stored).
 */
struct detail *detail_deserialize_counts(const uint8_t *buf, size_t len);

#endif
