/*
 * TopN of a slot (METHOD section 4).
 *
 * Method: r(P_i) = 100 * n(P_i) / S; TopN(Th) is the number of groups with
 * r(P_i) > Th, strictly.
 *
 * Our implementation: Th is an exact decimal num/den, so the test is
 * n * 100 * den > num * S in 128-bit integers, and a share equal to Th
 * never counts.  One pass over the groups serves every threshold.
 */
#include "ds/stability.h"

void
topn_compute(const uint64_t *packets, size_t n_groups, uint64_t total,
             const struct decimal *th, size_t n_th, uint32_t *topn)
{
    for (size_t t = 0; t < n_th; t++)
        topn[t] = 0;
    if (total == 0)
        return;
    for (size_t i = 0; i < n_groups; i++)
        for (size_t t = 0; t < n_th; t++)
            if (topn_above(packets[i], total, &th[t]))
                topn[t]++;
}
