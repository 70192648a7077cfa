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
