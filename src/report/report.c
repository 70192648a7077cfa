/*
 * Report dispatch and slot iteration with gap filling (see ds/report.h).
 */
#include <math.h>
#include <string.h>

#include "ds/report.h"
#include "ds/slotcal.h"
#include "report_int.h"

int
report_format_parse(const char *s, enum report_format *f)
{
    if (strcmp(s, "text") == 0)
        *f = REPORT_TEXT;
    else if (strcmp(s, "json") == 0)
        *f = REPORT_JSON;
    else if (strcmp(s, "csv") == 0)
        *f = REPORT_CSV;
    else
        return -1;
    return 0;
}

enum ds_rc
report_write(enum report_format fmt, FILE *fp, const struct ds_cfg *cfg,
             const struct report_input *in, const struct report_analysis *an, size_t n_an,
             struct store *st, struct ds_error *err)
{
    switch (fmt) {
    case REPORT_JSON:
        return report_json(fp, cfg, in, an, n_an, st, err);
    case REPORT_CSV:
        return report_csv(fp, cfg, in, an, n_an, st, err);
    case REPORT_TEXT:
        break;
    }
    return report_text(fp, cfg, in, an, n_an, st, err);
}

struct gap_ctx {
    const struct report_analysis *an;
    struct slotcal cal;
    int64_t next;           /* the next slot start to emit */
    store_result_fn fn;
    void *ctx;
};

static enum ds_rc
emit_no_data(struct gap_ctx *g, int64_t until)
{
    enum ds_rc rc;

    while (g->next < until) {
        struct slot_result r;
        int64_t s, e;

        slotcal_find(&g->cal, g->next, &s, &e);
        memset(&r, 0, sizeof(r));
        r.start = s;
        r.end = e;
        r.n_th = g->an->cfg->n_thresholds;
        for (size_t t = 0; t < r.n_th; t++) {
            r.th[t].th = g->an->cfg->thresholds[t];
            r.th[t].r.status = STAB_NO_DATA;
            r.th[t].r.mean = r.th[t].r.stddev = r.th[t].r.lower = r.th[t].r.upper = NAN;
        }
        rc = g->fn(g->ctx, &r);
        if (rc != DS_OK)
            return rc;
        g->next = e;
    }
    return DS_OK;
}

static enum ds_rc
gap_fn(void *ctx, const struct slot_result *r)
{
    struct gap_ctx *g = ctx;
    enum ds_rc rc = emit_no_data(g, r->start);

    if (rc != DS_OK)
        return rc;
    g->next = r->end;
    return g->fn(g->ctx, r);
}

enum ds_rc
report_each_slot(const struct report_analysis *an, struct store *st, store_result_fn fn,
                 void *ctx, struct ds_error *err)
{
    struct gap_ctx g;
    enum ds_rc rc;

    if (an->from >= an->to)
        return DS_OK;
    g.an = an;
    slotcal_init(&g.cal, an->cfg->slot_s);
    g.next = an->from;
    g.fn = fn;
    g.ctx = ctx;
    rc = store_results(st, an->store_id, an->layout, an->cfg, an->from, an->to, gap_fn,
                         &g, err);
    if (rc != DS_OK)
        return rc;
    return emit_no_data(&g, an->to);
}
