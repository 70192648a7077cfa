/*
 * Slot alignment (METHOD section 3): which time slot an instant belongs to.
 *
 * Method: slots are fixed, aligned intervals of the configured length in
 * the configured time zone; a daily slot runs from local midnight to local
 * midnight, so across a daylight-saving change it is 23 or 25 hours long.
 *
 * Our implementation:
 *   1. a day is [local midnight, next local midnight), from the tz database;
 *   2. a slot shorter than a day (it must divide 24 h) is counted from local
 *      midnight in elapsed time: slot k is [midnight + k*L, midnight +
 *      (k+1)*L), and the last slot of the day ends at the next midnight, so
 *      a 25-hour day has one more hourly slot and a 23-hour day one fewer;
 *   3. a weekly slot starts at local Monday midnight;
 *   4. the slot of the last lookup is cached: records arrive mostly in
 *      time order, and a lookup through the C library costs a microsecond.
 */
#ifndef DS_SLOTCAL_H
#define DS_SLOTCAL_H

#include <stdint.h>

struct slotcal {
    int64_t len_s;          /* configured length: divisor of 86400, 86400, or 604800 */
    int64_t cache_start;    /* the cached slot [start, end) */
    int64_t cache_end;
};

void slotcal_init(struct slotcal *c, int64_t len_s);

/* The slot containing t (Unix seconds): [*start, *end). */
static inline void
slotcal_find(struct slotcal *c, int64_t t, int64_t *start, int64_t *end);

void slotcal_find_slow(struct slotcal *c, int64_t t, int64_t *start, int64_t *end);

static inline void
slotcal_find(struct slotcal *c, int64_t t, int64_t *start, int64_t *end)
{
    if (t >= c->cache_start && t < c->cache_end) {
        *start = c->cache_start;
        *end = c->cache_end;
        return;
    }
    slotcal_find_slow(c, t, start, end);
}

/* The slot after the one starting at start. */
int64_t slotcal_next(struct slotcal *c, int64_t start);

#endif
