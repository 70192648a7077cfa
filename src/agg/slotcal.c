/*
 * Slot alignment in the configured time zone (see ds/slotcal.h, which
 * holds the method and our implementation).
 */
#include "ds/slotcal.h"
#include "ds/tz.h"

void
slotcal_init(struct slotcal *c, int64_t len_s)
{
    c->len_s = len_s;
    c->cache_start = 1;
    c->cache_end = 0;
}

void
slotcal_find_slow(struct slotcal *c, int64_t t, int64_t *start, int64_t *end)
{
    int64_t day, next;

    if (c->len_s == 7 * 86400) {
        /* 3. weeks from Monday midnight */
        day = tz_week_start(t);
        next = day;
        for (int i = 0; i < 7; i++)
            next = tz_next_day(next);
        *start = day;
        *end = next;
    } else {
        /* 1. the local day */
        day = tz_day_start(t);
        next = tz_next_day(day);
        if (c->len_s >= 86400) {
            *start = day;
            *end = next;
        } else {
            /* 2. elapsed time from midnight; the last slot ends at midnight */
            int64_t k = (t - day) / c->len_s;

            *start = day + k * c->len_s;
            *end = *start + c->len_s;
            if (*end > next)
                *end = next;
        }
    }
    c->cache_start = *start;
    c->cache_end = *end;
}

int64_t
slotcal_next(struct slotcal *c, int64_t start)
{
    int64_t s, e;

    slotcal_find(c, start, &s, &e);
    return e;
}
