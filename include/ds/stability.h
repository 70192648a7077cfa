/*
 * TopN and the stability of a slot (METHOD sections 4 and 5).
 *
 * Everything here is exact: shares are compared as integers
 * (n * 100 * den > num * S for a threshold num/den), and the band test is
 * done on squared integers, so a TopN that lies exactly on mu - k*sigma is
 * unstable, as the method says, whatever floating point would round to.
 * mean, stddev, lower and upper are doubles for people to read only.
 */
#ifndef DS_STABILITY_H
#define DS_STABILITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds/parse.h"

/*
 * Is n/S strictly above th percent?  Inline: the store and the judge ask
 * it of every group of every slot, for every threshold.
 */
static inline bool
topn_above(uint64_t n, uint64_t total, const struct decimal *th)
{
    unsigned __int128 lhs = (unsigned __int128)n * 100u * (uint64_t)th->den;
    unsigned __int128 rhs = (unsigned __int128)total * (uint64_t)th->num;

    return lhs > rhs;
}

/*
 * TopN for each of n_th thresholds over the packet counts of a slot's
 * groups (any order); total is S, the slot's packets.
 */
void topn_compute(const uint64_t *packets, size_t n_groups, uint64_t total,
                  const struct decimal *th, size_t n_th, uint32_t *topn);

enum stab_status {
    STAB_NO_DATA,       /* no counted packet in the slot */
    STAB_WARMUP,        /* fewer than T earlier slots with data */
    STAB_STABLE,
    STAB_UNSTABLE,
    STAB_INCOMPLETE,    /* the collector lost too much of its data to judge it */
};

enum stab_dir {
    STAB_DIR_NONE,
    STAB_DIR_INCREASE,
    STAB_DIR_DECREASE,
};

struct stab_params {
    int64_t window;             /* T */
    struct decimal k;           /* k_sigma */
    bool sample;                /* divide by T-1 instead of T */
    struct decimal min_stddev;  /* sigma is at least this */
};

struct stab_result {
    enum stab_status status;
    enum stab_dir dir;          /* unstable slots only */
    double mean;                /* judged slots only (stable, unstable) */
    double stddev;              /* after min_stddev */
    double lower;
    double upper;
};

/*
 * Judges topn against history, the TopN of the previous slots with data,
 * oldest first.  Only the last p->window values are used; with fewer, the
 * slot is in warmup.
 */
void stability_judge(const uint32_t *history, size_t n_history, uint32_t topn,
                     const struct stab_params *p, struct stab_result *r);

const char *stab_status_name(enum stab_status s);     /* "stable", "no-data", ... */
const char *stab_dir_name(enum stab_dir d);           /* "increase", "decrease", "" */

#endif
