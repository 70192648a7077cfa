/*
 * What a group looked like inside its slot, beyond its packet count
 * (METHOD section 6): distinct sources, destination addresses and
 * destination ports, packets per packet type (for the dominant type), and
 * the first and last time it was seen.  Kept for every group while its slot
 * is open, and afterwards only for the groups that can be shown.
 *
 * A later capability adds the per-minute series here; nothing outside this
 * module depends on the layout.
 */
#ifndef DS_DETAIL_H
#define DS_DETAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds/distinct.h"
#include "ds/flow.h"

struct type_count {
    uint16_t type;      /* ptype_of() */
    uint64_t packets;
};

#define DETAIL_TYPES_INLINE 2

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
};

struct detail *detail_new(void);
void detail_free(struct detail *d);
/* Counts flow f, with packets (its share in this slot), into d. */
void detail_add(struct detail *d, const struct flow *f, uint64_t packets);
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

/*
 * The values with most packets, most first, at most max of them, into out.
 * *exact: the counts are true and nothing left out has more; otherwise each
 * count is over by at most *error packets (Space-Saving).  Returns how many.
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

#endif
