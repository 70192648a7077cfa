/*
 * Helpers of the slot result model (see ds/result.h).
 */
#include <stdlib.h>

#include "ds/result.h"

void
slot_result_fini(struct slot_result *r)
{
    free(r->top);
    r->top = NULL;
    r->n_top = 0;
    free(r->completeness);
    r->completeness = NULL;
    /* one block (ds/explain.h), so this stage frees it without knowing it */
    free(r->explain);
    r->explain = NULL;
}

bool
slot_result_unstable(const struct slot_result *r)
{
    for (size_t i = 0; i < r->n_th; i++)
        if (r->th[i].r.status == STAB_UNSTABLE)
            return true;
    return false;
}

uint64_t
slot_result_folded_topn(const struct slot_result *r, const struct decimal *th)
{
    /* the fewest packets a group above th holds: n * 100 * den > S * num */
    unsigned __int128 least = (unsigned __int128)r->packets * (uint64_t)th->num /
                                  ((unsigned __int128)100u * (uint64_t)th->den) + 1;
    uint64_t most = (uint64_t)((unsigned __int128)r->folded_packets / least);

    /* and every group holds a flow at least */
    return most < r->folded_flows ? most : r->folded_flows;
}
