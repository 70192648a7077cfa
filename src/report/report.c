/*
 * Report dispatch and slot iteration with gap filling (see ds/report.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ds/report.h"
#include "ds/slotcal.h"
#include "report_int.h"

/*
 * The formats, in the order --help names them.  This table is the only
 * place that lists them: a format is found by name and called through its
 * struct report_format.
 */
static const struct report_format *const formats[] = {
    &report_format_text,
    &report_format_html,
    &report_format_json,
    &report_format_csv,
};

#define N_FORMATS (sizeof(formats) / sizeof(formats[0]))

static bool
format_has(const struct report_format *f, unsigned need)
{
    return (!(need & REPORT_FOR_WRITE) || f->write != NULL) &&
           (!(need & REPORT_FOR_DOC) || f->doc != NULL);
}

const struct report_format *
report_format_find(const char *name, unsigned need)
{
    for (size_t i = 0; i < N_FORMATS; i++)
        if (strcmp(formats[i]->name, name) == 0 && format_has(formats[i], need))
            return formats[i];
    return NULL;
}

const char *
report_format_names(unsigned need, char *buf, size_t len)
{
    size_t n = 0, k = 0, used = 0;

    for (size_t i = 0; i < N_FORMATS; i++)
        n += format_has(formats[i], need);
    buf[0] = '\0';
    for (size_t i = 0; i < N_FORMATS && used < len; i++) {
        if (!format_has(formats[i], need))
            continue;
        k++;
        used += (size_t)snprintf(buf + used, len - used, "%s%s",
                                 k == 1 ? "" : k == n ? " or " : ", ", formats[i]->name);
    }
    return buf;
}

enum ds_rc
report_write(const struct report_format *fmt, FILE *fp, const struct ds_cfg *cfg,
             const struct report_input *in, const struct report_analysis *an, size_t n_an,
             struct store *st, struct ds_error *err)
{
    return fmt->write(fp, cfg, in, an, n_an, st, err);
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
