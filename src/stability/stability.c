/*
 * Stability of a slot (METHOD section 5).
 *
 * Method: for each threshold, mu and sigma are the mean and the population
 * standard deviation (sample with stddev: sample) of TopN over the previous
 * T slots that had data, slot t excluded.  With k = k_sigma:
 *     stable    iff  mu - k*sigma < TopN_t < mu + k*sigma
 *     unstable  otherwise: "decrease" if TopN_t <= mu - k*sigma,
 *               "increase" if TopN_t >= mu + k*sigma.
 * sigma = 0: stable iff TopN_t == mu, else unstable in the direction of
 * TopN_t against mu.  min_stddev raises sigma to at least its value.
 * Fewer than T earlier slots with data: warmup.
 *
 * Our implementation (exact), with x = TopN_t, s1 = sum of the T values,
 * s2 = sum of their squares, D = T*s2 - s1^2 (so sigma^2 = D/T^2, or
 * D/(T(T-1)) for the sample deviation), k = a/b, min_stddev = p/q:
 *   1. the variance is V = Vn/Vd: D/T^2 (or D/(T(T-1))), unless
 *      (p/q)^2 is larger, then p^2/q^2;
 *   2. if V = 0, compare T*x with s1;
 *   3. else x >= mu + k*sigma  iff  T*x - s1 >= 0 and
 *      (T*x - s1)^2 * b^2 * Vd >= a^2 * Vn * T^2, and symmetrically for
 *      the decrease;
 *   4. unstable slots stay in later windows (the caller keeps them).
 * All products fit in 128 bits for the configuration limits (window <= 1000,
 * at most 4 decimals in thresholds, 3 in k and min_stddev).
 */
#include <math.h>

#include "ds/stability.h"

typedef __int128 i128;

const char *
stab_status_name(enum stab_status s)
{
    switch (s) {
    case STAB_NO_DATA:
        return "no-data";
    case STAB_WARMUP:
        return "warmup";
    case STAB_STABLE:
        return "stable";
    case STAB_UNSTABLE:
        return "unstable";
    case STAB_INCOMPLETE:
        return "incomplete";
    }
    return "?";
}

const char *
stab_dir_name(enum stab_dir d)
{
    switch (d) {
    case STAB_DIR_INCREASE:
        return "increase";
    case STAB_DIR_DECREASE:
        return "decrease";
    default:
        return "";
    }
}

void
stability_judge(const uint32_t *history, size_t n_history, uint32_t topn,
                const struct stab_params *p, struct stab_result *r)
{
    i128 T = p->window, s1 = 0, s2 = 0, D, Vn, Vd, x = topn, dev;
    i128 a = p->k.num, b = p->k.den, pm = p->min_stddev.num, qm = p->min_stddev.den;
    const uint32_t *w;
    double sigma;

    r->dir = STAB_DIR_NONE;
    r->mean = r->stddev = r->lower = r->upper = NAN;
    if (n_history < (size_t)p->window) {
        r->status = STAB_WARMUP;
        return;
    }
    w = history + (n_history - (size_t)p->window);
    for (int64_t i = 0; i < p->window; i++) {
        s1 += w[i];
        s2 += (i128)w[i] * w[i];
    }
    D = T * s2 - s1 * s1;

    /* 1. the variance as a fraction */
    if (p->sample) {
        Vn = D;
        Vd = T * (T - 1);
    } else {
        Vn = D;
        Vd = T * T;
    }
    if (pm > 0 && Vn * qm * qm < pm * pm * Vd) {
        Vn = pm * pm;
        Vd = qm * qm;
    }
    r->mean = (double)s1 / (double)T;
    sigma = sqrt((double)Vn / (double)Vd);
    r->stddev = sigma;
    r->lower = r->mean - p->k.value * sigma;
    r->upper = r->mean + p->k.value * sigma;

    dev = T * x - s1;
    /* 2. sigma = 0 */
    if (Vn == 0) {
        if (dev == 0) {
            r->status = STAB_STABLE;
        } else {
            r->status = STAB_UNSTABLE;
            r->dir = dev > 0 ? STAB_DIR_INCREASE : STAB_DIR_DECREASE;
        }
        return;
    }
    /* 3. outside the band, boundaries included */
    if (dev * dev * b * b * Vd >= a * a * Vn * T * T) {
        r->status = STAB_UNSTABLE;
        r->dir = dev > 0 ? STAB_DIR_INCREASE : STAB_DIR_DECREASE;
        return;
    }
    r->status = STAB_STABLE;
}
